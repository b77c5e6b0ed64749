"""Hostile input: names that try to leave the storage root, arguments that fight back,
cycles, absurd depth and size, hostile YAML target files and hostile capture files.

What must hold for all of them: the captured call returns what it returns without capture,
nothing raises out of the library (beyond a ``ConfigError`` for a bad target file), nothing is
written outside the storage root, nothing in a file is executed when signatures are required,
and the loader skips what it cannot read with a ``SnapyCaptureWarning``.
"""

from __future__ import annotations

import json
import os
import pickle
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from snapy_capture import (
    CaptureLoader,
    CaptureStorage,
    ConfigError,
    Redacted,
    SnapyCaptureWarning,
    capture_args,
    config,
)
from snapy_capture.capture import stats, wrap
from snapy_capture.hook import load_targets

SERIALIZERS = ["pickle", "json", "jsonpickle"]


def _files_outside(tmp_path: Path, root: Path) -> list[Path]:
    inside = root.resolve()
    return [
        path
        for path in tmp_path.rglob("*")
        if path.is_file() and inside not in path.resolve().parents
    ]


def _load_quiet(root: Path, name: str) -> list[dict[str, Any]]:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return CaptureLoader(root).load_all(name)


def _stored_or_dropped(before: dict[str, int], calls: int) -> None:
    """Every call was either stored or counted as dropped: nothing vanished silently."""
    after = stats()
    stored = after["captured"] - before["captured"]
    dropped = after["dropped"] - before["dropped"]
    assert stored + dropped == calls, (stored, dropped)


# --- names that try to escape the storage root ---------------------------------------------

ESCAPES = [
    ("../../escape", "../../../etc/passwd"),
    ("/absolute/module", "/etc/shadow"),
    ("..", ".."),
    (".", "."),
    ("mod", ".function.json"),
    ("mod", ".lock"),
    ("mod\x00ule", "qual\x00name"),
    ("..\\..\\windows", "C:\\evil\\x"),
    ("%2e%2e%2f%2e%2e", "%2F..%2F"),
    ("~", "~root/.ssh/authorized_keys"),
    ("a" * 5000, "b/" * 3000),
    ("ünïcødé", "名前/../../x"),
    ("mod", "line\nbreak\rcarriage"),
]


@pytest.mark.parametrize(("module", "qualname"), ESCAPES)
def test_names_never_escape_the_storage_root(
    tmp_path: Path, capture_dir: Path, module: str, qualname: str
) -> None:
    """Whatever the module and qualname, the capture lands in one directory directly under the
    root, and loads back under the very same name."""

    def target(x: int) -> int:
        return x + 1

    wrapped = wrap(target, {"retention": None}, module=module, qualname=qualname)
    assert wrapped(1) == 2
    assert wrapped(2) == 3
    assert _files_outside(tmp_path, capture_dir) == []
    storage = CaptureStorage(capture_dir)
    [info] = storage.functions()
    assert info.directory.parent == capture_dir  # one level below the root, nowhere else
    assert (info.module, info.qualname) == (module, qualname)
    files = storage.capture_files(module, qualname)
    assert {path.parent for path in files} == {info.directory}
    assert len(files) == 2
    assert [storage.read(p)["args"] for p in files] == [[2], [1]]
    assert [r["args"] for r in _load_quiet(capture_dir, f"{module}:{qualname}")] == [[2], [1]]


def test_crafted_dunder_names_on_a_real_function(tmp_path: Path, capture_dir: Path) -> None:
    """``__module__``/``__qualname__`` set by hostile code to path tricks: still contained."""

    def hostile(x: int) -> int:
        return x

    hostile.__module__ = "../../../../tmp"
    hostile.__qualname__ = "../../../../etc/cron.d/evil"
    captured = capture_args(retention=None)(hostile)
    assert captured(7) == 7
    assert _files_outside(tmp_path, capture_dir) == []
    assert _load_quiet(capture_dir, "../../../../tmp:../../../../etc/cron.d/evil")[0]["args"] == [7]


