"""Bad input at the command line, the runner and code-level arguments: one line naming what is
wrong, the documented exit code, never a silent exit or a traceback of ours.

Found by trying bad input on every command (review "attack4", 2026-12-05).
"""

from __future__ import annotations

import io
import os
import pickle
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from snapy_capture import CaptureStorage, cli


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(list(argv), stdout=out, stderr=err, stdin=io.StringIO())
    return code, out.getvalue(), err.getvalue()


def one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    errors = [line for line in lines if line.startswith("snapy-capture: error: ")]
    assert len(errors) == 1, err
    assert "Traceback" not in err
    return errors[0]


@pytest.fixture
def exiting_class(tmp_path: Path) -> tuple[Path, Path]:
    """A capture holding an instance of ``tgt_exits.Point``, whose module now calls
    ``sys.exit(4)`` at import: (project directory, capture directory)."""
    project = tmp_path / "project"
    project.mkdir()
    source = project / "tgt_exits.py"
    source.write_text("class Point:\n    def __init__(self, x):\n        self.x = x\n")
    sys.path.insert(0, str(project))
    try:
        import tgt_exits  # type: ignore[import-not-found]

        point = tgt_exits.Point(3)
        captures = tmp_path / "captures"
        CaptureStorage(captures, retention=None).save(
            {
                "function_name": "area",
                "module": "tgt_geo",
                "qualname": "area",
                "timestamp": "2026-01-01T00:00:00.000000Z",
                "args": [point],
                "kwargs": {},
                "metadata": {"call_depth": 0, "thread_id": "MainThread", "pid": 1},
            }
        )
        pickle.dumps(point)  # the class pickles by reference: loading imports tgt_exits
    finally:
        sys.path.remove(str(project))
        sys.modules.pop("tgt_exits", None)
    source.write_text("import sys\nsys.exit(4)\n")
    return project, captures


@pytest.mark.parametrize("command", ["show", "export"])
def test_a_module_calling_sys_exit_while_unpickling_is_a_skipped_file(
    command: str, exiting_class: tuple[Path, Path]
) -> None:
    """Unpickling imports the captured class's module; one that calls sys.exit() at import
    made show/export end silently with its exit code (4). Now the file is skipped with a
    note naming it, and the command fails with one line (exit 1), as for any unreadable file."""
    project, captures = exiting_class
    code, _out, err = run(command, "area", "--path", str(captures), "--import-path", str(project))
    assert code == 1, err
    assert "000000000000.cap" in err
    assert "SystemExit" in err
    assert "no readable capture" in one_error_line(err)
    sys.modules.pop("tgt_exits", None)


def test_a_substitutes_file_calling_sys_exit_is_one_error_line(tmp_path: Path) -> None:
    """A --substitutes .py that calls sys.exit() made gen-tests exit silently with its code."""
    subs = tmp_path / "subs.py"
    subs.write_text("import sys\nsys.exit(3)\n")
    code, _out, err = run(
        "gen-tests", "anything", "--path", str(tmp_path), "--substitutes", str(subs)
    )
    assert code == 1, err
    line = one_error_line(err)
    assert str(subs) in line
    assert "SystemExit" in line


def test_gen_tests_of_a_module_calling_sys_exit_is_one_error_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """gen-tests imports the target's module to inspect it; a module that calls sys.exit()
    at import made it exit silently with that code."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "tgt_quits.py").write_text("import sys\nsys.exit(5)\n")
    CaptureStorage(tmp_path / "captures", retention=None).save(
        {
            "function_name": "go",
            "module": "tgt_quits",
            "qualname": "go",
            "timestamp": "2026-01-01T00:00:00.000000Z",
            "args": [1],
            "kwargs": {},
            "metadata": {"call_depth": 0, "thread_id": "MainThread", "pid": 1},
        }
    )
    code, _out, err = run("gen-tests", "tgt_quits:go", "--path", str(tmp_path / "captures"))
    sys.modules.pop("tgt_quits", None)
    assert code == 1, err
    line = one_error_line(err)
    assert "tgt_quits" in line
    assert "SystemExit" in line


def test_any_other_sys_exit_from_user_code_is_one_error_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The general net: a SystemExit escaping a command is an error line, not a silent exit."""

    def exits(*_args: object) -> int:
        raise SystemExit(7)

    monkeypatch.setattr(cli.commands, "cmd_list", exits)
    code, _out, err = run("list")
    assert code == 1
    line = one_error_line(err)
    assert "sys.exit(7)" in line
    assert "'list'" in line


