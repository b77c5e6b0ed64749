"""The snapy-capture command line, driven through ``cli.main(argv, stdout, stderr, stdin)``."""

from __future__ import annotations

import io
import json
import os
import sys
import textwrap
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from snapy_capture import (
    CaptureStorage,
    SnapyCaptureWarning,
    capture_args,
    cli,
    flush,
    install_import_hook,
    uninstall_import_hook,
)
from snapy_capture.storage.serializers import JSONSerializer


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


class FakeTerminal(io.StringIO):
    """A stdin that claims to be a terminal, with the user's typed answer."""

    def isatty(self) -> bool:
        return True


def run(*argv: str, stdin: io.StringIO | None = None) -> Result:
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(list(argv), stdout=out, stderr=err, stdin=stdin or io.StringIO())
    return Result(code, out.getvalue(), err.getvalue())


def record(qualname: str, *args: Any, module: str = "app.auth", **extra: Any) -> dict[str, Any]:
    return {
        "function_name": qualname.rsplit(".", 1)[-1],
        "module": module,
        "qualname": qualname,
        "timestamp": "2026-01-01T00:00:00.000000Z",
        "args": list(args),
        "kwargs": extra.pop("kwargs", {}),
        "metadata": {"call_depth": 0, "thread_id": "MainThread", "pid": 1, "redactions": []},
        **extra,
    }


def save(root: Path, qualname: str, *values: Any, module: str = "app.auth") -> list[Path]:
    store = CaptureStorage(root, retention=None)
    return [store.save(record(qualname, value, module=module)) for value in values]


def assert_one_error_line(result: Result, *fragments: str) -> None:
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, result.err
    assert lines[0].startswith("snapy-capture: error: ")
    assert "Traceback" not in result.err
    for fragment in fragments:
        assert fragment in lines[0]


# --- list -------------------------------------------------------------------------------


def test_list_on_missing_directory_is_a_friendly_line(capture_dir: Path) -> None:
    """With nothing captured yet, list says so and succeeds."""
    result = run("list")
    assert result.code == 0
    first, hint = result.out.strip().splitlines()
    assert first == f"No captures in {capture_dir} (the directory does not exist)."
    assert "--path" in hint
    assert result.err == ""


def test_list_json_on_empty_directory(tmp_path: Path) -> None:
    """--json on an empty root is a valid document with no functions."""
    (tmp_path / "empty").mkdir()
    result = run("list", "--json", "--path", str(tmp_path / "empty"))
    assert result.code == 0
    assert result.json() == {"path": str(tmp_path / "empty"), "functions": []}


def test_list_shows_one_row_per_function_with_counts(capture_dir: Path) -> None:
    """Each captured function gets its name, capture count, times, size and directory."""
    save(capture_dir, "login", 1, 2, 3)
    save(capture_dir, "Svc.charge", 1, module="app.pay")
    result = run("list")
    assert result.code == 0
    rows = {line.split()[0]: line.split() for line in result.out.splitlines()[2:-1]}
    # captures, calls, corrupt
    assert rows["app.auth:login"][1:4] == ["3", "3", "0"]
    assert rows["app.pay:Svc.charge"][1:4] == ["1", "1", "0"]
    assert result.out.splitlines()[0] == f"Captures in {capture_dir}:"
    assert result.out.splitlines()[-1] == "2 function(s), 4 capture(s)."


def test_list_json_is_stable_machine_output(capture_dir: Path) -> None:
    """--json gives every field a script needs, in bytes and ISO times."""
    files = save(capture_dir, "login", 1, 2)
    old = time.time() - 86400
    os.utime(files[0], (old, old))
    data = run("list", "--json").json()
    (entry,) = data["functions"]
    assert entry["name"] == "app.auth:login"
    assert (entry["module"], entry["qualname"]) == ("app.auth", "login")
    assert entry["count"] == 2
    assert entry["corrupt"] == 0
    assert entry["size_bytes"] == sum(f.stat().st_size for f in files)
    assert entry["oldest"] < entry["newest"]
    assert entry["oldest"].endswith("Z")
    assert entry["directory"] == str(files[0].parent)


def test_list_counts_corrupt_files_separately(capture_dir: Path) -> None:
    """Truncated or foreign capture files are counted as corrupt, not as captures."""
    files = save(capture_dir, "login", 1, 2, 3)
    files[0].write_bytes(files[0].read_bytes()[:-5])  # truncated pickle
    files[1].write_bytes(b"#snapy-capture {not json")  # broken header
    data = run("list", "--json").json()
    assert (data["functions"][0]["count"], data["functions"][0]["corrupt"]) == (1, 2)
    text = run("list")
    assert text.code == 0
    assert "2 corrupt file(s)" in text.out


def test_list_hides_functions_whose_captures_were_cleared(capture_dir: Path) -> None:
    """A function directory left empty by clear is not listed."""
    save(capture_dir, "login", 1)
    CaptureStorage(capture_dir).clear()
    assert run("list").out.startswith(f"No captures in {capture_dir}.")


