"""Start-up of a captured process: nothing heavy until a target module is imported (issue 21).

What a user notices is the time a short program takes to start under the runner. Timing
tests are flaky on a shared machine, so these assert its deterministic cause instead: which
modules the process has loaded when the program ends (the benchmark,
``benchmarks/bench_startup.py``, gives the milliseconds).
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from snapy_capture import CaptureLoader
from snapy_capture.hook import _startup

RUN = [sys.executable, "-m", "snapy_capture.run"]
#: Loaded only to capture (or to parse a target file, or to instrument a script): never when
#: no target is imported.
HEAVY = (
    *("wrapt", "yaml", "filelock", "asyncio", "typing", "logging", "dataclasses", "inspect"),
    *("tempfile", "shutil", "ast", "signal"),
)
REPORT = f"""
import atexit, json, sys
heavy = {HEAVY!r}
def loaded():
    return json.dumps(sorted(
        name for name in sys.modules
        if name.split(".")[0] in heavy
        or name.startswith(("snapy_capture.capture", "snapy_capture.config",
                            "snapy_capture.filters", "snapy_capture.storage"))
    ))
print(loaded())
# Registered by the program, so run after the runner's report at exit.
atexit.register(lambda: print(loaded()))
"""
WORK = "def work(x):\n    return x + 1\n"
NEVER_LINE = "snapy_capture: 1 of 1 targets captured nothing: tgt_never:work (see --report)\n"


def run(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    # Not measured by coverage (``make test`` measures children): coverage would load ast,
    # dataclasses and typing in the child, and call what the tests watch (os.path).
    plain = {k: v for k, v in os.environ.items() if not k.startswith("COVERAGE_PROCESS_")}
    return subprocess.run(
        args,
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**plain, **env},
        timeout=120,
        check=False,
    )


def loaded(result: subprocess.CompletedProcess[str], stderr: str = "") -> list[str]:
    """What the program had loaded when it ended, and still at exit (after our report)."""
    assert result.returncode == 0, result.stderr
    assert result.stderr == stderr
    lines = result.stdout.splitlines()
    names: list[str] = json.loads(lines[-2])
    assert json.loads(lines[-1]) == names
    return names


def test_runner_loads_no_capture_machinery_while_no_target_module_is_imported(
    tmp_path: Path, capture_dir: Path
) -> None:
    """The first run parses the target file (yaml) but loads no wrapt nor capture layer; every
    later run, with the file unchanged, loads neither yaml nor anything else heavy."""
    (tmp_path / "tgt_never.py").write_text(WORK)
    (tmp_path / "prog.py").write_text(REPORT)
    (tmp_path / "capture.yaml").write_text("version: 1\ntargets:\n  - tgt_never:work\n")

    first = loaded(run([*RUN, "prog.py"], tmp_path), NEVER_LINE)
    assert not [name for name in first if name.split(".")[0] in ("wrapt", "filelock", "asyncio")]
    assert not [name for name in first if name.startswith("snapy_capture.capture")]
    assert "yaml" in first  # the file was parsed: the cache was empty

    for _ in range(2):
        assert loaded(run([*RUN, "prog.py"], tmp_path), NEVER_LINE) == []
    assert not capture_dir.exists()


def _without_timings(value: Any) -> Any:
    """A report without the time capture took (``capture_ms``, ``capture_ns``): a run's own."""
    if isinstance(value, dict):
        return {k: _without_timings(v) for k, v in value.items() if not k.startswith("capture_")}
    if isinstance(value, list):
        return [_without_timings(item) for item in value]
    return value


