"""Generated suites on real stdlib classes: methods replay on the captured instance, skips say
why, raised exceptions are snapshotted, substitutes fill filtered values, replay can be
deterministic; each suite is green with no edits and red, with a readable diff, after a
behaviour change is patched in."""

from __future__ import annotations

import difflib
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from _pytester import pytest_ini

from snapy_capture.replay import generate_test_module
from snapy_capture.storage import CaptureStorage

pytest_plugins = ["pytester"]

TEXT = "The quick brown fox jumps over the lazy dog near the quiet river bank at dawn"
SNAPY = Path(sys.executable).with_name("snapy-capture")

# A behaviour change in the package under test, patched in for the whole test session.
REGRESSION = """
import textwrap

_wrap_chunks = textwrap.TextWrapper._wrap_chunks


def _shouting(self, chunks):
    return [line.upper() if line.startswith("The") else line for line in _wrap_chunks(self, chunks)]


textwrap.TextWrapper._wrap_chunks = _shouting
"""


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """An empty project whose captures live in ./captures."""
    monkeypatch.delenv("SNAP_CAPTURE_DEFAULT_PATH", raising=False)
    for name in list(os.environ):
        if name.startswith("PYTEST_XDIST") or name == "PYTEST_ADDOPTS":
            monkeypatch.delenv(name)
    monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")
    pytester.makefile(".ini", pytest=pytest_ini())
    return pytester


def _record(module: str, qualname: str, args: list[Any], **fields: Any) -> dict[str, Any]:
    metadata = {"redactions": fields.pop("redactions", [])}
    return {
        "module": module,
        "qualname": qualname,
        "function_name": qualname.rsplit(".", 1)[-1],
        "timestamp": fields.pop("timestamp", "2026-12-01T10:00:00.000000Z"),
        "args": args,
        "kwargs": {},
        "metadata": metadata,
        **fields,
    }


def _wrappers() -> list[textwrap.TextWrapper]:
    return [
        textwrap.TextWrapper(width=20, initial_indent="> ", subsequent_indent="  "),
        textwrap.TextWrapper(width=31, break_long_words=False),
        textwrap.TextWrapper(width=14, max_lines=3),
    ]


def _save_wrap_captures(root: Path, *, with_result: bool) -> None:
    storage = CaptureStorage(root)
    for wrapper in _wrappers():
        fields: dict[str, Any] = {"self": wrapper}
        if with_result:
            fields.update(result={"value": wrapper.wrap(TEXT)}, self_after=wrapper)
        storage.save(_record("textwrap", "TextWrapper.wrap", [TEXT], **fields))


def _run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess(*args, timeout=120)


def test_snapshot_suite_replays_methods_on_the_captured_instances(project: pytest.Pytester) -> None:
    """TextWrapper.wrap: no fixture to adjust, green twice, red with a diff after a change."""
    _save_wrap_captures(project.path / "captures", with_result=False)
    output = project.path / "tests" / "test_wrap.py"
    source = generate_test_module(
        "textwrap:TextWrapper.wrap", path=project.path / "captures", output=output
    )
    assert "TextWrapper()" not in source
    assert "assert replay_outcome(TextWrapper.wrap, record) == snapshot" in source
    _run(project, "--snapshot-update").assert_outcomes(passed=3)
    stored = (output.parent / "__snapshots__" / "test_wrap.ambr").read_text()
    assert "'> The quick brown'" in stored  # width 20 and the indent of the captured wrapper
    assert "'the lazy dog near the quiet'," in stored  # width 31
    assert "'jumps [...]'" in stored  # max_lines=3 of the third
    _run(project).assert_outcomes(passed=3)

    project.makeconftest(REGRESSION)
    changed = _run(project)
    changed.assert_outcomes(passed=1, failed=2)
    changed.stdout.fnmatch_lines(
        ["E  *-*'The quick brown fox jumps over',", "E  *+*'THE QUICK BROWN FOX JUMPS OVER',"]
    )


def test_result_suite_compares_with_the_recorded_results(project: pytest.Pytester) -> None:
    """Result mode: green on the recorded results, then a diff naming the first difference."""
    _save_wrap_captures(project.path / "captures", with_result=True)
    generate_test_module(
        "textwrap:TextWrapper.wrap",
        path=project.path / "captures",
        output=project.path / "tests" / "test_wrap.py",
        mode="result",
    )
    _run(project).assert_outcomes(passed=3)
    _run(project).assert_outcomes(passed=3)
    project.makeconftest(REGRESSION)
    changed = _run(project)
    changed.assert_outcomes(passed=1, failed=2)
    changed.stdout.fnmatch_lines(
        [
            "*the result differs (- recorded, + replayed)",
            "*first difference at result?0?: 'The quick*' != 'THE QUICK*'",
        ]
    )