def test_path_option_overrides_the_default_before_or_after_the_command(
    capture_dir: Path, tmp_path: Path
) -> None:
    """--path works after the command name and before it."""
    other = tmp_path / "other"
    save(other, "elsewhere", 1)
    save(capture_dir, "here", 1)
    assert "app.auth:elsewhere" in run("list", "--path", str(other)).out
    assert "app.auth:elsewhere" in run("--path", str(other), "list").out
    assert "app.auth:here" in run("list").out


def test_default_path_follows_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Without --path the root is SNAP_CAPTURE_DEFAULT_PATH, as for the library."""
    save(tmp_path / "env-root", "viaenv", 1)
    monkeypatch.setenv("SNAP_CAPTURE_DEFAULT_PATH", str(tmp_path / "env-root"))
    from snapy_capture import config

    config.reload_environment()
    assert "app.auth:viaenv" in run("list").out


# --- show -------------------------------------------------------------------------------


def test_show_prints_a_decorated_capture_without_the_secret(capture_dir: Path) -> None:
    """show prints args, kwargs, metadata, the redaction report and the result."""

    @capture_args(record_result=True)
    def login(user: str, password: str, *, attempts: int = 1) -> str:
        return f"token-{user}"

    login("alice", "hunter2-secret", attempts=3)
    result = run("show", "login")
    assert result.code == 0, result.err
    out = result.out
    assert "[0] 'alice'" in out
    assert "hunter2-secret" not in out
    assert "[1] '[FILTERED:" in out
    assert "attempts = 3" in out
    assert "call_depth: 0" in out
    assert "redactions: 1 value(s) filtered before storing" in out
    assert "  password: " in out
    assert "result: returned 'token-alice'" in out


def test_show_reports_a_recorded_exception(capture_dir: Path) -> None:
    """A capture whose call raised shows the exception type and message."""
    CaptureStorage(capture_dir).save(
        record(
            "pay",
            5,
            result={
                "exception": {
                    "type": "ValueError",
                    "module": "builtins",
                    "message": "card declined",
                }
            },
        )
    )
    out = run("show", "pay").out
    assert "result: raised ValueError: card declined" in out


def test_show_cuts_long_values_and_full_prints_them_whole(capture_dir: Path) -> None:
    """A huge argument is a few lines by default, saying how much is left out (not a line per
    item: 6.25 million lines in issue 21); --full prints it all."""
    big = list(range(200_000))
    CaptureStorage(capture_dir).save(
        record(
            "load",
            big,
            "x" * 10_000,
            kwargs={"rows": {f"k{i}": [i] * 3 for i in range(500)}, "small": [1, 2]},
            result={"value": {"nested": [[[[[[[["deep"]]]]]]]]}},
        )
    )
    short = run("show", "load")
    assert short.code == 0, short.err
    assert len(short.out.splitlines()) < 80
    assert "... 199,980 more item(s)" in short.out
    assert "... (9,700 more characters)" in short.out
    assert "...: 480 more item(s)}" in short.out
    assert "small = [1, 2]" in short.out
    assert "<list of 1 item(s)>" in short.out
    assert short.out.rstrip().endswith("(long values shortened; --full shows them whole)")

    full = run("show", "load", "--full")
    assert full.code == 0, full.err
    assert len(full.out.splitlines()) > 200_000
    assert "199999" in full.out
    assert "x" * 10_000 in full.out
    assert "more item(s)" not in full.out
    assert "--full" not in full.out


def test_show_cuts_the_attributes_of_the_instance_too(capture_dir: Path) -> None:
    """The receiver's attributes are cut like arguments (a Markdown instance's 58 block-level
    tags printed one per line); --full prints them whole."""
    import argparse

    instance = argparse.Namespace(tags=[f"tag{i}" for i in range(58)], text="y" * 1_000)
    CaptureStorage(capture_dir).save(
        record("Svc.convert", "x", self=instance, self_after=instance, result={"value": 1})
    )
    short = run("show", "Svc.convert")
    assert short.code == 0, short.err
    assert short.out.count("... 38 more item(s)") == 2  # self and self_after
    assert short.out.count("... (700 more characters)") == 2
    assert "'tag57'" not in short.out
    assert "  .tags = ['tag0'," in short.out
    assert short.out.rstrip().endswith("(long values shortened; --full shows them whole)")

    full = run("show", "Svc.convert", "--full")
    assert full.out.count("'tag57'") == 2
    assert "more item(s)" not in full.out


def test_a_project_in_the_working_directory_is_named_when_its_classes_cannot_be_loaded(
    capture_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Run where the project is, show and export name it and say ``--import-path .`` (the
    working directory is never imported from by default); export of nothing readable is an
    error (exit 1), not an empty list."""
    project = tmp_path / "project"
    (project / "blogapp").mkdir(parents=True)
    (project / "blogapp" / "__init__.py").write_text("")
    (project / "blogapp" / "publisher.py").write_text("class Publisher:\n    site = 'x'\n")
    sys.path.insert(0, str(project))
    try:
        from blogapp.publisher import Publisher  # type: ignore[import-not-found]

        CaptureStorage(capture_dir).save(record("Publisher.render", "text", self=Publisher()))
    finally:
        sys.path.remove(str(project))
        for name in ("blogapp", "blogapp.publisher"):
            sys.modules.pop(name, None)
    monkeypatch.chdir(project)
    for command in ("show", "export"):
        failed = run(command, "Publisher.render")
        assert failed.code == 1, (command, failed.out)
        assert failed.out == ""
        last = failed.err.strip().splitlines()[-1]
        assert "blogapp is in the working directory" in last
        assert "--import-path ." in last
    try:
        assert run("export", "Publisher.render", "--import-path", ".").code == 0
    finally:
        for name in ("blogapp", "blogapp.publisher"):
            sys.modules.pop(name, None)