def test_the_report_at_exit_is_the_same_with_the_cache(tmp_path: Path, capture_dir: Path) -> None:
    """--report from the cached targets (no parse) names each target, its line and why it
    captured nothing exactly as from the parsed file; a captured target is counted."""
    (tmp_path / "tgt_never.py").write_text(WORK)
    (tmp_path / "tgt_used.py").write_text(WORK)
    (tmp_path / "prog.py").write_text("import tgt_used\ntgt_used.work(1)\n")
    (tmp_path / "capture.yaml").write_text(
        "defaults: {async_storage: false, dedupe: false}\ntargets:\n"
        "  - tgt_never:work\n  - tgt_used:work\n  - tgt_used:nothing_*\n  - tgt_gone:work\n"
    )
    reports = []
    for index in range(2):
        done = run([*RUN, "--report", f"r{index}.json", "prog.py"], tmp_path)
        assert done.returncode == 0, done.stderr
        assert done.stderr.splitlines()[-1] == (
            "snapy_capture: 3 of 4 targets captured nothing: tgt_never:work, "
            f"tgt_used:nothing_*, tgt_gone:work (see {tmp_path / f'r{index}.json'})"
        )
        reports.append(json.loads((tmp_path / f"r{index}.json").read_text()))
    assert _without_timings(reports[0]) == _without_timings(reports[1])
    where = f"{tmp_path / 'capture.yaml'}:"
    assert [
        (t["target"], t["where"].replace(where, "line "), t["status"], t.get("why"))
        for t in reports[1]["targets"]
    ] == [
        (
            "tgt_never:work",
            "line 3",
            "module not imported",
            "the program never imported tgt_never",
        ),
        ("tgt_used:work", "line 4", "captured", None),
        (
            "tgt_used:nothing_*",
            "line 5",
            "matched nothing",
            "no function nothing_* in tgt_used",
        ),
        ("tgt_gone:work", "line 6", "module not imported", "no module named tgt_gone"),
    ]


def test_autoload_captures_the_script_with_the_cache_as_without(
    tmp_path: Path, capture_dir: Path
) -> None:
    """Autoload's script instrumentation (a target naming the script) on the run that parses
    the file and on those that use the cache."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text("import snapy_capture.autoload\n")
    (tmp_path / "app.py").write_text(
        "def summarize(items):\n    return len(items)\n\nprint(summarize([1, 2, 3]))\n"
    )
    config = tmp_path / "capture.yaml"
    config.write_text(
        "defaults: {async_storage: false, dedupe: false}\ntargets: ['app:summarize']\n"
    )
    env = {"PYTHONPATH": str(site), "SNAP_CAPTURE_CONFIG": str(config)}
    for runs in (1, 2, 3):
        done = run([sys.executable, "app.py"], tmp_path, **env)
        assert (done.returncode, done.stdout, done.stderr) == (0, "3\n", "")
        records = CaptureLoader(capture_dir).load_all("app:summarize")
        assert [r["args"] for r in records] == [[[1, 2, 3]]] * runs


def test_child_processes_load_no_capture_machinery_while_no_target_is_imported(
    tmp_path: Path, capture_dir: Path
) -> None:
    """A Python child of the runner (autoload through the bootstrap) starts as cheaply."""
    (tmp_path / "tgt_never.py").write_text(WORK)
    (tmp_path / "child.py").write_text(REPORT)
    (tmp_path / "prog.py").write_text(
        "import subprocess, sys\n"
        "done = subprocess.run([sys.executable, 'child.py'], capture_output=True, text=True)\n"
        "sys.stderr.write(done.stderr)\n"
        "print(done.stdout.strip())\n"
    )
    (tmp_path / "capture.yaml").write_text("targets: ['tgt_never:work']\n")
    run([*RUN, "prog.py"], tmp_path)  # fills the cache
    assert loaded(run([*RUN, "prog.py"], tmp_path), NEVER_LINE) == []


def test_a_target_imported_late_is_captured_with_the_cache_as_without(
    tmp_path: Path, capture_dir: Path
) -> None:
    """Same captures on the run that parses the file and on the run that uses the cache,
    including a target in a module the capture layer itself imports when it loads
    (``fnmatch``: wrapped once the load is done, like a module imported before the hook)."""
    (tmp_path / "tgt_late.py").write_text(WORK)
    (tmp_path / "prog.py").write_text(
        "import tgt_late\n"
        "print(tgt_late.work(1))\n"
        "import fnmatch\n"
        "print(fnmatch.fnmatch('a.py', '*.py'))\n"
    )
    (tmp_path / "capture.yaml").write_text(
        "defaults: {async_storage: false, dedupe: false}\n"
        "targets: ['tgt_late:work', 'fnmatch:fnmatch']\n"
    )
    for runs in (1, 2, 3):
        done = run([*RUN, "prog.py"], tmp_path)
        assert (done.returncode, done.stdout, done.stderr) == (0, "2\nTrue\n", "")
        loader = CaptureLoader(capture_dir)
        assert [r["args"] for r in loader.load_all("tgt_late:work")] == [[1]] * runs
        assert [r["args"] for r in loader.load_all("fnmatch:fnmatch")] == [["a.py", "*.py"]] * runs


def test_a_target_module_imported_with_the_cache_needs_no_yaml(
    tmp_path: Path, capture_dir: Path
) -> None:
    """With the cache, even the process that imports a target (and captures it) parses the
    cached document: yaml is not imported; nor is filelock, which POSIX does not need."""
    (tmp_path / "tgt_late.py").write_text(WORK)
    (tmp_path / "prog.py").write_text(
        "import sys, tgt_late\n"
        "print(tgt_late.work(1), 'yaml' in sys.modules, 'filelock' in sys.modules)\n"
    )
    (tmp_path / "capture.yaml").write_text(
        "version: 1\ndefaults: {async_storage: false, retention: 5, dedupe: false}\n"
        "targets:\n  - target: tgt_late:work\n    ignore_args: [token]\n"
    )
    outputs = [run([*RUN, "prog.py"], tmp_path).stdout for _ in range(2)]
    # filelock: the writers' lock is flock on POSIX; filelock is for Windows.
    no_filelock = sys.platform != "win32"
    assert outputs == [f"2 True {not no_filelock}\n", f"2 False {not no_filelock}\n"]
    assert len(CaptureLoader(capture_dir).load_all("tgt_late:work")) == 2


WRAPT_LATE = """
import sys, tgt_late
print(tgt_late.work(1), "wrapt" in sys.modules, "asyncio" in sys.modules)
import wrapt, wrapt.exceptions
def double(wrapped, instance, args, kwargs):
    return 2 * wrapped(*args, **kwargs)