MATCHER_REGRESSION = """
import difflib

_set_seq2 = difflib.SequenceMatcher.set_seq2


def set_seq2(self, b):
    _set_seq2(self, b.strip() if isinstance(b, str) else b)


difflib.SequenceMatcher.set_seq2 = set_seq2
"""


def test_result_suite_checks_the_instance_state_after_a_mutating_call(
    project: pytest.Pytester,
) -> None:
    """SequenceMatcher.set_seq2 returns None: its self_after is what catches a change."""
    storage = CaptureStorage(project.path / "captures")
    for old, new in (("kitten", " mitten "), ("abc", "abd")):
        matcher = difflib.SequenceMatcher(None, "kitten", old)
        after = difflib.SequenceMatcher(None, "kitten", new)
        storage.save(
            _record(
                "difflib",
                "SequenceMatcher.set_seq2",
                [new],
                self=matcher,
                self_after=after,
                result={"value": None},
            )
        )
    generate_test_module(
        "difflib:SequenceMatcher.set_seq2",
        path=project.path / "captures",
        output=project.path / "tests" / "test_seq.py",
        mode="result",
    )
    _run(project).assert_outcomes(passed=2)
    project.makeconftest(MATCHER_REGRESSION)
    changed = _run(project)
    changed.assert_outcomes(passed=1, failed=1)
    changed.stdout.fnmatch_lines(
        [
            "*the instance's state after the call differs (- recorded, + replayed)",
            "*first difference at self.b: ' mitten ' != 'mitten'",
        ]
    )


def test_skips_say_why_and_substitutes_let_cases_run(project: pytest.Pytester) -> None:
    """Unstorable instance, no instance, filtered values: each skip names its reason; the
    SUBSTITUTES block lists the filtered paths, and filling it in makes the case run."""
    storage = CaptureStorage(project.path / "captures")
    storage.save(_record("textwrap", "TextWrapper.fill", [TEXT], self=_wrappers()[0]))
    storage.save(
        _record("textwrap", "TextWrapper.fill", [TEXT], self="[FILTERED: unstorable: a lock]")
    )
    storage.save(_record("textwrap", "TextWrapper.fill", [TEXT]))
    secret = textwrap.TextWrapper(width=25)
    secret.initial_indent = "[FILTERED: name:token]"
    storage.save(
        _record(
            "textwrap",
            "TextWrapper.fill",
            ["[FILTERED: pii]"],
            self=secret,
            redactions=[
                {"path": "self.initial_indent", "reason": "name:token"},
                {"path": "text", "reason": "pii"},
            ],
        )
    )
    output = project.path / "tests" / "test_fill.py"
    source = generate_test_module(
        "textwrap:TextWrapper.fill", path=project.path / "captures", output=output
    )
    assert '    # "self.initial_indent": None,  # name:token\n' in source
    assert '    # "text": None,  # pii\n' in source
    result = _run(project, "--snapshot-update", "-rs")
    result.assert_outcomes(passed=1, skipped=3)
    result.stdout.fnmatch_lines_random(
        [
            "SKIPPED*test_fill.py*instance could not be stored (FILTERED: unstorable: a lock)",
            "SKIPPED*test_fill.py*captured without its instance (capture_self off or an old*",
            "SKIPPED*had values filtered at capture time (self.initial_indent, text); give "
            "substitutes*",
        ]
    )
    output.write_text(
        source.replace('# "self.initial_indent": None', '"self.initial_indent": "* "').replace(
            '# "text": None', f'"text": "{TEXT}"'
        )
    )
    filled = _run(project, "--snapshot-update", "-rs")
    filled.assert_outcomes(passed=2, skipped=2)
    stored = (output.parent / "__snapshots__" / "test_fill.ambr").read_text()
    assert "* The quick brown fox\n      jumps over the lazy dog\n" in stored


def test_a_raising_call_is_snapshotted_as_its_exception(project: pytest.Pytester) -> None:
    """json.loads on bad input: the snapshot holds the exception's type and message."""
    storage = CaptureStorage(project.path / "captures")
    storage.save(_record("json", "loads", ['{"a": 1}']))
    storage.save(_record("json", "loads", ["{"]))
    generate_test_module(
        "json:loads", path=project.path / "captures", output=project.path / "tests" / "test_j.py"
    )
    _run(project, "--snapshot-update").assert_outcomes(passed=2)
    stored = (project.path / "tests" / "__snapshots__" / "test_j.ambr").read_text()
    assert "'raised': 'json.decoder.JSONDecodeError'" in stored
    assert "'message': 'Expecting property name enclosed in double quotes" in stored
    _run(project).assert_outcomes(passed=2)


