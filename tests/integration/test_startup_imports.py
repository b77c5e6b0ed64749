"""What importing a target module loads into the program (issue 21, start-up): the capture
layer and wrapt, but none of the standard modules capturing never needs (platform, uuid...),
nor the modules of reading captures and of ``check``.

Types of modules that capture no longer imports (uuid.UUID, fractions.Fraction,
zoneinfo.ZoneInfo) are still known to the filters once the program imports them.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import os
import pickle
import platform
import subprocess
import sys
import uuid
import zoneinfo
from pathlib import Path
from typing import Any

import pytest

from snapy_capture import CaptureLoader, CaptureStorage, _digests
from snapy_capture._version import python_version
from snapy_capture.errors import SnapyCaptureWarning
from snapy_capture.filters import _pickled
from snapy_capture.storage import _envelope

RUN = [sys.executable, "-m", "snapy_capture.run"]
#: Never needed by capturing: only by reading captures or by ``check``; hashlib and hmac
#: (which load OpenSSL) only by signing. (What a capture needs, json says, is imported with
#: the capture layer: imported at the first capture, a fork while another thread imports it
#: would leave the child a half-imported module.)
NOT_AT_IMPORT = (
    *("platform", "sysconfig", "uuid", "zoneinfo", "fractions", "yaml", "shlex"),
    *("pickletools", "snapy_capture.storage._migrate", "snapy_capture.storage._order"),
    "snapy_capture.hook._source",
    *("hashlib", "_hashlib", "hmac"),
)
WORK = "def work(x, token=None, other=None):\n    return x + 1\n"


def run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    # Not measured by coverage (``make test`` measures children): coverage would load json,
    # platform and more in the child.
    plain = {k: v for k, v in os.environ.items() if not k.startswith("COVERAGE_PROCESS_")}
    return subprocess.run(
        args, cwd=cwd, capture_output=True, text=True, env=plain, timeout=120, check=False
    )


def _probe(first: str) -> str:
    """A program that imports ``first`` then prints which of NOT_AT_IMPORT are loaded."""
    return (
        f"import sys\n{first}\n"
        f"print(sorted(name for name in {NOT_AT_IMPORT!r} if name in sys.modules))\n"
    )


def test_importing_a_target_module_loads_no_module_capture_needs_only_to_capture(
    tmp_path: Path, capture_dir: Path
) -> None:
    """The runner, the target file's parse cached (the second run): once the program has
    imported a target module, none of these is loaded that ``import wrapt`` and the module
    alone would not load (they cost its start-up ~5 ms, issue 21); the first call captures."""
    (tmp_path / "tgt_imp.py").write_text(WORK)
    (tmp_path / "capture.yaml").write_text(
        "version: 1\ndefaults: {async_storage: false, dedupe: false}\ntargets: ['tgt_imp:work']\n"
    )
    (tmp_path / "floor.py").write_text(_probe("import wrapt, tgt_imp"))
    (tmp_path / "prog.py").write_text(_probe("import tgt_imp") + "print(tgt_imp.work(1))\n")
    floor = run([sys.executable, "floor.py"], tmp_path)
    assert floor.returncode == 0, floor.stderr
    baseline = set(json.loads(floor.stdout.replace("'", '"')))
    runs = [run([*RUN, "--config", "capture.yaml", "prog.py"], tmp_path) for _ in range(2)]
    for done in runs:
        assert done.returncode == 0, done.stderr
        assert done.stderr == ""
    loaded, result = runs[1].stdout.splitlines()
    assert sorted(set(json.loads(loaded.replace("'", '"'))) - baseline) == []
    assert result == "2"
    assert len(CaptureLoader(capture_dir).load_all("tgt_imp:work")) == 2


LATE_TYPES = """
import tgt_imp
import fractions, uuid, zoneinfo
print(tgt_imp.work(1, token=uuid.UUID(int=7)))
print(tgt_imp.work(2, token=fractions.Fraction(3, 4)))
print(tgt_imp.work(3, other=[zoneinfo.ZoneInfo("UTC"), uuid.UUID(int=8)]))
"""


@pytest.mark.parametrize("async_storage", [False, True], ids=["caller", "writer"])
def test_types_of_modules_the_program_imports_after_capture_are_filtered_as_before(
    tmp_path: Path, capture_dir: Path, async_storage: bool
) -> None:
    """uuid, fractions and zoneinfo are imported by the program after the capture layer:
    a UUID or Fraction under a secret-ish name is still redacted whole (a scalar), and a
    ZoneInfo and a UUID in a list under a plain name are stored as themselves (async:
    rebuilt from the snapshot as the real types, not as recorded calls)."""
    (tmp_path / "tgt_imp.py").write_text(WORK)
    (tmp_path / "capture.yaml").write_text(
        f"version: 1\ndefaults: {{async_storage: {str(async_storage).lower()}, dedupe: false,"
        f" retention: 10}}\ntargets: ['tgt_imp:work']\n"
    )
    (tmp_path / "prog.py").write_text(LATE_TYPES)
    done = run([*RUN, "--config", "capture.yaml", "prog.py"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["2", "3", "4"]
    records = sorted(
        CaptureLoader(capture_dir).load_all("tgt_imp:work"), key=lambda r: r["args"][0]
    )
    tokens = [record["kwargs"]["token"] for record in records[:2]]
    assert tokens[0] == tokens[1] == "[FILTERED: name:token]"
    assert records[2]["kwargs"]["other"] == [zoneinfo.ZoneInfo("UTC"), uuid.UUID(int=8)]


def test_the_python_version_recorded_is_platforms() -> None:
    """Captures record ``platform.python_version()``, read without importing platform."""
    assert python_version() == platform.python_version()


SIGNED_LATER = """
import os, sys
from snapy_capture import CaptureConfig, capture_args, flush, set_global_config
from snapy_capture.config import reload_environment