print(wrapt.FunctionWrapper(tgt_late.work, double)(2), wrapt.exceptions.__name__,
      wrapt.exceptions.WrapperNotFoundError is wrapt.WrapperNotFoundError,
      getattr(wrapt, "_wrappers", None) is sys.modules.get("wrapt._wrappers"))
print(isinstance(tgt_late.work, wrapt.FunctionWrapper))
"""
WRAPT_EARLY = """
import wrapt, tgt_late
print(tgt_late.work(1), "wrapt" in sys.modules, "asyncio" in sys.modules)
print(isinstance(tgt_late.work, wrapt.FunctionWrapper))
""".replace("import wrapt", "import sys, wrapt")
WRAPT_AFTER_UNINSTALL = """
import sys, tgt_late, snapy_capture
print(tgt_late.work(1), "wrapt" in sys.modules, "asyncio" in sys.modules)
snapy_capture.uninstall_import_hook()
import wrapt.exceptions
print(wrapt.exceptions.__name__, wrapt._wrappers is sys.modules["wrapt._wrappers"])
"""
LATE = "6 wrapt.exceptions True True\nTrue\n"


@pytest.mark.parametrize(
    ("program", "env", "expected", "calls"),
    [
        (WRAPT_LATE, {}, "2 False False\n" + LATE, 2),
        (WRAPT_EARLY, {}, "2 True True\nTrue\n", 1),
        (WRAPT_LATE, {"WRAPT_DISABLE_EXTENSIONS": "1"}, "2 True True\n" + LATE, 2),
        (WRAPT_AFTER_UNINSTALL, {}, "2 False False\nwrapt.exceptions True\n", 1),
    ],
    ids=["wrapt after", "before", "without its C extension", "after the hook is gone"],
)
def test_a_captured_function_is_an_instance_of_the_programs_wrapt_types(
    tmp_path: Path,
    capture_dir: Path,
    program: str,
    env: dict[str, str],
    expected: str,
    calls: int,
) -> None:
    """The hook loads wrapt's C extension alone (not asyncio, importlib.metadata: issue 21),
    registered as the package would register it: a program importing wrapt later gets the
    whole package, with the very types capture wraps with (APM agents check ``isinstance``)
    and its submodules bound as attributes; one that imported wrapt before shares it."""
    (tmp_path / "tgt_late.py").write_text(WORK)
    (tmp_path / "prog.py").write_text(program)
    (tmp_path / "capture.yaml").write_text(
        "defaults: {async_storage: false, dedupe: false}\ntargets: ['tgt_late:work']\n"
    )
    for runs in (1, 2):
        done = run([*RUN, "prog.py"], tmp_path, **env)
        assert (done.returncode, done.stderr, done.stdout) == (0, "", expected)
        assert len(CaptureLoader(capture_dir).load_all("tgt_late:work")) == calls * runs


WRAPT_RACE = """
import sys, threading, time
seen = []
def other(delay):
    time.sleep(delay)
    import wrapt, wrapt.exceptions
    seen.append(hasattr(wrapt, "FunctionWrapper") and hasattr(wrapt.exceptions, "__name__"))