CLOCK = """
import random
import time


def stamp(label):
    return {"label": label, "at": time.time(), "roll": random.random()}
"""


def test_deterministic_flag_makes_clock_and_random_reproducible(project: pytest.Pytester) -> None:
    """gen-tests --deterministic: snapshots of a function reading the clock and random pass."""
    pytest.importorskip("time_machine")
    project.makepyfile(tgt_clock=CLOCK)
    storage = CaptureStorage(project.path / "captures")
    storage.save(_record("tgt_clock", "stamp", ["a"], timestamp="2026-12-01T10:00:00.000000Z"))
    storage.save(_record("tgt_clock", "stamp", ["b"], timestamp="2026-12-02T10:00:00.000000Z"))
    made = subprocess.run(
        [
            str(SNAPY),
            "gen-tests",
            "tgt_clock:stamp",
            "--deterministic",
            "--path",
            "captures",
            "-o",
            "tests/test_stamp.py",
        ],
        cwd=project.path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert made.returncode == 0, made.stderr
    source = (project.path / "tests" / "test_stamp.py").read_text()
    assert "replay_outcome(stamp, record, deterministic=True)" in source
    _run(project, "--snapshot-update").assert_outcomes(passed=2)
    stored = (project.path / "tests" / "__snapshots__" / "test_stamp.ambr").read_text()
    assert "'at': 1796119200.0" in stored  # 2026-12-01T10:00:00Z
    _run(project).assert_outcomes(passed=2)


def test_suite_wide_substitutes_file_from_the_ini(project: pytest.Pytester) -> None:
    """ini snapy_capture_substitutes names a file whose values every case can use."""
    project.makefile(".ini", pytest=pytest_ini("snapy_capture_substitutes = subs.yaml"))
    (project.path / "subs.yaml").write_text("mapping['password']: test-pw\n")
    CaptureStorage(project.path / "captures").save(
        _record(
            "string",
            "Template.substitute",
            [{"who": "ann", "password": "[FILTERED: name:password]"}],
            self=__import__("string").Template("$who/$password"),
            redactions=[{"path": "mapping['password']", "reason": "name:password"}],
        )
    )
    project.makepyfile(
        test_template="""
        import string
        import pytest
        from snapy_capture.pytest_plugin import replay_outcome, replay_records

        @pytest.mark.parametrize("record", replay_records("Template.substitute", path="captures"))
        def test_substitute(record):
            assert replay_outcome(string.Template.substitute, record)["outcome"] == "ann/test-pw"
        """
    )
    _run(project).assert_outcomes(passed=1)
    (project.path / "subs.yaml").write_text("- not a mapping\n")
    broken = _run(project)
    assert broken.ret != 0
    broken.stderr.fnmatch_lines(["*substitutes file *subs.yaml: expected a mapping*"])


# A project's legacy code in the shapes real packages have: a renderer's method table holding a
# local function (mistune), a lexer whose get_tokens returns an inner generator (pygments), a
# constructor worth checking (Class.* captures __init__).
LEGACY = """
def _strong(text):
    return "<b>" + text + "</b>"


class Renderer:
    def __init__(self, escape=True):
        self.escape = escape
        self.methods = {"strong": _strong}
        self.rendered = 0

    def render(self, name, text):
        out = self.methods[name](text)
        self.rendered += 1
        return out.replace("<", "&lt;") if self.escape else out


class Lexer:
    def __init__(self, lower=False):
        self.lower = lower

    def get_tokens(self, text):
        def stream():
            for word in text.split():
                if word == "!":
                    raise ValueError("bad token '!'")
                yield ("word", word.lower() if self.lower else word)

        return stream()
"""


def test_real_package_shapes_replay_green_then_red(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Records shaped like the real packages' captures: an unstorable part of the instance runs
    (skipped, naming it, only when the call needs it); a returned generator is drained in
    snapshot mode and skipped with the reason in result mode (gen-tests no longer refuses);
    __init__ builds the instance and checks its state; a method's snapshot holds the instance's
    state after the call. Green twice, then red after a change."""
    module = "legacy_rf"
    project.makepyfile(**{module: LEGACY})
    monkeypatch.syspath_prepend(str(project.path))
    monkeypatch.delitem(sys.modules, module, raising=False)
    legacy = __import__(module)
    try:
        _save_legacy_records(project.path / "captures", legacy)
    finally:
        sys.modules.pop(module, None)
    tests = project.path / "tests"
    for name in ("Renderer.render", "Renderer.__init__", "Lexer.get_tokens"):
        for mode in ("snapshot", "result"):
            generate_test_module(
                f"{module}:{name}",
                path=project.path / "captures",
                output=tests / f"test_{mode}_{name.replace('.', '_').lower()}.py",
                mode=mode,
            )
    init = (tests / "test_result_renderer___init__.py").read_text()
    assert "def test_renderer_builds_the_recorded_instances(record):" in init
    assert "    assert_replay_matches(Renderer, record)\n" in init
    assert "items, so cases skip" in (tests / "test_result_lexer_get_tokens.py").read_text()
    render = (tests / "test_snapshot_renderer_render.py").read_text()
    assert "unstorable: local function (optional: the case runs without it)" in render

    update = _run(project, "--snapshot-update", "-rs")
    # render: 1 runs, 1 fails without the lambda (skipped), 1 secret; init 1; tokens 2.
    update.assert_outcomes(passed=1 + 1 + 2 + 2, skipped=2 + 2 + 2)
    update.stdout.fnmatch_lines_random(
        [
            "SKIPPED*test_snapshot_renderer_render.py*could not be stored at capture time: "
            "self.methods?'strike'? (unstorable: local function); the call failed without "
            "them: TypeError: 'str' object is not callable",
            "SKIPPED*test_snapshot_renderer_render.py*filtered at capture time (self.escape)*",
            "SKIPPED*test_result_lexer_get_tokens.py*the call returned a generator, which "
            "capture never consumes*",
        ]
    )
    stored = (tests / "__snapshots__" / "test_snapshot_lexer_get_tokens.ambr").read_text()
    assert "'hello'" in stored
    assert "'raised': 'ValueError'" in stored
    assert "generator object" not in stored
    stored = (tests / "__snapshots__" / "test_snapshot_renderer___init__.ambr").read_text()
    assert "'escape': False" in stored
    stored = (tests / "__snapshots__" / "test_snapshot_renderer_render.ambr").read_text()
    assert "'rendered': 1" in stored  # the instance's state after the call
    for _ in range(2):
        _run(project).assert_outcomes(passed=6, skipped=6)

    project.makepyfile(
        **{
            module: LEGACY.replace("self.escape = escape", "self.escape = True")
            .replace("word.lower()", "word.upper()")
            .replace("self.rendered += 1", "self.rendered += 2")
        }
    )
    changed = _run(project)
    # init x2 (escape), render snapshot (rendered) + result (self_after), tokens snapshot x2.
    changed.assert_outcomes(failed=6, skipped=6)
    changed.stdout.fnmatch_lines_random(
        [
            "*first difference at self.escape: False != True",
            "*first difference at self.rendered: 1 != 2",
            "*-*'hello',",
            "*+*'HELLO',",
        ]
    )


def _save_legacy_records(root: Path, legacy: Any) -> None:
    storage = CaptureStorage(root)
    module = legacy.__name__

    def renderer(**changes: Any) -> Any:
        made = legacy.Renderer(escape=False)
        made.methods["strike"] = "[FILTERED: unstorable: local function]"
        made.__dict__.update(changes)
        return made

    lost = {"path": "self.methods['strike']", "reason": "unstorable: local function"}
    for name, result in (("strong", "<b>hi</b>"), ("strike", "<s>hi</s>")):
        storage.save(
            _record(
                module,
                "Renderer.render",
                [name, "hi"],
                self=renderer(),
                self_after=renderer(rendered=1),
                result={"value": result},
                redactions=[lost],
            )
        )
    storage.save(
        _record(
            module,
            "Renderer.render",
            ["strong", "hi"],
            self=renderer(escape="[FILTERED: name:key]"),
            result={"value": "<b>hi</b>"},
            redactions=[lost, {"path": "self.escape", "reason": "name:key"}],
        )
    )
    storage.save(
        _record(
            module,
            "Renderer.__init__",
            [],
            kwargs={"escape": False},
            self_after=legacy.Renderer(escape=False),
            result={"value": None},
        )
    )
    for text in ("Hello World", "a ! b"):
        storage.save(
            _record(
                module,
                "Lexer.get_tokens",
                [text],
                self=legacy.Lexer(lower=True),
                self_after=legacy.Lexer(lower=True),
                result={"value": "[FILTERED: unstorable:generator]"},
            )
        )