def test_long_names_sharing_a_prefix_stay_apart(capture_dir: Path) -> None:
    """Names too long for a file name are shortened with a digest: two of them never mix."""
    first = wrap(lambda: 1, {"retention": None}, module="m", qualname="x" * 400 + "one")
    second = wrap(lambda: 2, {"retention": None}, module="m", qualname="x" * 400 + "two")
    assert first() == 1
    assert second() == 2
    loader = CaptureLoader(capture_dir)
    assert loader.count("m:" + "x" * 400 + "one") == 1
    assert loader.count("m:" + "x" * 400 + "two") == 1


class _NameBomb:
    def __str__(self) -> str:
        raise RuntimeError("no str for you")

    __repr__ = __str__


class _HostileCallable:
    __module__ = 42  # type: ignore[assignment]  # not even a string

    def __call__(self, x: int) -> int:
        return x * 2


def test_non_string_and_raising_names(capture_dir: Path) -> None:
    """A callable whose module is an int and whose qualname cannot be printed: the call works."""
    before = stats()
    wrapped = wrap(_HostileCallable(), {"retention": None}, qualname=_NameBomb())  # type: ignore[arg-type]
    assert wrapped(4) == 8
    assert wrapped(5) == 10
    _stored_or_dropped(before, 2)


# --- arguments that fight back -----------------------------------------------------------------


class Boom(Exception):
    pass


def _boom(*args: Any, **kwargs: Any) -> Any:
    raise Boom("hostile")


class BadRepr:
    __repr__ = _boom
    __str__ = _boom
    __format__ = _boom


class BadEq:
    __eq__ = _boom
    __hash__ = _boom  # type: ignore[assignment]
    __ne__ = _boom


class BadReduce:
    __reduce__ = _boom
    __reduce_ex__ = _boom  # type: ignore[assignment]


class BadGetstate:
    def __init__(self) -> None:
        self.password = "hunter2"  # forces the filter to copy the object

    __getstate__ = _boom
    __copy__ = _boom
    __deepcopy__ = _boom


class BadGetattr:
    def __getattr__(self, name: str) -> Any:
        raise Boom(name)


class BadGetattribute:
    def __getattribute__(self, name: str) -> Any:
        raise Boom(name)


class BadClass:
    @property  # type: ignore[misc]
    def __class__(self) -> type:
        raise Boom("__class__")


class BadDict(dict):  # type: ignore[type-arg]
    items = _boom
    keys = _boom
    values = _boom
    __iter__ = _boom
    __len__ = _boom
    __getitem__ = _boom


class BadList(list):  # type: ignore[type-arg]
    __iter__ = _boom
    __len__ = _boom
    __getitem__ = _boom


class BadBool:
    __bool__ = _boom
    __len__ = _boom


def _explode_on_load() -> None:
    raise Boom("unpickling")


class BadOnLoad:
    """Pickles fine; loading it raises (the loader must skip it, not crash)."""

    def __reduce__(self) -> tuple[Any, ...]:
        return (_explode_on_load, ())


HOSTILE: list[Callable[[], Any]] = [
    BadRepr,
    BadEq,
    BadReduce,
    BadGetstate,
    BadGetattr,
    BadGetattribute,
    BadClass,
    lambda: BadDict(a=1),
    lambda: BadList([1, 2]),
    BadBool,
    BadOnLoad,
]


@pytest.mark.parametrize("serializer", SERIALIZERS)
@pytest.mark.parametrize("make", HOSTILE, ids=lambda m: getattr(m, "__name__", "obj"))
def test_hostile_arguments_never_break_the_call(
    capture_dir: Path, make: Callable[[], Any], serializer: str
) -> None:
    """The argument raises from every hook capture might touch: the call returns normally,
    in every position (positional, keyword, nested, as the result); loading never raises."""
    value = make()

    @capture_args(retention=None, record_result=True, serializer=serializer)
    def handle(item: Any, *rest: Any, **options: Any) -> Any:
        return item

    before = stats()
    assert handle(value) is value
    assert handle(1, value, key=value) == 1
    assert handle([value, {"k": value}], nested=(value,)) is not None
    assert handle(value, value) is value
    _stored_or_dropped(before, 4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SnapyCaptureWarning)  # BadOnLoad cannot load back
        records = CaptureLoader(capture_dir).load_all("handle")
    assert len(records) <= 4