threads = [threading.Thread(target=other, args=(d / 2000,)) for d in range(8)]
for t in threads:
    t.start()
import tgt_late
for t in threads:
    t.join()
import wrapt
print(seen, isinstance(tgt_late.work, wrapt.FunctionWrapper), tgt_late.work(1))
"""


def test_threads_importing_wrapt_while_the_hook_loads_it_get_the_whole_package(
    tmp_path: Path, capture_dir: Path
) -> None:
    """Threads importing wrapt while the first target module loads its C extension wait for
    it (wrapt's import lock), then get the package, sharing its types with capture."""
    (tmp_path / "tgt_late.py").write_text(WORK)
    (tmp_path / "prog.py").write_text(WRAPT_RACE)
    (tmp_path / "capture.yaml").write_text(
        "defaults: {async_storage: false, dedupe: false}\ntargets: ['tgt_late:work']\n"
    )
    for runs in range(1, 6):
        done = run([*RUN, "prog.py"], tmp_path)
        assert (done.returncode, done.stderr) == (0, "")
        assert done.stdout == f"{[True] * 8} True 2\n"
        assert len(CaptureLoader(capture_dir).load_all("tgt_late:work")) == runs


WRAPT_MID_LOAD = """
import _imp, sys, threading, time
inside = threading.Event()
def pause(frame, event, arg):
    # A thread switch just as wrapt's C extension initializes, made certain.
    if (event == "c_call" and arg is _imp.exec_dynamic and not inside.is_set()
            and "wrapt.exceptions" in sys.modules and "wrapt._wrappers" not in sys.modules):
        inside.set()
        time.sleep(0.3)
seen = []
def other():
    inside.wait(10)
    import wrapt
    seen.append(hasattr(wrapt, "FunctionWrapper"))
thread = threading.Thread(target=other)
thread.start()
sys.setprofile(pause)
import tgt_late
sys.setprofile(None)
inside.set()
thread.join()
import wrapt
print(seen, isinstance(tgt_late.work, wrapt.FunctionWrapper), tgt_late.work(1),
      wrapt._wrappers.__spec__.origin == wrapt._wrappers.__file__)
"""


def test_a_thread_importing_wrapt_as_its_extension_initializes_gets_the_package(
    tmp_path: Path, capture_dir: Path
) -> None:
    """A thread that imports wrapt at the instant the hook's load of wrapt's C extension
    initializes it gets the whole package, as without capture (an empty placeholder package
    registered for that instant was what its ``import wrapt`` kept)."""
    (tmp_path / "tgt_late.py").write_text(WORK)
    (tmp_path / "prog.py").write_text(WRAPT_MID_LOAD)
    (tmp_path / "capture.yaml").write_text(
        "defaults: {async_storage: false, dedupe: false}\ntargets: ['tgt_late:work']\n"
    )
    done = run([*RUN, "prog.py"], tmp_path)
    assert (done.returncode, done.stderr, done.stdout) == (0, "", "[True] True 2 True\n")
    assert len(CaptureLoader(capture_dir).load_all("tgt_late:work")) == 1


WRAPT_VENDORED = """
import os, sys, tgt_late
sys.path.insert(0, os.path.abspath("vendored"))
import wrapt, wrapt.exceptions, wrapt._wrappers
here = os.path.dirname(wrapt.__file__)
print(here == os.path.abspath("vendored/wrapt"),
      [os.path.dirname(m.__file__) == here for m in (wrapt._wrappers, wrapt.exceptions)],
      wrapt.FunctionWrapper is wrapt._wrappers.FunctionWrapper, tgt_late.work(1))
"""


def test_a_program_putting_its_own_wrapt_first_gets_all_of_it(
    tmp_path: Path, capture_dir: Path
) -> None:
    """A program that puts its own copy of wrapt first on sys.path after the hook loaded
    wrapt's C extension alone imports that copy whole, as without capture: its own C
    extension and exceptions, not those the hook registered from the installed wrapt."""
    import wrapt

    shutil.copytree(
        Path(wrapt.__file__).parent,
        tmp_path / "vendored" / "wrapt",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    (tmp_path / "tgt_late.py").write_text(WORK)
    (tmp_path / "prog.py").write_text(WRAPT_VENDORED)
    (tmp_path / "capture.yaml").write_text(
        "defaults: {async_storage: false, dedupe: false}\ntargets: ['tgt_late:work']\n"
    )
    done = run([*RUN, "prog.py"], tmp_path)
    assert (done.returncode, done.stderr, done.stdout) == (0, "", "True [True, True] True 2\n")
    assert len(CaptureLoader(capture_dir).load_all("tgt_late:work")) == 1


WRAPT_REINSTALLED = """
import sys
from snapy_capture.hook import install_import_hook, uninstall_import_hook
install_import_hook({"version": 1, "targets": ["tgt_late:work"]})
import tgt_late
uninstall_import_hook()
install_import_hook({"version": 1, "targets": ["tgt_again:work"]})
import tgt_again, wrapt
print("wrapt" in sys.modules, isinstance(tgt_again.work, wrapt.FunctionWrapper),
      wrapt._wrappers is sys.modules["wrapt._wrappers"], tgt_again.work(1))
"""


def test_a_hook_installed_again_shares_wrapt_with_a_program_importing_it_then(
    tmp_path: Path, capture_dir: Path
) -> None:
    """A hook installed after another was removed (a test suite's fixtures) wraps with the
    types the program's ``import wrapt`` then gets, as the first hook would have, not with
    those of a second copy of wrapt's C extension (APM agents check ``isinstance``)."""
    (tmp_path / "tgt_late.py").write_text(WORK)
    (tmp_path / "tgt_again.py").write_text(WORK)
    (tmp_path / "prog.py").write_text(WRAPT_REINSTALLED)
    done = run([sys.executable, "prog.py"], tmp_path)
    assert (done.returncode, done.stderr, done.stdout) == (0, "", "True True True 2\n")
    assert len(CaptureLoader(capture_dir).load_all("tgt_again:work")) == 1


def test_a_document_that_is_not_plain_data_is_not_cached() -> None:
    """A YAML value marshal would not give back as is (a date) keeps the document out."""
    import datetime

    assert _startup.plain_document({"a": [1, "x", None, 2.5, True]}, ()) is not None
    assert _startup.plain_document({"a": [datetime.date(2024, 1, 1)]}, ()) is None


def test_the_runners_own_calls_stay_uncaptured_when_the_load_happens_at_install(
    tmp_path: Path, capture_dir: Path
) -> None:
    """A target in a module the interpreter loaded before the runner (``os.path``): wrapped at
    install, yet the runner's own calls (it makes the script path absolute) are not the
    program's, with the cache as without."""
    (tmp_path / "prog.py").write_text("import os.path\nprint(os.path.abspath('x') != 'x')\n")
    (tmp_path / "capture.yaml").write_text(
        "defaults: {async_storage: false, dedupe: false}\ntargets: ['posixpath:abspath']\n"
    )
    for runs in (1, 2):
        done = run([*RUN, "prog.py"], tmp_path)
        assert (done.returncode, done.stdout) == (0, "True\n"), done.stderr
        records = CaptureLoader(capture_dir).load_all("posixpath:abspath")
        assert [r["args"] for r in records] == [["x"]] * runs


def test_an_edited_target_file_is_parsed_again(tmp_path: Path, capture_dir: Path) -> None:
    """Same path, same size, new text: the cache entry is not used for it."""
    (tmp_path / "tgt_aaaa.py").write_text(WORK)
    (tmp_path / "tgt_bbbb.py").write_text(WORK)
    (tmp_path / "prog.py").write_text("import tgt_bbbb\ntgt_bbbb.work(1)\n")
    config = tmp_path / "capture.yaml"
    config.write_text(
        "defaults: {async_storage: false, dedupe: false}\ntargets: ['tgt_aaaa:work']\n"
    )
    assert run([*RUN, "prog.py"], tmp_path).returncode == 0
    config.write_text(
        "defaults: {async_storage: false, dedupe: false}\ntargets: ['tgt_bbbb:work']\n"
    )
    assert run([*RUN, "prog.py"], tmp_path).returncode == 0
    assert list(CaptureLoader(capture_dir).functions()) == ["tgt_bbbb:work"]


# --- the cache is only trusted when nobody else could have written it ------------------------

TEXT = "targets: ['pkg.mod:f']\n"


@pytest.fixture
def cache_root(tmp_path: Path) -> Path:
    root = tmp_path / "user-cache" / "snapy_capture"
    assert Path(os.environ["XDG_CACHE_HOME"]) == root.parent  # set by conftest
    return root


LISTED = (("pkg.mod", "f", "capture.yaml:1"),)


def entry_of(root: Path, path: str) -> Path:
    _startup.remember(path, TEXT, LISTED, None)
    (entry,) = root.iterdir()
    assert _startup.cached(path, TEXT) == (LISTED, None)
    return entry


def test_cache_entry_holds_for_its_path_and_text_only(cache_root: Path) -> None:
    """Another text, or another path in the same slot, finds nothing."""
    entry_of(cache_root, "/app/capture.yaml")
    assert stat.S_IMODE(cache_root.stat().st_mode) == 0o700
    assert _startup.cached("/app/capture.yaml", TEXT.replace("f", "g")) is None
    assert _startup.cached("/other/capture.yaml", TEXT) is None


@pytest.mark.parametrize(
    "spoil",
    [
        "entry writable by group",
        "entry writable by others",
        "directory writable by others",
        "entry is a symlink",
        "directory is a symlink",
        "entry is corrupt",
        "entry lists non-strings",
        "entry owned by someone else",
    ],
)
def test_cache_entry_others_could_write_is_never_trusted(
    cache_root: Path, tmp_path: Path, spoil: str
) -> None:
    """Any entry or directory another user could have written, or that is not what we write,
    is ignored (the caller then parses the file, as without a cache)."""
    entry = entry_of(cache_root, "/app/capture.yaml")
    if spoil == "entry writable by group":
        entry.chmod(0o620)
    elif spoil == "entry writable by others":
        entry.chmod(0o602)
    elif spoil == "directory writable by others":
        cache_root.chmod(0o777)
    elif spoil == "entry is a symlink":
        elsewhere = tmp_path / "planted"
        elsewhere.write_bytes(entry.read_bytes())
        entry.unlink()
        entry.symlink_to(elsewhere)
    elif spoil == "directory is a symlink":
        moved = tmp_path / "planted-dir"
        cache_root.rename(moved)
        cache_root.symlink_to(moved)
    elif spoil == "entry is corrupt":
        entry.write_bytes(entry.read_bytes()[:-7])
    elif spoil == "entry lists non-strings":
        import marshal

        fields = marshal.loads(entry.read_bytes())  # noqa: S302 - the test's own file
        entry.write_bytes(marshal.dumps((*fields[:4], (1, 2), None)))
    else:
        if os.geteuid() != 0:
            pytest.skip("only root can give a file away")
        os.chown(entry, 4321, -1)
    assert _startup.cached("/app/capture.yaml", TEXT) is None


def test_runner_ignores_a_planted_cache_entry(
    tmp_path: Path, capture_dir: Path, cache_root: Path
) -> None:
    """An entry others could write, claiming the file watches another module, changes
    nothing: the file is parsed and its real target captured."""
    (tmp_path / "tgt_real.py").write_text(WORK)
    (tmp_path / "prog.py").write_text("import tgt_real\ntgt_real.work(1)\n")
    config = tmp_path / "capture.yaml"
    text = "defaults: {async_storage: false, dedupe: false}\ntargets: ['tgt_real:work']\n"
    config.write_text(text)
    _startup.remember(str(config), text, (("tgt_decoy", "work", "capture.yaml:2"),), None)
    (entry,) = cache_root.iterdir()
    entry.chmod(0o666)
    done = run([*RUN, "prog.py"], tmp_path)
    assert (done.returncode, done.stderr) == (0, "")
    assert list(CaptureLoader(capture_dir).functions()) == ["tgt_real:work"]


def test_an_unusable_cache_directory_changes_nothing(tmp_path: Path, capture_dir: Path) -> None:
    """A cache directory that cannot be created (a file is in the way): parsed every time,
    captured, and not a word about it."""
    (tmp_path / "blocked").write_text("not a directory")
    (tmp_path / "tgt_real.py").write_text(WORK)
    (tmp_path / "prog.py").write_text("import tgt_real\ntgt_real.work(1)\n")
    (tmp_path / "capture.yaml").write_text(
        "defaults: {async_storage: false, dedupe: false}\ntargets: ['tgt_real:work']\n"
    )
    for _ in range(2):
        done = run([*RUN, "prog.py"], tmp_path, XDG_CACHE_HOME=str(tmp_path / "blocked"))
        assert (done.returncode, done.stderr) == (0, "")
    assert len(CaptureLoader(capture_dir).load_all("tgt_real:work")) == 2