def test_show_says_nothing_about_shortening_when_nothing_was_cut(capture_dir: Path) -> None:
    """Values within the limits print as before, with no note."""
    CaptureStorage(capture_dir).save(record("login", ["a"] * 20, "b" * 300))
    out = run("show", "login").out
    assert out.count("'a'") == 20
    assert f"'{'b' * 300}'" in out
    assert "more" not in out
    assert "shortened" not in out


def test_show_without_result_says_it_was_not_recorded(capture_dir: Path) -> None:
    """When record_result was off, show says so instead of inventing a result."""
    save(capture_dir, "login", 1)
    assert "result: not recorded" in run("show", "login").out


def test_show_index_counts_from_the_newest(capture_dir: Path) -> None:
    """--index 0 is the newest capture, --index 2 the third newest."""
    save(capture_dir, "login", "first", "second", "third")
    assert "[0] 'third'" in run("show", "login").out
    assert "[0] 'first'" in run("show", "login", "--index", "2").out


def test_show_index_out_of_range_is_one_line_exit_1(capture_dir: Path) -> None:
    """Asking for more captures than exist names the count."""
    save(capture_dir, "login", 1, 2)
    result = run("show", "login", "--index", "5")
    assert result.code == 1
    assert_one_error_line(result, "app.auth:login has 2 readable capture(s)", "index 5")


def test_show_negative_index_is_a_usage_error(capture_dir: Path) -> None:
    """A negative --index is refused by the argument parser (exit 2)."""
    save(capture_dir, "login", 1)
    result = run("show", "login", "--index", "-1")
    assert result.code == 2
    assert_one_error_line(result, "--index")


def test_show_json_is_parseable_and_keeps_placeholders(capture_dir: Path) -> None:
    """--json gives the record with tagged values; a placeholder stays a placeholder."""

    @capture_args()
    def connect(host: str, port: tuple[int, int], api_key: str) -> None:
        return None

    connect("db", (1, 2), api_key="sk-live-123")
    result = run("show", "connect", "--json")
    assert result.code == 0
    data = result.json()
    assert data["index"] == 0
    assert data["function"].endswith(
        ":test_show_json_is_parseable_and_keeps_placeholders.<locals>.connect"
    )
    capture = data["capture"]
    assert capture["args"][:2] == ["db", {"__snapy__": "tuple", "items": [1, 2]}]
    assert capture["kwargs"]["api_key"]["__snapy__"] == "redacted"
    assert "sk-live-123" not in result.out


def test_show_unknown_name_names_function_and_path(capture_dir: Path) -> None:
    """An unknown function is exit 1 and one line naming it and the path searched."""
    save(capture_dir, "login", 1)
    result = run("show", "no_such_function")
    assert result.code == 1
    assert result.out == ""
    assert_one_error_line(result, "'no_such_function'", str(capture_dir))


def test_show_ambiguous_name_lists_the_candidates(capture_dir: Path) -> None:
    """A suffix matching two functions is exit 1 listing both full names."""
    save(capture_dir, "A.login", 1)
    save(capture_dir, "B.login", 1)
    result = run("show", "login")
    assert result.code == 1
    assert_one_error_line(result, "app.auth:A.login", "app.auth:B.login")
    assert run("show", "app.auth:B.login").code == 0


def test_show_skips_corrupt_files_with_a_note(capture_dir: Path) -> None:
    """A corrupt newest capture is skipped with a note; the next readable one is shown."""
    files = save(capture_dir, "login", "good", "broken")
    files[1].write_bytes(files[1].read_bytes()[:20])
    result = run("show", "login")
    assert result.code == 0
    assert "[0] 'good'" in result.out
    assert "snapy-capture: note: skipping" in result.err
    assert files[1].name in result.err


def test_show_with_only_corrupt_files_fails_cleanly(capture_dir: Path) -> None:
    """When no capture can be read, show says so and exits 1."""
    (path,) = save(capture_dir, "login", 1)
    path.write_bytes(b"")
    result = run("show", "login")
    assert result.code == 1
    assert "no readable capture" in result.err
    assert "Traceback" not in result.err


# --- prune ------------------------------------------------------------------------------


def test_prune_applies_retention_and_says_what_it_removed(capture_dir: Path) -> None:
    """prune --retention 2 keeps the two newest per function and lists the removals."""
    files = save(capture_dir, "login", 1, 2, 3, 4)
    save(capture_dir, "logout", 1)
    result = run("prune", "--retention", "2")
    assert result.code == 0
    assert "app.auth:login: removed 2 capture(s)" in result.out
    assert "logout" not in result.out
    assert [f.exists() for f in files] == [False, False, True, True]