def test_hostile_argument_with_lazy_and_async_storage(capture_dir: Path) -> None:
    """The same on the background writer: the call returns, the writer survives."""
    from snapy_capture import flush

    @capture_args(retention=None, async_storage=True, lazy_serialization=True)
    def later(item: Any) -> str:
        return "ok"

    before = stats()
    for make in HOSTILE:
        assert later(make()) == "ok"
    assert later(1) == "ok"
    assert flush(timeout=30)
    _stored_or_dropped(before, len(HOSTILE) + 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SnapyCaptureWarning)
        assert CaptureLoader(capture_dir).load_all("later")[0]["args"] == [1]


# --- cycles, depth and size -------------------------------------------------------------------


class Node:
    def __init__(self, name: str) -> None:
        self.name = name
        self.next: Any = None
        self.password = "s3cret-value"


@pytest.mark.parametrize("serializer", SERIALIZERS)
def test_cyclic_structures(capture_dir: Path, serializer: str) -> None:
    """Self-referencing lists, dicts and objects: the call works; with pickle the cycle comes
    back as a cycle, the secret inside it does not come back at all, and the caller's objects
    are untouched."""
    loop: list[Any] = [1]
    loop.append(loop)
    table: dict[str, Any] = {"token": "abc", "self": None}
    table["self"] = table
    a, b = Node("a"), Node("b")
    a.next, b.next = b, a
    pair: list[Any] = []
    chain = (pair,)
    pair.append(chain)

    @capture_args(retention=None, serializer=serializer)
    def walk(*items: Any) -> int:
        return len(items)

    before = stats()
    assert walk(loop, table, a, chain) == 4
    _stored_or_dropped(before, 1)
    assert table["token"] == "abc"
    assert a.password == "s3cret-value"
    assert a.next.next is a
    if serializer == "pickle":
        [record] = _load_quiet(capture_dir, "walk")
        got_loop, got_table, got_a, _ = record["args"]
        assert got_loop[1] is got_loop
        assert got_table["self"] is got_table
        assert isinstance(got_table["token"], Redacted)
        assert got_a.next.next is got_a
        assert isinstance(got_a.password, Redacted)
        assert isinstance(got_a.next.password, Redacted)
    raw = b"".join(p.read_bytes() for p in capture_dir.rglob("*.cap"))
    assert b"s3cret-value" not in raw
    assert b"abc" not in raw


def _deep_list(depth: int) -> list[Any]:
    root: list[Any] = []
    current = root
    for _ in range(depth):
        child: list[Any] = []
        current.append(child)
        current = child
    return root


def _deep_dict(depth: int) -> dict[str, Any]:
    root: dict[str, Any] = {}
    current = root
    for _ in range(depth):
        current["k"] = {}
        current = current["k"]
    return root


def _deep_object(depth: int) -> Node:
    head = Node("0")
    current = head
    for i in range(depth):
        current.next = Node(str(i))
        current = current.next
    return head


DEEP = [_deep_list, _deep_dict, _deep_object]


@pytest.mark.parametrize("max_depth", ["default", "100000"])
@pytest.mark.parametrize("serializer", SERIALIZERS)
@pytest.mark.parametrize("make", DEEP, ids=lambda m: m.__name__)
def test_very_deep_nesting(
    capture_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    make: Callable[[int], Any],
    serializer: str,
    max_depth: str,
) -> None:
    """10,000 levels, as argument and as result, even with the depth limit lifted: no
    RecursionError escapes, and the capture is stored (truncated) or counted as dropped."""
    if max_depth != "default":
        monkeypatch.setenv("SNAP_CAPTURE_MAX_DEPTH", max_depth)
        config.reload_environment()
    deep = make(10_000)

    @capture_args(retention=None, record_result=True, serializer=serializer)
    def descend(value: Any) -> Any:
        return value

    before = stats()
    limit = sys.getrecursionlimit()
    assert descend(deep) is deep
    assert descend(value=[deep, deep]) is not None
    assert sys.getrecursionlimit() == limit
    _stored_or_dropped(before, 2)
    for record in _load_quiet(capture_dir, "descend"):
        assert set(record) >= {"args", "kwargs", "metadata"}