@capture_args(retention=5)
def work(x):
    return x + 1

work(1)
flush(10)
before = "hmac" in sys.modules
if sys.argv[1] == "code":
    set_global_config(CaptureConfig(signing_key="k3y"))
else:
    os.environ["SNAP_CAPTURE_SIGNING_KEY"] = "k3y"
    reload_environment()
print(before, "hmac" in sys.modules, work(2))
"""


@pytest.mark.parametrize("given", ["code", "variable"])
def test_signing_is_loaded_where_the_key_is_given_and_signs(
    tmp_path: Path, capture_dir: Path, given: str
) -> None:
    """Unsigned capturing never imports hmac (nor hashlib: OpenSSL's start-up); a key given
    in code, or in the variable then reloaded, imports it there, not at the capture, and
    the next capture is signed with it: it verifies with the key, and the unsigned one
    made before is refused with it."""
    (tmp_path / "prog.py").write_text(SIGNED_LATER)
    done = run([sys.executable, "prog.py", given], tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "True", "3"]
    signed = CaptureStorage(capture_dir, signing_key="k3y")
    with pytest.warns(SnapyCaptureWarning, match="unsigned capture refused"):
        records = CaptureLoader(storage=signed).load_all("prog:work")
    assert [record["args"] for record in records] == [[2]]


def test_the_getstate_of_frozen_slotted_dataclasses_is_known_without_making_one() -> None:
    """The filters recognise the ``__getstate__`` dataclasses give frozen slotted classes
    (pickled by field position); it is read from dataclasses, not from a class made at
    start-up for it."""

    @dataclasses.dataclass(frozen=True, slots=True)
    class Frozen:
        field: int = 0

    assert getattr(Frozen, "__getstate__", None) is _pickled.DATACLASS_GETSTATE


HIDDEN_FRAMES = """
import linecache, sys, traceback
from snapy_capture import capture_args

@capture_args(sys.argv[1], async_storage=False)
def boom(x):
    raise ValueError(x)

ours = [key for key in linecache.cache if "a snapy_capture call frame" in key]
print(all(len(linecache.cache[key]) == 1 for key in ours))  # not read yet
try:
    boom(1)
except ValueError:
    print(traceback.format_exc())
"""


def test_our_call_frames_show_their_source_lines_read_when_first_shown(tmp_path: Path) -> None:
    """A traceback through a captured call shows our frames' source lines, as before; the
    files are read when a traceback first shows them, not as the capture layer loads."""
    (tmp_path / "prog.py").write_text(HIDDEN_FRAMES)
    done = run([sys.executable, "prog.py", str(tmp_path / "caps")], tmp_path)
    assert done.returncode == 0, done.stderr
    lazy, shown = done.stdout.split("\n", 1)
    assert lazy == "True"
    assert "a snapy_capture call frame, skipped like importlib._bootstrap" in shown
    assert "    return wrapped(*args, **kwargs)\n" in shown


def test_signatures_are_the_hmac_sha256_they_were() -> None:
    """hmac is imported where used now: the format-2 signature is still HMAC-SHA256 over the
    canonical header, the function and number, and the payload's SHA-256 (computed here with
    hashlib's, as the code did); the digests of _digests are hashlib's."""
    key, canonical, payload = b"k3y", b'{"format":2}', b"payload" * 100
    digest = hashlib.sha256(payload).digest()
    expected = hmac.new(
        key, canonical + b"\n" + b'["m:f", 7]' + b"\n" + digest, hashlib.sha256
    ).hexdigest()
    assert _envelope.signature(key, canonical, "m:f", 7, digest) == expected.encode()
    assert _digests.sha256(payload).digest() == digest
    assert _digests.blake2b(payload, digest_size=16).digest() == (
        hashlib.blake2b(payload, digest_size=16).digest()
    )


EXIT_PASSES = """
import gc, sys
from snapy_capture.hook import _report, install_import_hook

walks = []
walk = gc.get_referrers
gc.get_referrers = lambda *objects: walks.append(len(objects)) or walk(*objects)
install_import_hook({"version": 1, "targets": ["tgt_imp:work"]})
import tgt_imp  # never called

_report.finish(_report._installed_hook(), config="c.yaml", hint="x", owner=True)
print(walks)
_report.finish(
    _report._installed_hook(), config="c.yaml", hint="x", owner=True, report_path=sys.argv[1]
)
print(walks)
"""


def test_the_exit_line_alone_walks_no_heap_for_targets_never_called(tmp_path: Path) -> None:
    """Where a never-called target's function is still held unwrapped is only in the report
    (test_feedback checks what it says): with no report to write, the process that reports
    does not walk the heap for it (~2 ms of its exit); with one, it does."""
    (tmp_path / "tgt_imp.py").write_text(WORK)
    (tmp_path / "prog.py").write_text(EXIT_PASSES)
    done = run([sys.executable, "prog.py", str(tmp_path / "report.json")], tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:2] == ["[]", "[1]"]
    (entry,) = json.loads((tmp_path / "report.json").read_text())["captured_nothing"]
    assert (entry["target"], entry["status"]) == ("tgt_imp:work", "never called")


#: What the capture layer reads from the modules the program imported instead of importing
#: them itself (decimal; datetime's classes come from _datetime), or does without (logging,
#: and what it imports): ~4 ms of a capturing process's start-up (issue 21).
NOT_LOADED_BY_CAPTURE = (
    *("logging", "traceback", "textwrap", "string"),
    *("datetime", "decimal", "_decimal", "_pydecimal", "numbers", "base64"),
)
VALUES_AFTER = """
import sys
import tgt_imp
loaded = sorted(name for name in {names!r} if name in sys.modules)
import datetime, decimal, pathlib

class Money(decimal.Decimal):
    pass

print(loaded)
print(tgt_imp.work(1, other=[decimal.Decimal("1.25"), datetime.date(2020, 1, 2),
    datetime.datetime(2020, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc),
    datetime.timedelta(days=2, seconds=3), pathlib.PurePosixPath("/srv/data"),
    b"\\x00\\xffab", bytearray(b"xyz")]))
print(tgt_imp.work(2, other=decimal.Decimal("4111111111111111")))
print(tgt_imp.work(3, other=[1, {{"k": decimal.Decimal("4111111111111111")}}]))
print(tgt_imp.work(4, token=Money("12.5")))
print(tgt_imp.work(5, token=decimal.Decimal("7")))
"""


@pytest.mark.parametrize("serializer", ["pickle", "json"])
@pytest.mark.parametrize("async_storage", [False, True], ids=["caller", "writer"])
def test_decimal_datetime_and_logging_are_not_loaded_and_their_values_are_captured_as_before(
    tmp_path: Path, capture_dir: Path, async_storage: bool, serializer: str
) -> None:
    """Importing a target module under the runner loads neither logging (with traceback,
    textwrap, string) nor datetime.py nor decimal (with numbers) nor base64. The program
    imports them after the capture layer: a Decimal, dates and times, a path and bytes are
    stored as themselves
    and load back equal; a Decimal holding a card number is masked as a PII (whole, and
    inside containers, on the first call that meets one); a Decimal, or a subclass, under a
    secret-ish name is redacted whole."""
    (tmp_path / "tgt_imp.py").write_text(WORK)
    (tmp_path / "capture.yaml").write_text(
        f"version: 1\ndefaults: {{async_storage: {str(async_storage).lower()}, dedupe: false,"
        f" retention: 10, serializer: {serializer}}}\ntargets: ['tgt_imp:work']\n"
    )
    (tmp_path / "prog.py").write_text(VALUES_AFTER.format(names=NOT_LOADED_BY_CAPTURE))
    (tmp_path / "noop.py").write_text("")
    # The target file parsed once (yaml imports datetime), then read from the start-up cache.
    assert run([*RUN, "--config", "capture.yaml", "noop.py"], tmp_path).returncode == 0
    done = run([*RUN, "--config", "capture.yaml", "prog.py"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert done.stdout.split("\n") == ["[]", "2", "3", "4", "5", "6", ""]
    records = sorted(
        CaptureLoader(capture_dir).load_all("tgt_imp:work"), key=lambda r: r["args"][0]
    )
    assert [record["args"] for record in records] == [[1], [2], [3], [4], [5]]
    import datetime
    import decimal
    import pathlib

    assert records[0]["kwargs"]["other"] == [
        decimal.Decimal("1.25"),
        datetime.date(2020, 1, 2),
        datetime.datetime(2020, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc),
        datetime.timedelta(days=2, seconds=3),
        pathlib.PurePosixPath("/srv/data"),
        b"\x00\xffab",
        bytearray(b"xyz"),
    ]
    assert records[1]["kwargs"]["other"] == "[FILTERED: pii]"
    assert records[2]["kwargs"]["other"] == [1, {"k": "[FILTERED: pii]"}]
    assert records[3]["kwargs"]["token"] == records[4]["kwargs"]["token"]
    assert records[4]["kwargs"]["token"] == "[FILTERED: name:token]"


WARNS = """
import sys
{first}
import tgt_imp
tgt_imp.work(1)
print("logging" in sys.modules)
"""


@pytest.mark.parametrize(
    "first",
    ["", "import logging; logging.basicConfig(format='LOG %(name)s %(levelname)s %(message)s')"],
    ids=["unconfigured", "configured"],
)
def test_capture_warnings_read_as_before_with_or_without_logging_imported(
    tmp_path: Path, capture_dir: Path, first: str
) -> None:
    """A capture's warning, in a program that never imports logging, is the line logging's
    last resort wrote (the message alone, on stderr), and logging is still not loaded; in a
    program that configured logging it goes through the ``snapy_capture`` logger."""
    (tmp_path / "tgt_imp.py").write_text(WORK)
    (tmp_path / "capture.yaml").write_text(
        "version: 1\ndefaults: {async_storage: false, max_capture_size: 1}\n"
        "targets: ['tgt_imp:work']\n"
    )
    (tmp_path / "prog.py").write_text(WARNS.format(first=first))
    done = run([*RUN, "--config", "capture.yaml", "prog.py"], tmp_path)
    assert done.returncode == 0, done.stderr
    line = (
        "snapy_capture: not capturing tgt_imp:work: a capture exceeded max_capture_size=1 and"
        " was dropped; further problems with this function are only counted"
    )
    prefix = "LOG snapy_capture WARNING " if first else ""
    assert done.stderr.splitlines()[0] == prefix + line
    assert done.stdout == ("True\n" if first else "False\n")


def _declared(base: Any) -> Any:
    """One named tuple declared on ``base`` (``typing.NamedTuple`` or ``Record``)."""

    class Point(base):  # type: ignore[misc]
        """A point."""

        x: int
        y: int = 0
        label: str | None = None

        def norm(self) -> int:
            return abs(self.x) + abs(self.y)

    return Point


def test_records_are_the_named_tuples_typing_makes() -> None:
    """A named tuple declared on ``_records.Record`` (the capture layer's, which skips the
    compile of every annotation string at import) has what typing.NamedTuple gives it:
    fields, defaults, docstring, methods, annotations, equality, pickling, ``_replace``; a
    field without a default after one with is refused, as typing refuses it."""
    from typing import NamedTuple

    from snapy_capture._records import Record

    ours, typings = _declared(Record), _declared(NamedTuple)
    for kind in (ours, typings):
        assert kind.__bases__ == (tuple,)
        assert (kind._fields, kind._field_defaults) == (
            ("x", "y", "label"),
            {"y": 0, "label": None},
        )
        assert (kind.__doc__, kind.__qualname__.rsplit(".", 1)[-1]) == ("A point.", "Point")
        assert list(kind.__annotations__) == ["x", "y", "label"]
        point = kind(3, -4)
        assert (point, point.norm(), repr(point)) == (
            (3, -4, None),
            7,
            "Point(x=3, y=-4, label=None)",
        )
        assert point._replace(label="a") == (3, -4, "a")
    assert ours(1) == typings(1)
    from snapy_capture.storage import CaptureRef

    ref = CaptureRef(Path("/r"), "m:f", 3, Path("/r/m/f/000000000003.cap"))
    assert pickle.loads(pickle.dumps(ref)) == ref
    with pytest.raises(TypeError, match="Non-default namedtuple field"):

        class Bad(Record):
            a: int = 0
            b: int  # type: ignore[misc]


#: pathlib (with urllib.parse and ipaddress, which it imports): storage writes on strings and
#: quotes directory names itself, and the filters and the JSON format read pathlib's
#: classes from the pathlib the program imported; typing: our modules name its types in
#: annotations only. ~5 ms of start-up (issue 21).
NOT_LOADED_FOR_PATHS = ("pathlib", "urllib.parse", "ipaddress", "typing")
PATHS = """
import sys
{first}
import tgt_imp
loaded = sorted(name for name in {names!r} if name in sys.modules)
import ipaddress, pathlib
print(loaded)
print(tgt_imp.work(1, other=[pathlib.Path("/srv/a"), pathlib.PurePosixPath("rel/b"),
    pathlib.PureWindowsPath("C:/x/y"), pathlib.PosixPath("/p")]))
print(tgt_imp.work(2, other={{"ip": ipaddress.IPv4Address("10.1.2.3")}}))
print(tgt_imp.work(3, other=pathlib.PurePosixPath("/cards/4111111111111111")))
from snapy_capture.capture import flush
flush(30)
print("typing" in sys.modules)
"""


@pytest.mark.parametrize("serializer", ["pickle", "json"])
@pytest.mark.parametrize("async_storage", [False, True], ids=["caller", "writer"])
@pytest.mark.parametrize("first", ["", "import ipaddress, pathlib"], ids=["after", "before"])
def test_pathlib_and_typing_are_not_loaded_and_paths_are_captured_as_before(
    tmp_path: Path, capture_dir: Path, async_storage: bool, serializer: str, first: str
) -> None:
    """Importing a target module under the runner loads neither pathlib nor urllib.parse nor
    ipaddress nor typing; calling it (every capture written) loads no typing. Paths and an
    IPv4 address the program made, its pathlib imported before the capture layer or after,
    are stored as before: paths load back equal, of their own classes, in both formats;
    the address too with pickle (the JSON format stores no address: a placeholder, as
    before); a path holding a card number is replaced whole."""
    (tmp_path / "tgt_imp.py").write_text(WORK)
    (tmp_path / "capture.yaml").write_text(
        f"version: 1\ndefaults: {{async_storage: {str(async_storage).lower()}, dedupe: false,"
        f" retention: 10, serializer: {serializer}}}\ntargets: ['tgt_imp:work']\n"
    )
    (tmp_path / "prog.py").write_text(PATHS.format(first=first, names=NOT_LOADED_FOR_PATHS))
    (tmp_path / "noop.py").write_text("")
    # The target file parsed once, then read from the start-up cache (as a program's would).
    assert run([*RUN, "--config", "capture.yaml", "noop.py"], tmp_path).returncode == 0
    done = run([*RUN, "--config", "capture.yaml", "prog.py"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    loaded = [] if not first else ["ipaddress", "pathlib", "urllib.parse"]
    assert done.stdout.split("\n") == [str(loaded), "2", "3", "4", "False", ""]
    records = sorted(
        CaptureLoader(capture_dir).load_all("tgt_imp:work"), key=lambda r: r["args"][0]
    )
    import ipaddress
    import pathlib

    assert [record["args"] for record in records] == [[1], [2], [3]]
    paths = records[0]["kwargs"]["other"]
    assert paths == [
        pathlib.Path("/srv/a"),
        pathlib.PurePosixPath("rel/b"),
        pathlib.PureWindowsPath("C:/x/y"),
        pathlib.PosixPath("/p"),
    ]
    assert [type(path) for path in paths] == [
        pathlib.PosixPath,
        pathlib.PurePosixPath,
        pathlib.PureWindowsPath,
        pathlib.PosixPath,
    ]
    if serializer == "pickle":
        assert records[1]["kwargs"]["other"] == {"ip": ipaddress.IPv4Address("10.1.2.3")}
    elif async_storage:
        assert records[1]["kwargs"]["other"] == "[FILTERED: unserializable dict]"
    else:
        assert records[1]["kwargs"]["other"] == {
            "ip": "[FILTERED: unstorable: cannot serialize IPv4Address (TypeError)]"
        }
    assert records[2]["kwargs"]["other"] == "[FILTERED: opaque:PurePosixPath holds filtered data]"


def test_the_public_protocols_and_aliases_are_typings_at_run_time() -> None:
    """The capture layer loads them where first asked for (not typing at start-up), and
    they are what they were: ``Serializer`` a runtime-checkable protocol, one class
    wherever it is imported from, ``Filter`` a protocol, ``CustomFilter`` and
    ``StoredPath`` the aliases they were."""
    import typing
    from collections.abc import Callable

    from snapy_capture import config, filters, storage
    from snapy_capture.config import _options
    from snapy_capture.storage import ObjectPath, serializers

    assert config.Serializer is _options.Serializer is serializers.Serializer is storage.Serializer
    assert isinstance(serializers.PickleSerializer(), config.Serializer)
    assert not isinstance(object(), config.Serializer)
    with pytest.raises(TypeError, match="non-method members"):
        issubclass(serializers.PickleSerializer, config.Serializer)
    assert config.Filter is _options.Filter
    assert typing.Protocol in config.Filter.__mro__
    with pytest.raises(TypeError, match="runtime_checkable"):
        isinstance(object(), config.Filter)
    assert filters.CustomFilter == Callable[[str, "str | None", typing.Any], typing.Any]
    assert storage.StoredPath == typing.Union[Path, ObjectPath]  # noqa: UP007
    for module in (config, filters, storage, serializers):
        for name in module.__all__:
            assert getattr(module, name) is not None


HINTS = """
import inspect, sys, typing
{first}
import snapy_capture
from snapy_capture import (
    CaptureConfig, CaptureLoader, CaptureStorage, JSONSerializer, capture_args,
    set_global_config,
)
from snapy_capture.filters import ArgumentFilter
from snapy_capture.storage import CaptureRef, FunctionInfo, FileOperations
for public in (
    capture_args, CaptureConfig, CaptureStorage, CaptureStorage.__init__, CaptureRef,
    FunctionInfo, JSONSerializer, ArgumentFilter.__init__, set_global_config,
    FileOperations.make_dirs, CaptureLoader.__init__,
):
    typing.get_type_hints(public)
    inspect.signature(public, eval_str=True)
hints = typing.get_type_hints(CaptureConfig)
print(snapy_capture.config.Serializer in typing.get_args(hints["serializer"]))
print(typing.get_type_hints(capture_args)["path"] is typing.Any)
"""


@pytest.mark.parametrize("runner", [False, True], ids=["python", "runner"])
def test_the_public_names_type_hints_resolve(tmp_path: Path, runner: bool) -> None:
    """``typing.get_type_hints`` (and ``inspect.signature(eval_str=True)``) of the public
    functions and classes raised ``NameError`` ('Any', 'Serializer', 'StoredPath'...) once
    typing's names were imported for type checkers alone; they resolve again wherever typing
    is loaded (the decorator loads it; under the runner, a program that imported it before
    its first target module)."""
    (tmp_path / "tgt_imp.py").write_text(WORK)
    (tmp_path / "capture.yaml").write_text("version: 1\ntargets: ['tgt_imp:work']\n")
    first = "import pathlib, tgt_imp" if runner else ""  # StoredPath: a Union of Path
    (tmp_path / "prog.py").write_text(HINTS.format(first=first))
    command = [*RUN, "--config", "capture.yaml"] if runner else [sys.executable]
    if runner:  # the target file parsed once, then read from the start-up cache (as usual)
        (tmp_path / "noop.py").write_text("")
        assert run([*command, "noop.py"], tmp_path).returncode == 0
    done = run([*command, "prog.py"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "True\nTrue\n"


TYPING_MID_IMPORT = """
import importlib.machinery, sys, threading, time
started = threading.Event()

class SlowTyping:
    # Another thread of the program is importing typing when the first target module loads
    # the capture layer: sys.modules["typing"] is there, half made, for 0.5 s.
    def find_spec(self, name, path=None, target=None):
        if name != "typing":
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        real = spec.loader
        class Loader:
            def create_module(self, spec):
                return real.create_module(spec)
            def exec_module(self, module):
                started.set()
                time.sleep(0.5)
                real.exec_module(module)
        spec.loader = Loader()
        return spec

sys.meta_path.insert(0, SlowTyping())
importer = threading.Thread(target=lambda: __import__("typing"))
importer.start()
started.wait()
import tgt_imp
importer.join()
print(tgt_imp.work(1))
"""


def test_a_thread_importing_typing_while_the_capture_layer_loads_leaves_it_capturing(
    tmp_path: Path, capture_dir: Path
) -> None:
    """dataclasses reads ``typing.ClassVar`` from a typing another thread is still importing:
    the capture layer's load failed ("partially initialized module 'typing' has no attribute
    'ClassVar'") and the program ran uncaptured. The load now waits for that import."""
    (tmp_path / "tgt_imp.py").write_text(WORK)
    (tmp_path / "capture.yaml").write_text(
        "version: 1\ndefaults: {async_storage: false}\ntargets: ['tgt_imp:work']\n"
    )
    (tmp_path / "prog.py").write_text(TYPING_MID_IMPORT)
    (tmp_path / "noop.py").write_text("")
    # The target file parsed once, then read from the start-up cache (as a program's would).
    assert run([*RUN, "--config", "capture.yaml", "noop.py"], tmp_path).returncode == 0
    done = run([*RUN, "--config", "capture.yaml", "prog.py"], tmp_path)
    assert (done.returncode, done.stderr, done.stdout) == (0, "", "2\n")
    assert [r["args"] for r in CaptureLoader(capture_dir).load_all("tgt_imp:work")] == [[1]]