def test_prune_uses_configured_retention_by_default(
    capture_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without --retention, prune applies SNAP_CAPTURE_DEFAULT_RETENTION."""
    files = save(capture_dir, "login", 1, 2, 3)
    monkeypatch.setenv("SNAP_CAPTURE_DEFAULT_RETENTION", "1")
    from snapy_capture import config

    config.reload_environment()
    assert run("prune").code == 0
    assert [f.exists() for f in files] == [False, False, True]


def test_prune_max_age_and_retention_none(capture_dir: Path) -> None:
    """--max-age drops old captures; --retention none keeps any number of the rest."""
    files = save(capture_dir, "login", *range(15))
    old = time.time() - 3 * 86400
    for path in files[:5]:
        os.utime(path, (old, old))
    result = run("prune", "--retention", "none", "--max-age", "2d")
    assert result.code == 0
    assert "retention=none, max-age=2d" in result.out
    assert sum(f.exists() for f in files) == 10


def test_prune_removes_orphaned_temp_files_only_when_stale(capture_dir: Path) -> None:
    """A temp file left by a crashed writer goes; one being written right now stays."""
    (path,) = save(capture_dir, "login", 1)
    stale, fresh = path.parent / ".tmp-crashed", path.parent / ".tmp-writing"
    stale.write_bytes(b"x")
    fresh.write_bytes(b"x")
    old = time.time() - 2 * 3600
    os.utime(stale, (old, old))
    result = run("prune", "--json")
    assert result.code == 0
    assert result.json()["removed"] == [str(stale)]
    assert fresh.exists()
    assert path.exists()


def test_prune_with_nothing_to_do(capture_dir: Path) -> None:
    """An already tidy directory is a one-line 'nothing to prune'."""
    save(capture_dir, "login", 1)
    result = run("prune")
    assert result.code == 0
    assert result.out.startswith("Nothing to prune in ")


@pytest.mark.parametrize(
    ("option", "value"), [("--retention", "0"), ("--retention", "many"), ("--max-age", "soon")]
)
def test_prune_bad_values_are_usage_errors(capture_dir: Path, option: str, value: str) -> None:
    """A bad --retention/--max-age is exit 2 and one line naming the option."""
    (path,) = save(capture_dir, "login", 1)
    result = run("prune", option, value)
    assert result.code == 2
    assert_one_error_line(result, option)
    assert path.exists()


# --- clear ------------------------------------------------------------------------------


def test_clear_refuses_without_terminal_and_without_yes(capture_dir: Path) -> None:
    """Scripts must pass --yes: without a tty, clear deletes nothing and exits 2."""
    files = save(capture_dir, "login", 1, 2)
    result = run("clear", "login")
    assert result.code == 2
    assert_one_error_line(result, "--yes")
    assert all(f.exists() for f in files)


def test_clear_with_yes_deletes_only_that_function(capture_dir: Path) -> None:
    """clear NAME --yes deletes that function's captures and no other."""
    login = save(capture_dir, "login", 1, 2)
    other = save(capture_dir, "logout", 1)
    result = run("clear", "login", "--yes")
    assert result.code == 0
    assert "Deleted 2 capture file(s)" in result.out
    assert not any(f.exists() for f in login)
    assert all(f.exists() for f in other)


@pytest.mark.parametrize(
    ("answer", "deleted"), [("y\n", True), ("yes\n", True), ("n\n", False), ("\n", False)]
)
def test_clear_asks_on_a_terminal(capture_dir: Path, answer: str, deleted: bool) -> None:
    """On a terminal clear asks first; only yes deletes."""
    files = save(capture_dir, "login", 1)
    result = run("clear", "login", stdin=FakeTerminal(answer))
    assert "Delete 1 capture file(s)" in result.out
    assert result.code == (0 if deleted else 1)
    assert files[0].exists() is not deleted


def test_clear_all(capture_dir: Path) -> None:
    """clear --all --yes empties every function."""
    files = save(capture_dir, "login", 1) + save(capture_dir, "other", 2, module="x")
    assert run("clear", "--all", "--yes").code == 0
    assert not any(f.exists() for f in files)
    assert run("list").out.startswith("No captures")


@pytest.mark.parametrize("argv", [["clear"], ["clear", "login", "--all"]])
def test_clear_needs_exactly_one_of_name_or_all(capture_dir: Path, argv: list[str]) -> None:
    """Neither a name nor --all (or both) is a usage error."""
    save(capture_dir, "login", 1)
    result = run(*argv, "--yes")
    assert result.code == 2
    assert_one_error_line(result, "NAME or --all")


def test_clear_unknown_name(capture_dir: Path) -> None:
    """Clearing an unknown function is exit 1, even with --yes."""
    result = run("clear", "ghost", "--yes")
    assert result.code == 1
    assert_one_error_line(result, "'ghost'")


# --- export -----------------------------------------------------------------------------


class Opaque:
    """Pickles fine, but no JSON encoding knows it and its repr explodes."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __repr__(self) -> str:
        raise RuntimeError("no repr for you")


def test_export_json_round_trips_through_the_json_serializer(capture_dir: Path) -> None:
    """Known types use the JSONSerializer's tags: each exported capture decodes back."""
    CaptureStorage(capture_dir).save(record("f", (1, 2), b"\x00", {3}, kwargs={"k": [1.5]}))
    result = run("export", "f", "--format", "json")
    assert result.code == 0
    (exported,) = result.json()
    back = JSONSerializer().loads(json.dumps(exported).encode())
    assert back["args"] == [(1, 2), b"\x00", {3}]
    assert back["kwargs"] == {"k": [1.5]}


def test_export_never_crashes_on_odd_objects(capture_dir: Path) -> None:
    """Unknown objects, a failing __repr__, NaN and cycles still export as strict JSON."""
    cycle: list[Any] = [1]
    cycle.append(cycle)
    CaptureStorage(capture_dir).save(record("f", Opaque(3), float("nan"), cycle))
    result = run("export", "f", "--format", "jsonl")
    assert result.code == 0, result.err
    (line,) = result.out.splitlines()
    args = json.loads(line)["args"]  # strict JSON: no bare NaN
    assert args[0]["__type__"] == f"{__name__}:Opaque"
    assert "repr failed" in args[0]["__repr__"]
    assert args[1] == {"__snapy__": "float", "value": "nan"}
    assert args[2][0] == 1
    assert "__repr__" in args[2][1]


def test_export_keeps_placeholders(capture_dir: Path) -> None:
    """A filtered value is exported as its placeholder, never the original."""

    @capture_args()
    def signup(email: str, password: str) -> None:
        return None

    signup("a@example.com", "pa55word!")
    out = run("export", "signup").out
    assert "pa55word!" not in out
    assert '"__snapy__": "redacted"' in out


def test_export_jsonl_to_file_with_limit(capture_dir: Path, tmp_path: Path) -> None:
    """--format jsonl --output writes one capture per line, newest first, at most --limit."""
    save(capture_dir, "f", 1, 2, 3)
    target = tmp_path / "out.jsonl"
    result = run("export", "f", "--format", "jsonl", "--output", str(target), "--limit", "2")
    assert result.code == 0
    assert f"Exported 2 capture(s) of app.auth:f to {target}" in result.out
    lines = target.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["args"] for line in lines] == [[3], [2]]


