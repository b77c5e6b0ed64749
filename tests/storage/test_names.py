"""Names storage makes without pathlib or urllib.parse (a capturing process loads neither,
issue 21), checked against what those modules make: directory names are on disk already."""

from __future__ import annotations

import os
import pathlib
from urllib.parse import quote

from hypothesis import example, given, settings
from hypothesis import strategies as st

from snapy_capture.storage import CaptureStorage, FileOperations, function_dirname
from snapy_capture.storage._mainrefs import _parent_and_name

#: Any code point, surrogates included (``st.text()`` leaves them out).
ANY_TEXT = st.text(st.characters(codec=None, exclude_categories=()), max_size=40)


def _quoted(module: str, qualname: str) -> str | type[BaseException]:
    """What function_dirname did with urllib.parse (its short names), or the error raised."""
    try:
        name = quote(f"{module}:{qualname}", safe="._-").replace("~", "%7E")
    except UnicodeEncodeError:
        return UnicodeEncodeError
    if name.startswith("."):
        name = "%2E" + name[1:]
    return name


@settings(max_examples=3000, deadline=None)
@given(ANY_TEXT.filter(lambda m: ":" not in m), ANY_TEXT)
@example("app", "Svc.pay~1 é/..")
@example("", "\udc80")
@example(".hidden", "\x00\x7f\x80\xff\U0010ffff")
def test_directory_names_are_quoted_as_urllib_quotes_them(module: str, qualname: str) -> None:
    """Every function's directory name is the one ``urllib.parse.quote`` made: the same
    text for any name, and the same error (a lone surrogate cannot be encoded)."""
    expected = _quoted(module, qualname)
    if expected is UnicodeEncodeError:
        try:
            function_dirname(module, qualname)
        except UnicodeEncodeError:
            return
        raise AssertionError("no UnicodeEncodeError")
    name = function_dirname(module, qualname)
    assert isinstance(expected, str)
    if len(expected) <= 150:
        assert name == expected
    else:  # shortened: its first 120 characters are still the quoted name's
        assert name[:120] == expected[:120]


@settings(max_examples=3000)
@given(st.text(st.sampled_from("/.ab_py1é "), max_size=14))
@example("a.py/.")
@example("//a.py")
@example("x/./a.py")
def test_a_scripts_parent_and_name_are_pathlibs(file: str) -> None:
    """The script's directory and name, from which ``__main__``'s importable name is
    guessed, are pathlib's for any ``__main__.__file__`` (its empty and ``.`` parts
    ignored): the same name, and the same directory to compare with ``sys.path[0]``."""
    parent, name = _parent_and_name(file)
    script = pathlib.PurePath(file)
    assert name == script.name
    if name:
        assert pathlib.PurePath(parent) == script.parent


class _Recording(FileOperations):
    def __init__(self) -> None:
        super().__init__()
        self.made: list[object] = []

    def make_dirs(self, path: pathlib.Path) -> None:
        self.made.append(path)
        super().make_dirs(path)


def test_a_subclass_make_dirs_is_given_a_path(tmp_path: pathlib.Path) -> None:
    """``FileOperations.make_dirs`` of a subclass is given the function directory as a
    ``Path``, as documented (the default one works on the string), and the directory is
    made private."""
    files = _Recording()
    storage = CaptureStorage(tmp_path / "caps", files=files)
    stored = storage.save({"module": "app", "qualname": "pay", "args": [], "kwargs": {}})
    directory = tmp_path / "caps" / function_dirname("app", "pay")
    assert files.made == [directory]
    assert type(files.made[0]) is type(directory)
    assert stored.parent == directory
    assert type(stored) is type(directory)
    assert storage.path == tmp_path / "caps"
    assert type(storage.path) is type(directory)
    assert os.stat(directory).st_mode & 0o777 == 0o700


def test_the_storage_path_is_assignable_as_it_was(tmp_path: pathlib.Path) -> None:
    """``CaptureStorage.path`` (made where first read) can still be assigned, by a subclass
    or a program: it reads what was assigned; the constructor sets the root, and captures
    still go under it."""

    class Labelled(CaptureStorage):
        def __init__(self, path: pathlib.Path) -> None:
            self.path = pathlib.Path("/before/init")  # replaced by the constructor, as before
            super().__init__(path)

    storage = Labelled(tmp_path / "caps")
    assert storage.path == tmp_path / "caps"
    storage.path = pathlib.Path("/elsewhere")
    assert storage.path == pathlib.Path("/elsewhere")
    stored = storage.save({"module": "app", "qualname": "pay", "args": [], "kwargs": {}})
    assert stored.parent.parent == tmp_path / "caps"