HUGE = 50 * 1024 * 1024


def test_huge_string_becomes_placeholder_with_ignore_large_objects(
    capture_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """50 MB arguments with ``ignore_large_objects``: a small capture with placeholders."""
    monkeypatch.setenv("SNAP_CAPTURE_IGNORE_LARGE_OBJECTS", "1")
    config.reload_environment()
    text, blob = "x" * HUGE, b"y" * HUGE

    @capture_args(retention=None, record_result=True)
    def ingest(text: str, blob: bytes) -> int:
        return len(text) + len(blob)

    started = time.perf_counter()
    assert ingest(text, blob=blob) == 2 * HUGE
    assert time.perf_counter() - started < 30  # only a pathological scan exceeds this
    [record] = _load_quiet(capture_dir, "ingest")
    assert isinstance(record["args"][0], Redacted)
    assert isinstance(record["kwargs"]["blob"], Redacted)
    assert sum(p.stat().st_size for p in capture_dir.rglob("*.cap")) < 100_000


@pytest.mark.parametrize(
    "size",
    [
        pytest.param(2 * 1024 * 1024, id="2MB"),
        pytest.param(HUGE, id="50MB", marks=pytest.mark.slow),
    ],
)
def test_huge_string_without_limit_is_written_or_dropped(capture_dir: Path, size: int) -> None:
    """Without ``ignore_large_objects`` a huge string is stored whole when ``max_capture_size``
    allows it (or dropped and counted), never a crash; by default, past the 1 MiB size limit,
    as a placeholder."""
    text = "x" * size

    @capture_args(retention=None, max_capture_size=size + 1024)
    def swallow(text: str) -> int:
        return len(text)

    @capture_args(retention=None)
    def by_default(text: str) -> int:
        return len(text)

    before = stats()
    assert swallow(text) == size
    assert by_default(text) == size
    _stored_or_dropped(before, 2)
    records = (
        _load_quiet(capture_dir, "swallow") if stats()["captured"] > before["captured"] else []
    )
    if records:
        assert records[0]["args"][0] == text
    [record] = _load_quiet(capture_dir, "by_default")
    assert str(record["args"][0]) == (
        f"[FILTERED: too large (over 1048576 bytes): str of {size} characters]"
    )


@pytest.mark.parametrize(
    "size",
    [
        pytest.param(8 * 1024 * 1024, id="8MB"),
        pytest.param(HUGE, id="50MB", marks=pytest.mark.slow),
    ],
)
def test_huge_bytes_with_max_capture_size(capture_dir: Path, size: int) -> None:
    """``max_capture_size`` shrinks a huge capture to a placeholder rather than losing it."""
    blob = b"z" * size

    @capture_args(retention=None, max_capture_size=64 * 1024)
    def upload(name: str, blob: bytes) -> int:
        return len(blob)

    assert upload("file.bin", blob) == size
    [record] = _load_quiet(capture_dir, "upload")
    assert record["args"][0] == "file.bin"
    assert isinstance(record["args"][1], Redacted)


# --- hostile YAML target files -------------------------------------------------------------------


def _yaml_cases(marker: Path) -> dict[str, bytes]:
    shell = f"touch {marker}"
    laughs = ['lol0: &l0 ["lol"]']
    for level in range(1, 10):
        refs = ", ".join([f"*l{level - 1}"] * 10)
        laughs.append(f"lol{level}: &l{level} [{refs}]")
    return {
        "python-apply": (
            f'version: 1\ntargets:\n  - !!python/object/apply:os.system ["{shell}"]\n'
        ).encode(),
        "python-in-defaults": (
            f'version: 1\ndefaults:\n  path: !!python/object/apply:os.system ["{shell}"]\n'
            f"targets: [m:f]\n"
        ).encode(),
        "python-new": (
            "version: 1\ntargets: []\n"
            f'x: !!python/object/new:subprocess.Popen [["touch", "{marker}"]]\n'
        ).encode(),
        "python-name": b"version: 1\ntargets:\n  - !!python/name:os.system\n",
        "python-module": b"version: 1\ntargets:\n  - !!python/module:os\n",
        "billion-laughs": ("\n".join(laughs) + "\nversion: 1\ntargets: *l9\n").encode(),
        "laughs-in-defaults": (
            "\n".join(
                ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
                + [
                    f"{chr(98 + i)}: &{chr(98 + i)} [" + ", ".join([f"*{chr(97 + i)}"] * 10) + "]"
                    for i in range(7)
                ]
            )
            + "\nversion: 1\ndefaults: {ignore_args: *h}\ntargets: [m:f]\n"
        ).encode(),
        "recursive-alias": b"version: 1\ntargets: &t [m:f, *t]\n",
        "not-utf8": b"version: 1\ntargets:\n  - \xff\xfe\xfd:f\n",
        "latin1": "version: 1\ntargets:\n  - caf\u00e9:f\n".encode("latin-1"),
        "nul-bytes": b"version: 1\ntargets:\n  - m:f\x00\n",
        "deep-nesting": b"version: 1\ntargets: " + b"[" * 3000 + b"]" * 3000 + b"\n",
        "path-escape-target": b"version: 1\ntargets:\n  - ../../etc:passwd\n",
        "huge-key-count": (
            "version: 1\ntargets: []\n" + "".join(f"k{i}: {i}\n" for i in range(3000))
        ).encode(),
        "binary-garbage": bytes(range(256)) * 40,
    }


CASES = list(_yaml_cases(Path("/x")))


def _hook_entry() -> Callable[[Path], Any]:
    import snapy_capture

    return lambda path: snapy_capture.install_import_hook(config=path)


@pytest.mark.parametrize("entry", ["load_targets", "install_import_hook"])
@pytest.mark.parametrize("case", CASES)
def test_hostile_target_files_are_refused(tmp_path: Path, case: str, entry: str) -> None:
    """Python tags, alias bombs, recursion, bad encodings, NULs, absurd nesting: a one-line
    ConfigError naming the file, quickly; nothing is executed and no hook is left installed."""
    marker = tmp_path / "executed"
    path = tmp_path / "capture.yaml"
    path.write_bytes(_yaml_cases(marker)[case])
    call = load_targets if entry == "load_targets" else _hook_entry()
    meta_path = list(sys.meta_path)
    started = time.perf_counter()
    with pytest.raises(ConfigError) as caught:
        call(path)
    # A bound that only a hang (an expanding alias bomb) can exceed, even on a loaded machine.
    assert time.perf_counter() - started < 30
    message = str(caught.value)
    assert str(path) in message
    assert "\n" not in message
    assert len(message) < 500
    assert not marker.exists()
    assert sys.meta_path == meta_path


# --- hostile capture files -----------------------------------------------------------------


class _Evil:
    """Unpickling this creates a directory: the proof that a file's code ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.mkdir, (self.marker,))


def _evil_record(marker: Path) -> dict[str, Any]:
    return {"module": "m", "qualname": "f", "args": [_Evil(marker)], "kwargs": {}, "metadata": {}}


def _plant(directory: Path, seq: int, data: bytes) -> Path:
    path = directory / f"{seq:012d}.cap"
    path.write_bytes(data)
    return path


PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(64)


def _bad_files(good: bytes) -> dict[str, bytes]:
    return {
        "zero-length": b"",
        "truncated-half": good[: len(good) // 2],
        "truncated-header": good[:10],
        "header-only": good[: good.index(b"\n") + 1],
        "random-bytes": os.urandom(4096),
        "json-file": json.dumps({"args": [1], "kwargs": {}}).encode(),
        "png": PNG,
        "future-format": b'#snapy-capture {"format": 99, "serializer": "pickle"}\n' + good,
        "header-not-object": b"#snapy-capture [1, 2]\n" + good,
        "unknown-serializer": b'#snapy-capture {"format": 1, "serializer": "../../evil"}\n{}',
        "not-a-record": pickle.dumps(["just", "a", "list"]),
        "bad-args-type": pickle.dumps({"args": "nope", "kwargs": {}}),
    }


def test_loader_skips_unreadable_files_with_a_warning(capture_dir: Path) -> None:
    """Among good captures: zero-length, truncated, foreign and malformed files are skipped
    one warning each; the good ones load, in order."""
    storage = CaptureStorage(capture_dir)
    storage.save({"module": "m", "qualname": "f", "args": ["first"], "kwargs": {}})
    directory = storage.capture_files("m", "f")[0].parent
    good = storage.capture_files("m", "f")[0].read_bytes()
    bad = _bad_files(good)
    for seq, data in enumerate(bad.values(), start=1):
        _plant(directory, seq, data)
    (directory / f"{len(bad) + 1:012d}.cap").mkdir()  # a directory posing as a capture
    storage.save({"module": "m", "qualname": "f", "args": ["last"], "kwargs": {}})
    with pytest.warns(SnapyCaptureWarning) as caught:
        records = CaptureLoader(capture_dir).load_all("m:f")
    assert [r["args"] for r in records] == [["last"], ["first"]]
    assert len(caught) == len(bad) + 1
    assert all("skipping" in str(w.message) for w in caught)


@pytest.mark.parametrize("how", ["argument", "environment"])
def test_crafted_pickle_refused_when_signing(
    tmp_path: Path, capture_dir: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    """With a signing key, a planted pickle that would run code is refused before it is
    unpickled, in every disguise: bare, in a forged envelope, signed with another key."""
    key = "correct horse battery staple"
    if how == "environment":
        monkeypatch.setenv("SNAP_CAPTURE_SIGNING_KEY", key)
        config.reload_environment()
        signer = CaptureStorage(capture_dir)
    else:
        signer = CaptureStorage(capture_dir, signing_key=key)
    signer.save({"module": "m", "qualname": "f", "args": ["legit"], "kwargs": {}})
    directory = signer.capture_files("m", "f")[0].parent
    marker = tmp_path / "code-ran"
    payload = pickle.dumps(_evil_record(marker))
    other = CaptureStorage(tmp_path / "other", signing_key="another key")
    disguises = [
        payload,  # format 0: a bare pickle
        b'#snapy-capture {"format": 1, "serializer": "pickle"}\n' + payload,  # unsigned
        b'#snapy-capture {"format": 1, "hmac": "'
        + b"0" * 64
        + b'", "serializer": "pickle"}\n'
        + payload,  # forged signature
        other.encode(_evil_record(marker)),  # validly signed, by someone else
    ]
    for seq, data in enumerate(disguises, start=1):
        _plant(directory, seq, data)
    with pytest.warns(SnapyCaptureWarning) as caught:
        if how == "environment":
            records = CaptureLoader().load_all("m:f")
        else:
            records = CaptureLoader(storage=CaptureStorage(capture_dir, signing_key=key)).load_all(
                "m:f"
            )
    assert not marker.exists()
    assert [r["args"] for r in records] == [["legit"]]
    assert len(caught) == len(disguises)
    # A signed capture altered by one byte is refused too.
    for seq in range(1, len(disguises) + 1):
        (directory / f"{seq:012d}.cap").unlink()
    [legit] = signer.capture_files("m", "f")
    data = bytearray(legit.read_bytes())
    data[-3] ^= 0x01
    legit.write_bytes(bytes(data))
    with pytest.warns(SnapyCaptureWarning, match="signature"):
        assert (
            CaptureLoader(storage=CaptureStorage(capture_dir, signing_key=key)).load_all("m:f")
            == []
        )
    assert not marker.exists()