def test_export_unknown_name_and_bad_format(capture_dir: Path) -> None:
    """Unknown function: exit 1. Unknown format: exit 2. Both one line."""
    save(capture_dir, "f", 1)
    missing = run("export", "nope")
    assert missing.code == 1
    assert_one_error_line(missing, "'nope'")
    bad = run("export", "f", "--format", "xml")
    assert bad.code == 2
    assert_one_error_line(bad, "--format")


def test_export_to_unwritable_path_is_one_line(capture_dir: Path, tmp_path: Path) -> None:
    """An OSError (here: no such directory) becomes one line, exit 1."""
    save(capture_dir, "f", 1)
    result = run("export", "f", "--output", str(tmp_path / "missing" / "out.json"))
    assert result.code == 1
    assert_one_error_line(result, "No such file or directory")


# --- check ------------------------------------------------------------------------------


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project directory (the cwd) with an importable package ``tgt_app``."""
    root = tmp_path / "project"
    (root / "tgt_app").mkdir(parents=True)
    (root / "tgt_app" / "__init__.py").write_text("")
    (root / "tgt_app" / "billing.py").write_text(
        textwrap.dedent("""
        print("billing imported")  # must not garble the report
        RATE = 3

        def charge_card(amount): return amount

        def charge_cash(amount): return amount

        class Invoice:
            def total(self): return 1

            @property
            def due(self): return 2
    """)
    )
    (root / "tgt_app" / "broken.py").write_text("raise RuntimeError('import-time failure')\n")
    monkeypatch.chdir(root)
    monkeypatch.syspath_prepend(str(root))
    return root


def write_yaml(root: Path, text: str) -> str:
    path = root / "capture.yaml"
    path.write_text(textwrap.dedent(text))
    return str(path)


def test_check_accepts_a_good_target_file(project: Path) -> None:
    """Every target resolves: exit 0, one ok row each, glob matches listed."""
    path = write_yaml(
        project,
        """
        version: 1
        defaults: {retention: 5}
        targets:
          - tgt_app.billing:Invoice.total
          - target: tgt_app.billing:charge_*
            record_result: true
    """,
    )
    result = run("check", path)
    assert result.code == 0, result.out + result.err
    assert "billing imported" not in result.out
    assert "matches 2: charge_card, charge_cash" in result.out
    assert result.out.strip().endswith("2 target(s), all resolve.")


def test_check_reports_each_bad_target(project: Path) -> None:
    """Missing modules, missing names, non-functions and empty globs; no module code runs."""
    path = write_yaml(
        project,
        """
        version: 1
        targets:
          - tgt_app.billing:Invoice.total
          - tgt_app.nowhere:f
          - tgt_app.broken:f
          - tgt_app.billing:Invoice.refund
          - tgt_app.billing:RATE
          - tgt_app.billing:Invoice.due
          - tgt_app.billing:pay_*
    """,
    )
    result = run("check", path, "--json")
    assert result.code == 1
    data = result.json()
    assert data["ok"] is False
    errors = {t["target"]: " ".join(t["errors"]) for t in data["targets"]}
    assert errors["tgt_app.billing:Invoice.total"] == ""
    assert "not found" in errors["tgt_app.nowhere:f"]
    # Resolved from the source: the module's failing top-level code never runs.
    assert errors["tgt_app.broken:f"] == "'f' not found in tgt_app.broken"
    assert "'Invoice.refund' not found" in errors["tgt_app.billing:Invoice.refund"]
    assert "not a function" in errors["tgt_app.billing:RATE"]
    assert errors["tgt_app.billing:Invoice.due"] == ""  # a property: its getter is captured
    assert "matches nothing" in errors["tgt_app.billing:pay_*"]
    text = run("check", path)
    assert text.code == 1
    assert text.out.strip().endswith("5 error(s).")


def test_check_never_runs_the_code_it_checks(project: Path) -> None:
    """A script without a __main__ guard is checked from its source: its top level never runs."""
    marker = project / "SIDE_EFFECT"
    (project / "tgt_sidefx.py").write_text(
        f"open({str(marker)!r}, 'w').write('ran')\nprint('hello')\n\ndef job(x):\n    return x\n"
    )
    path = write_yaml(project, "version: 1\ntargets: [tgt_sidefx:job, tgt_sidefx:nope]\n")
    result = run("check", path, "--json")
    errors = {t["target"]: " ".join(t["errors"]) for t in result.json()["targets"]}
    assert errors == {"tgt_sidefx:job": "", "tgt_sidefx:nope": "'nope' not found in tgt_sidefx"}
    assert not marker.exists()
    assert "tgt_sidefx" not in sys.modules


def test_check_broken_yaml_is_one_line_naming_the_file(project: Path) -> None:
    """A YAML syntax error is exit 1 and one line with file and line."""
    path = write_yaml(project, "version: 1\ntargets: [tgt_app.billing:charge_card\n")
    result = run("check", path)
    assert result.code == 1
    assert_one_error_line(result, path, "invalid YAML")


def test_check_invalid_option_and_shape(project: Path) -> None:
    """Wrong shapes and bad option values are reported, exit 1."""
    bad_option = write_yaml(
        project,
        """
        version: 1
        targets:
          - target: tgt_app.billing:charge_card
            retention: -3
    """,
    )
    result = run("check", bad_option)
    assert result.code == 1
    assert_one_error_line(result, "retention")
    no_colon = write_yaml(project, "version: 1\ntargets: [tgt_app.billing.charge_card]\n")
    assert_one_error_line(run("check", no_colon), "module:function")


def test_check_missing_file(project: Path) -> None:
    """A target file that does not exist is exit 1, one line naming it."""
    result = run("check", "nope.yaml")
    assert result.code == 1
    assert_one_error_line(result, "nope.yaml")


SERVICE = """
import functools