def _runner(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SNAP_CAPTURE")}
    return subprocess.run(
        [sys.executable, "-m", "snapy_capture.run", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(
    ("report_name", "why"),
    [("missing/report.json", "does not exist"), ("reports", "is a directory")],
)
def test_runner_refuses_a_report_it_could_not_write_before_the_program_runs(
    tmp_path: Path, report_name: str, why: str
) -> None:
    """--report into a directory that does not exist was found out only at exit, after the
    program had run (perhaps for hours): the report was lost. Now it is a usage error (exit
    2) naming the file, before anything runs."""
    (tmp_path / "capture.yaml").write_text("version: 1\ntargets: ['tgt_none:f']\n")
    marker = tmp_path / "RAN"
    (tmp_path / "app.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    (tmp_path / "reports").mkdir()
    report = tmp_path / report_name
    result = _runner("--report", str(report), "app.py", cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert not marker.exists()
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("python -m snapy_capture.run: error: --report")
    assert str(report) in lines[-1]
    assert why in lines[-1]
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("report_name", ["capture.yaml", "app.py", "data.csv"])
def test_runner_refuses_a_report_that_would_overwrite_a_file_of_the_users(
    tmp_path: Path, report_name: str
) -> None:
    """``--report capture.yaml app.py`` (or the script's own name) overwrote the target file
    (the script) with the JSON report at exit: the user's file was lost. A file that is not a
    report of ours is now refused, before the program runs; an earlier report is replaced."""
    files = {
        "capture.yaml": "version: 1\ntargets: ['tgt_none:f']\n",
        "app.py": "open('RAN', 'w').close()\n",
        "data.csv": "id,amount\n1,20\n",
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    result = _runner("--report", report_name, "app.py", cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert result.stderr == (
        f"python -m snapy_capture.run: error: --report {report_name}: exists and is not a "
        "report of ours; refusing to overwrite it\n"
    )
    assert not (tmp_path / "RAN").exists()
    assert {name: (tmp_path / name).read_text() for name in files} == files
    # A report written by an earlier run is replaced, as before.
    assert _runner("--report", "report.json", "app.py", cwd=tmp_path).returncode == 0
    assert _runner("--report", "report.json", "app.py", cwd=tmp_path).returncode == 0


def test_runner_replaces_a_report_written_with_windows_line_ends(tmp_path: Path) -> None:
    """The report is written in text mode: on Windows it begins ``{\r\n  "version": ``, which
    the check of an existing ``--report`` file did not recognize as a report of ours, so every
    run after the first refused to start ("exists and is not a report of ours")."""
    (tmp_path / "capture.yaml").write_text("version: 1\ntargets: ['tgt_none:f']\n")
    (tmp_path / "app.py").write_text("open('RAN', 'w').close()\n")
    assert _runner("--report", "report.json", "app.py", cwd=tmp_path).returncode == 0
    report = tmp_path / "report.json"
    text = report.read_text()
    # As Windows' text mode writes it (newline=None translates each "\n").
    report.write_bytes(text.replace("\n", "\r\n").encode())
    (tmp_path / "RAN").unlink()
    result = _runner("--report", "report.json", "app.py", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "RAN").exists()
    assert report.read_text() == text


def test_enable_refuses_a_site_dir_that_does_not_exist(tmp_path: Path) -> None:
    """`enable --site-dir TYPO` created the directory and said processes "are now captured",
    though no interpreter reads a .pth there."""
    missing = tmp_path / "site-packagez"
    code, out, err = run("enable", "--site-dir", str(missing))
    assert code == 1, out
    assert str(missing) in one_error_line(err)
    assert not missing.exists()
    assert "Enabled" not in out


@pytest.mark.parametrize(
    ("call", "kind", "names"),
    [
        ("load_capture(5)", TypeError, "name must be a string"),
        ("has_capture(None)", TypeError, "name must be a string"),
        ("load_capture_dict(b'f')", TypeError, "name must be a string"),
        ("load_capture('f', path=5)", ValueError, "option 'path'"),
        ("CaptureLoader(path=5)", ValueError, "option 'path'"),
        ("load_capture('f', storage=5)", ValueError, "option 'storage'"),
        ("CaptureLoader(storage='x')", ValueError, "option 'storage'"),
        ("CaptureLoader().load_by_index('f', 'a')", TypeError, "index must be an integer"),
    ],
)
def test_bad_loader_arguments_name_the_argument(
    call: str, kind: type[Exception], names: str, capture_dir: Path
) -> None:
    """Loading with a wrong type raised AttributeError/TypeError from deep inside
    (``'int' object has no attribute 'partition'``); now one line naming the argument, as
    ``capture_args`` does for the same values (ConfigError, a ValueError, for path/storage)."""
    import snapy_capture

    namespace = {name: getattr(snapy_capture, name) for name in snapy_capture.__all__}
    with pytest.raises(kind) as info:
        eval(call, namespace)  # noqa: S307 - the calls above, written out for the report
    message = str(info.value)
    assert len(message.splitlines()) == 1
    assert names in message


def test_runner_report_check_does_not_stop_a_good_report(tmp_path: Path) -> None:
    """The check above lets a report in an existing directory through."""
    (tmp_path / "capture.yaml").write_text("version: 1\ntargets: ['tgt_none:f']\n")
    (tmp_path / "app.py").write_text("print('ran')\n")
    result = _runner("--report", "report.json", "app.py", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "ran\n"
    assert (tmp_path / "report.json").exists()


def _json_dumps_capture(root: Path) -> None:
    CaptureStorage(root, retention=None).save(
        {
            "function_name": "dumps",
            "module": "json",
            "qualname": "dumps",
            "timestamp": "2026-01-01T00:00:00.000000Z",
            "args": ["x"],
            "kwargs": {},
            "metadata": {"call_depth": 0, "thread_id": "MainThread", "pid": 1},
        }
    )


def test_gen_tests_into_a_directory_leaves_nothing_half_written(tmp_path: Path) -> None:
    """`gen-tests NAME -o DIR --force` froze the captures next to DIR, then failed to write
    the module ("IsADirectoryError: Is a directory"): a suite's captures with no module."""
    _json_dumps_capture(tmp_path / "captures")
    out = tmp_path / "tests" / "test_dumps.py"
    out.mkdir(parents=True)
    code, _out, err = run(
        "gen-tests", "json:dumps", "--path", str(tmp_path / "captures"), "-o", str(out), "--force"
    )
    assert code == 1, err
    assert f"{out} is a directory" in one_error_line(err)
    assert sorted(p.name for p in (tmp_path / "tests").iterdir()) == ["test_dumps.py"]


def test_gen_tests_under_a_file_names_that_file(tmp_path: Path) -> None:
    """An output path under a file named a temporary file of ours
    (``.../snapy_captures/.json%3Adumps.new``); now the file in the way."""
    _json_dumps_capture(tmp_path / "captures")
    blocker = tmp_path / "notes.txt"
    blocker.write_text("")
    out = blocker / "tests" / "test_dumps.py"
    code, _out, err = run(
        "gen-tests", "json:dumps", "--path", str(tmp_path / "captures"), "-o", str(out)
    )
    assert code == 1, err
    line = one_error_line(err)
    assert f"{blocker} is not a directory" in line
    assert ".new" not in line


@pytest.mark.parametrize("command", ["push", "pull"])
def test_transfer_from_a_missing_directory_is_an_error(command: str, tmp_path: Path) -> None:
    """`push DIR URL` (or pull) from a mistyped local directory said "Pushed 0 capture(s) of
    0 function(s)" and exited 0."""
    missing = tmp_path / "captrues"
    code, out, err = run(command, str(missing), str(tmp_path / "copy"))
    assert code == 1, out
    assert f"{missing}: no such capture directory" in one_error_line(err)
    assert out == ""
    assert not (tmp_path / "copy").exists()


def test_list_of_a_file_says_it_is_a_file(tmp_path: Path) -> None:
    """`list --path FILE` said the directory "does not exist", though it is there: a file."""
    target = tmp_path / "captures.tar"
    target.write_text("")
    code, out, _err = run("list", "--path", str(target))
    assert code == 0
    assert (
        out.splitlines()[0] == f"No captures in {target} (it is a file, not a capture directory)."
    )


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_gen_tests_freezes_only_regular_capture_files(tmp_path: Path) -> None:
    """A named pipe among the capture files made gen-tests fail ("SpecialFileError: ... is a
    named pipe"); a link would have been followed by the copy. Now only regular files are
    frozen, read without following links, and the suite is written."""
    root = tmp_path / "captures"
    _json_dumps_capture(root)
    (directory,) = [p for p in root.iterdir() if p.is_dir()]
    os.mkfifo(directory / "000000000009.cap")
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-VALUE")
    (directory / "000000000008.cap").symlink_to(secret)
    assert run("prune", "--path", str(root))[0] == 0
    out = tmp_path / "tests" / "test_dumps.py"
    code, _out, err = run("gen-tests", "json:dumps", "--path", str(root), "-o", str(out))
    assert code == 0, err
    frozen = out.parent / "snapy_captures" / directory.name
    names = sorted(p.name for p in frozen.iterdir())
    assert names == [".function.json", "000000000000.cap"]
    for path in frozen.iterdir():
        assert b"TOP-SECRET-VALUE" not in path.read_bytes()


@pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")
def test_gen_tests_freezes_captures_private_as_they_were(tmp_path: Path) -> None:
    """The frozen copies were written with the umask's mode (0644 under 022): production data
    readable by every user, where the captures they copy are 0600 in 0700 directories."""
    root = tmp_path / "captures"
    _json_dumps_capture(root)
    out = tmp_path / "tests" / "test_dumps.py"
    old = os.umask(0o022)
    try:
        code, _out, err = run("gen-tests", "json:dumps", "--path", str(root), "-o", str(out))
    finally:
        os.umask(old)
    assert code == 0, err
    (frozen,) = (out.parent / "snapy_captures").iterdir()
    assert stat.S_IMODE(frozen.stat().st_mode) == 0o700
    files = list(frozen.iterdir())
    assert {p.name for p in files} >= {".function.json", "000000000000.cap"}
    assert {stat.S_IMODE(p.stat().st_mode) for p in files} == {0o600}