def helper(x): return x

class Base:
    def inherited(self, x): return x

class Svc(Base):
    class Inner:
        def run(self, x): return x

    def __init__(self, name): self.name = name
    def method(self, x): return x
    alias = method
    @functools.cached_property
    def cached(self): return 1
    @staticmethod
    def static(x): return x
    @classmethod
    def klass(cls, x): return x
    @property
    def prop(self): return self.name
    def __repr__(self): return "Svc()"
    def _private(self, x): return x
    def __eq__(self, other): return True
    __hash__ = object.__hash__
"""


def test_check_lists_exactly_what_the_hook_captures(project: Path, capture_dir: Path) -> None:
    """check lists exactly what the hook captures: for ``Svc.*`` not __repr__/__eq__ (nor a
    cached_property), but a class-body alias, a nested class's method, an inherited method."""
    (project / "tgt_svc.py").write_text(SERVICE)
    path = write_yaml(
        project, "version: 1\ntargets: ['tgt_svc:Svc.*', 'tgt_svc:*', 'tgt_svc:Svc.inherited']\n"
    )
    result = run("check", path, "--json")
    assert result.code == 0, result.out + result.err
    listed = {m for t in result.json()["targets"] for m in t["matches"]}
    install_import_hook(path)
    try:
        import tgt_svc  # type: ignore[import-not-found]

        svc = tgt_svc.Svc("a")
        svc.method(1), svc.static(1), svc.klass(1), svc.prop, repr(svc), svc._private(1)
        assert svc == tgt_svc.Svc("b")
        svc.alias(1), svc.cached, svc.inherited(1), tgt_svc.Base().inherited(1)
        tgt_svc.Svc.Inner().run(1), tgt_svc.helper(1)
        assert flush(10)
    finally:
        uninstall_import_hook()
    captured = {f.qualname for f in CaptureStorage(capture_dir).functions()}
    members = ("__init__", "method", "alias", "static", "klass", "prop", "_private", "inherited")
    assert captured == {"helper", "Base.inherited", "Svc.Inner.run", *(f"Svc.{m}" for m in members)}
    assert listed == captured


def test_check_and_the_hook_agree_on_a_module_alias(project: Path, capture_dir: Path) -> None:
    """``os.path:join`` is captured (as posixpath's join) and check says under which name."""
    real = os.path.__name__
    path = write_yaml(project, "version: 1\ntargets: ['os.path:join', 'os.path:split*']\n")
    result = run("check", path)
    assert result.code == 0, result.out + result.err
    assert f"os.path is the module {real}: captured as {real}:join" in result.out
    with warnings.catch_warnings():
        # Other modules of this process may hold ``join`` from ``from os.path import join``
        # (which ones depends on the tests run before): the hook says so, rightly.
        warnings.filterwarnings(
            "ignore", "snapy_capture: references the hook cannot rebind", SnapyCaptureWarning
        )
        install_import_hook(path)
    try:
        os.path.join("a", "b")
        assert flush(10)
    finally:
        uninstall_import_hook()
    captured = {f"{f.module}:{f.qualname}" for f in CaptureStorage(capture_dir).functions()}
    assert f"{real}:join" in captured


def test_check_leaves_sys_path_as_it_was(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Modules in the working directory resolve, and sys.path is unchanged afterwards."""
    (tmp_path / "tgt_here.py").write_text("def job(x):\n    return x\n")
    monkeypatch.chdir(tmp_path)
    sys.path[:] = [p for p in sys.path if p not in ("", str(tmp_path))]
    before = list(sys.path)
    result = run("check", write_yaml(tmp_path, "version: 1\ntargets: ['tgt_here:job']\n"))
    assert result.code == 0, result.out + result.err
    assert sys.path == before


# --- errors, help, warnings --------------------------------------------------------------


def test_unexpected_error_is_one_line_with_debug_hint(
    capture_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug in our code is one line plus a --debug hint; --debug shows the traceback."""

    def explode(self: CaptureStorage) -> list[Any]:
        raise RuntimeError("kaboom")

    monkeypatch.setattr(CaptureStorage, "functions", explode)
    result = run("list")
    assert result.code == 1
    assert_one_error_line(result, "RuntimeError: kaboom", "--debug")
    debug = run("list", "--debug")
    assert debug.code == 1
    assert "Traceback (most recent call last)" in debug.err
    assert debug.err.strip().splitlines()[-1].startswith("snapy-capture: error: ")


def test_unknown_command_and_option_are_usage_errors() -> None:
    """Usage mistakes are exit 2, one line, pointing at --help."""
    result = run("frobnicate")
    assert result.code == 2
    assert_one_error_line(result, "frobnicate", "--help")
    result = run("list", "--colour")
    assert result.code == 2
    assert_one_error_line(result, "--colour")


def test_help_and_version_exit_zero() -> None:
    """--help lists every command on stdout; --version prints the version."""
    result = run("--help")
    assert result.code == 0
    for command in (
        "list",
        "show",
        "prune",
        "clear",
        "export",
        "check",
        "gen-tests",
        "enable",
        "disable",
    ):
        assert command in result.out
    version = run("--version")
    assert version.code == 0
    from snapy_capture import __version__

    assert version.out.strip() == f"snapy-capture {__version__}"


def test_no_command_prints_help_and_exits_2() -> None:
    """Running without a command shows the help (exit 2: nothing was done)."""
    result = run()
    assert result.code == 2
    assert "COMMAND" in result.out


def test_bad_environment_variable_is_a_one_line_warning(
    capture_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bad SNAP_CAPTURE_* value warns in one line and the command still works."""
    save(capture_dir, "login", 1)
    monkeypatch.setenv("SNAP_CAPTURE_DEFAULT_RETENTION", "lots")
    from snapy_capture import config

    config.reload_environment()
    result = run("prune")
    assert result.code == 0
    assert "snapy-capture: warning: ignoring SNAP_CAPTURE_DEFAULT_RETENTION='lots'" in result.err


def test_main_defaults_to_process_streams(
    capture_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without injected streams main writes to sys.stdout/sys.stderr."""
    assert cli.main(["list"]) == 0
    assert "No captures" in capsys.readouterr().out


def test_main_reads_sys_argv(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """argv=None reads sys.argv[1:], like a console script."""
    monkeypatch.setattr(sys, "argv", ["snapy-capture", "--version"])
    assert cli.main() == 0
    assert capsys.readouterr().out.startswith("snapy-capture ")


# --- gen-tests, enable, disable ------------------------------------------------------------


@pytest.fixture
def shop(project: Path, capture_dir: Path) -> Path:
    """A module ``tgt_shop`` in the project with two captures of ``price``."""
    (project / "tgt_shop.py").write_text(
        textwrap.dedent("""
        from snapy_capture import capture_args

        @capture_args(record_result=True)
        def price(n, rate=2):
            return n * rate
    """)
    )
    import importlib

    module = importlib.import_module("tgt_shop")
    module.price(3)
    module.price(4, rate=5)
    return project


def test_gen_tests_prints_a_test_module(shop: Path) -> None:
    """gen-tests writes the generated module to stdout by default."""
    result = run("gen-tests", "price", "--mode", "result", "--limit", "1")
    assert result.code == 0, result.err
    assert "from tgt_shop import price" in result.out
    assert (
        'replay_records("tgt_shop:price", limit=1, with_result=True, substitutes=SUBSTITUTES)'
        in result.out
    )
    compile(result.out, "generated", "exec")
    frozen = run("gen-tests", "price", "--deterministic")
    assert "assert replay_outcome(price, record, deterministic=True) == snapshot" in frozen.out


def test_gen_tests_output_file_and_force(shop: Path) -> None:
    """--output writes a file; a second run refuses to overwrite unless --force."""
    target = shop / "tests" / "test_price.py"
    first = run("gen-tests", "price", "--output", str(target))
    assert first.code == 0, first.err
    assert first.out.strip() == f"Wrote {target}."
    target.write_text("# edited by hand\n")
    again = run("gen-tests", "price", "--output", str(target))
    assert again.code == 1
    assert_one_error_line(again, "already exists", "--force")
    assert target.read_text() == "# edited by hand\n"
    assert run("gen-tests", "price", "--output", str(target), "--force").code == 0
    assert "def test_price" in target.read_text()


def test_gen_tests_bad_input(shop: Path) -> None:
    """An unknown function is exit 1; an unknown mode is a usage error (exit 2)."""
    unknown = run("gen-tests", "refund")
    assert unknown.code == 1
    assert_one_error_line(unknown, "'refund'")
    bad_mode = run("gen-tests", "price", "--mode", "golden")
    assert bad_mode.code == 2
    assert_one_error_line(bad_mode, "--mode")


def test_enable_then_disable_the_autoload_switch(tmp_path: Path) -> None:
    """enable writes the .pth switch into --site-dir; disable removes it, once."""
    site = tmp_path / "site-packages"
    site.mkdir()  # a --site-dir that does not exist is refused (tests/cli/test_bad_input.py)
    enabled = run("enable", "--site-dir", str(site))
    assert enabled.code == 0, enabled.err
    (pth,) = site.iterdir()
    assert pth.suffix == ".pth"
    assert str(pth) in enabled.out
    assert "SNAP_CAPTURE_CONFIG" in pth.read_text()
    disabled = run("disable", "--site-dir", str(site))
    assert disabled.code == 0
    assert disabled.out.startswith("Disabled")
    assert list(site.iterdir()) == []
    again = run("disable", "--site-dir", str(site))
    assert again.code == 0
    assert again.out.startswith("Nothing to disable")


# --- reading captures imports nothing (issue 15, item 4) -----------------------------------

PLANTED = (
    "import pathlib\npathlib.Path({marker!r}).write_text('ran')\nimport enum\n"
    "class Color(enum.Enum):\n    RED = 1\n"
)


def plant_json_capture(root: Path, marker: Path) -> None:
    """A readable JSON capture, and a newer one naming ``captures.evil`` planted beside it."""
    store = CaptureStorage(root, retention=None, serializer="json")
    older, newest = (
        store.save({**record("pay", value), "timestamp": f"2026-01-01T00:00:0{value}Z"})
        for value in (1, 2)
    )
    tagged = b'[{"__snapy__": "enum", "value": 1, "type": "captures.evil:Color"}]'
    newest.write_bytes(newest.read_bytes().replace(b"[\n  2\n ]", tagged))
    assert tagged in newest.read_bytes()
    os.utime(older, (1, 1))
    (root / "evil.py").write_text(PLANTED.format(marker=str(marker)))


@pytest.mark.parametrize("command", [["show", "pay"], ["export", "pay"], ["list"]])
def test_reading_commands_never_import_a_module_a_capture_names(
    capture_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    """From the captures' parent directory, show/export/list leave a planted .py unrun."""
    marker = tmp_path / "marker"
    plant_json_capture(capture_dir, marker)
    monkeypatch.chdir(tmp_path)
    try:
        result = run(*command)
        assert not marker.exists()
        assert "captures.evil" not in sys.modules
    finally:
        sys.modules.pop("captures.evil", None)
        sys.modules.pop("captures", None)
    assert result.code == 0, result.err
    if command[0] != "list":
        assert "module 'captures.evil' is not imported" in result.err
        assert "'RED'" not in result.out


def test_check_refuses_targets_inside_snapy_capture(project: Path) -> None:
    """A target in snapy_capture itself is an ERROR row and exit 1 (issue 15, item 12)."""
    path = write_yaml(
        project,
        """
        version: 1
        targets:
          - tgt_app.billing:Invoice.total
          - snapy_capture.capture._pipeline:*
          - snapy_capture.storage:CaptureStorage.*
    """,
    )
    result = run("check", path)
    assert result.code == 1, result.out + result.err
    rows = [line for line in result.out.splitlines() if line.startswith("ERROR")]
    assert len(rows) == 2, result.out
    for row, name in zip(
        rows, ["snapy_capture.capture._pipeline:*", "snapy_capture.storage:"], strict=True
    ):
        assert name in row
        assert "snapy_capture's own capture machinery" in row
    assert "2 error(s)" in result.out
