"""Coverage feedback (issue 19): registries rebound, what was not captured said at exit and in
a report, capture under pytest and of a script under autoload, warnings one line each.

Every test runs real processes, as a user would: the runner, or an interpreter with
``import snapy_capture.autoload`` in its ``sitecustomize``.
"""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
import textwrap
import types
from pathlib import Path

import pytest
from _pytester import pytest_ini

from snapy_capture import CaptureLoader, capture_args

RUN = [sys.executable, "-m", "snapy_capture.run"]

TEXTFILTERS = """
def shout(text, password=None):
    return text.upper()

def whisper(text):
    return text.lower()

def big(text):
    return len(text)

FILTERS = {"shout": shout, "whisper": whisper}
PIPELINE = [[shout]]
FROZEN = (shout,)

class Registry:
    table = {"s": shout}
"""

REGISTRY_APP = """
import yaml
import textfilters

print(yaml.safe_dump({"user": "ann", "password": "hunter2"}, sort_keys=True), end="")
for word in ["a"] * 48:
    textfilters.FILTERS["shout"](word)
print(textfilters.PIPELINE[0][0]("b"), textfilters.Registry.table["s"]("c"))
"""

FROZEN_LINE = (
    "snapy_capture: references the hook cannot rebind still hold the unwrapped function "
    "(calls through them are not captured): textfilters:shout in textfilters.FROZEN[0]\n"
)


def run(
    args: list[str], cwd: Path, *, stdin: str = "", **env: str
) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k != "SNAP_CAPTURE_CONFIG"}
    return subprocess.run(
        args,
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        env={**environ, **env},
        timeout=180,
        check=False,
    )


def write(root: Path, **files: str) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")


# --- functions held in registries -----------------------------------------------------------


def test_functions_filed_in_registries_at_import_are_captured(
    tmp_path: Path, capture_dir: Path
) -> None:
    """PyYAML's representer (filed in SafeRepresenter.yaml_representers by add_representer
    as its module loads) and a filter in a module-level FILTERS dict, a nested list and a
    class attribute are captured; the one reference in a tuple is named in one line."""
    (tmp_path / "textfilters.py").write_text(TEXTFILTERS, encoding="utf-8")
    (tmp_path / "app.py").write_text(REGISTRY_APP, encoding="utf-8")
    (tmp_path / "capture.yaml").write_text(
        "defaults: {retention: 100, dedupe: false}\n"
        "targets:\n"
        "  - yaml.representer:SafeRepresenter.represent_dict\n"
        "  - textfilters:shout\n",
        encoding="utf-8",
    )
    plain = run([sys.executable, "app.py"], tmp_path)
    captured = run([*RUN, "app.py"], tmp_path)
    assert captured.stdout == plain.stdout == "password: hunter2\nuser: ann\nB C\n"
    assert (captured.returncode, plain.stderr) == (0, "")
    assert captured.stderr == FROZEN_LINE
    loader = CaptureLoader(capture_dir)
    assert len(loader.load_all("textfilters:shout")) == 50
    (dumped,) = loader.load_all("yaml.representer:SafeRepresenter.represent_dict")
    data = dumped["args"][-1]
    assert data["user"] == "ann"
    assert data["password"] != "hunter2"
    assert not any(b"hunter2" in p.read_bytes() for p in capture_dir.rglob("*") if p.is_file())


# --- feedback on what was not captured ------------------------------------------------------

REPORT_CONFIG = """\
defaults: {retention: 100}
targets:
  - textfilters:shout
  - textfilters:whisper
  - textfilters:murmur
  - nosuchmodule:f
  - target: textfilters:big
    max_capture_size: 1
"""

REPORT_APP = """
import textfilters
import warnings
for _ in range(3):
    textfilters.shout("a", password="hunter2")
textfilters.big("b")
textfilters.big("c")
warnings.warn("the program's own warning")
"""


def own_warning(root: Path) -> str:
    """The program's own warning, shown as Python shows it (ours are one line, not this)."""
    return (
        f"{root / 'app.py'}:8: UserWarning: the program's own warning\n"
        f'  warnings.warn("the program\'s own warning")\n'
    )


def test_runner_says_which_targets_captured_nothing_and_reports_why(tmp_path: Path) -> None:
    """One line at exit names the targets that captured nothing; --report has the counts,
    the drops and why, the paths filtered, and why each target captured nothing. Warnings
    are one line each, with no file or line of ours."""
    write(tmp_path, **{"textfilters.py": TEXTFILTERS, "app.py": REPORT_APP})
    config = tmp_path / "capture.yaml"
    config.write_text(REPORT_CONFIG, encoding="utf-8")
    report = tmp_path / "out" / "report.json"
    report.parent.mkdir()
    result = run([*RUN, "--report", str(report), "app.py"], tmp_path)
    assert (result.stdout, result.returncode) == ("", 0)
    assert result.stderr == (
        f"snapy_capture: target textfilters:murmur ({config}:5) not found: textfilters has no "
        f"attribute 'murmur'\n"
        f"{FROZEN_LINE}"
        f"snapy_capture: not capturing textfilters:big: a capture exceeded max_capture_size=1 "
        f"and was dropped; further problems with this function are only counted\n"
        f"{own_warning(tmp_path)}"
        f"snapy_capture: 4 of 5 targets captured nothing: textfilters:whisper, "
        f"textfilters:murmur, nosuchmodule:f, textfilters:big (see {report})\n"
    )
    data = json.loads(report.read_text(encoding="utf-8"))
    assert (data["version"], data["config"], data["processes"]) == (1, str(config), 1)
    by_name = {entry["target"]: entry for entry in data["targets"]}
    shout = by_name["textfilters:shout"]
    assert (shout["status"], shout["captured"], shout["dropped"]) == ("captured", 3, 0)
    assert shout["functions"]["textfilters:shout"]["redactions"] == {"password": 3}
    assert shout["held_unwrapped"] == ["textfilters.FROZEN[0]"]
    assert "textfilters.FILTERS['shout']" in shout["rebound"]
    big = by_name["textfilters:big"]
    assert (big["status"], big["captured"], big["dropped"]) == ("not captured", 0, 2)
    assert big["functions"]["textfilters:big"]["drop_reasons"] == {"max_capture_size": 2}
    assert big["why"] == "called, but every capture was dropped: max_capture_size (2)"
    assert data["captured_nothing"] == [
        {
            "target": "textfilters:whisper",
            "status": "never called",
            "why": "matched, but never called",
        },
        {
            "target": "textfilters:murmur",
            "status": "matched nothing",
            "why": "no function murmur in textfilters",
        },
        {
            "target": "nosuchmodule:f",
            "status": "module not imported",
            "why": "no module named nosuchmodule",
        },
        {"target": "textfilters:big", "status": "not captured", "why": big["why"]},
    ]
    assert "hunter2" not in report.read_text(encoding="utf-8")


ROUTER = """
class App:
    def __init__(self):
        self.view_functions = {}

    def route(self, path):
        def register(view):
            self.view_functions[path] = view
            return view
        return register

app = App()

@app.route("/")
def index():
    return "home"
"""


def test_a_target_called_only_through_a_reference_out_of_reach_is_explained(
    tmp_path: Path,
) -> None:
    """A view filed in an object's dict as its module loads (Flask's app.view_functions) is
    out of the hook's reach: the report says where the unwrapped function is still held."""
    write(tmp_path, **{"views.py": ROUTER})
    (tmp_path / "app.py").write_text(
        "import views\nprint(views.app.view_functions['/']())\n", encoding="utf-8"
    )
    (tmp_path / "capture.yaml").write_text("targets: ['views:index']\n", encoding="utf-8")
    report = tmp_path / "report.json"
    result = run([*RUN, "--report", str(report), "app.py"], tmp_path)
    assert (result.stdout, result.returncode) == ("home\n", 0)
    assert result.stderr == (
        f"snapy_capture: 1 of 1 targets captured nothing: views:index (see {report})\n"
    )
    (entry,) = json.loads(report.read_text(encoding="utf-8"))["targets"]
    assert entry["held_unwrapped"] == ["a dict under '/'"]
    assert entry["why"] == (
        "matched, but never called through the wrapper; still held unwrapped in a dict under '/'"
    )


CHILDREN_WORK = """
def square(x):
    return x * x

def cube(x):
    return x * x * x
"""

CHILDREN_MAIN = """
import multiprocessing, subprocess, sys
import work

if __name__ == "__main__":
    with multiprocessing.get_context("fork").Pool(2) as pool:
        print(pool.map(work.square, [2, 3]))
    subprocess.run([sys.executable, "-c", "import work; print(work.cube(2))"], check=True)
"""


@pytest.mark.skipif(sys.platform != "linux", reason="fork start method")
def test_captures_made_only_in_child_processes_count(tmp_path: Path, capture_dir: Path) -> None:
    """A target called only in fork pool workers (killed by the pool, never exiting) or only
    in a Python child process is not reported as capturing nothing."""
    write(tmp_path, **{"work.py": CHILDREN_WORK, "main.py": CHILDREN_MAIN})
    (tmp_path / "capture.yaml").write_text(
        "defaults: {retention: 100}\ntargets: ['work:square', 'work:cube']\n", encoding="utf-8"
    )
    report = tmp_path / "report.json"
    result = run([*RUN, "--report", str(report), "main.py"], tmp_path)
    assert (result.stdout, result.stderr, result.returncode) == ("[4, 9]\n8\n", "", 0)
    data = json.loads(report.read_text(encoding="utf-8"))
    assert data["captured_nothing"] == []
    assert {e["target"]: e["status"] for e in data["targets"]} == {
        "work:square": "captured",
        "work:cube": "captured",
    }
    assert data["processes"] >= 2


def autoload_site(tmp_path: Path) -> Path:
    site = tmp_path / "site"
    site.mkdir(exist_ok=True)
    (site / "sitecustomize.py").write_text("import snapy_capture.autoload\n", encoding="utf-8")
    return site


def test_autoload_says_what_captured_nothing_and_writes_its_report(tmp_path: Path) -> None:
    """With a config, autoload prints the same one line at exit and writes
    SNAP_CAPTURE_REPORT ({pid} filled in); a process that imports none of the targets'
    modules says nothing."""
    write(tmp_path, **{"textfilters.py": TEXTFILTERS, "app.py": REPORT_APP})
    config = tmp_path / "capture.yaml"
    config.write_text("targets: ['textfilters:shout', 'textfilters:whisper']\n", encoding="utf-8")
    env = {
        "PYTHONPATH": str(autoload_site(tmp_path)),
        "SNAP_CAPTURE_CONFIG": str(config),
        "SNAP_CAPTURE_REPORT": str(tmp_path / "report-{pid}.json"),
    }
    result = run([sys.executable, "app.py"], tmp_path, **env)
    (report,) = tmp_path.glob("report-*.json")
    assert report.name != "report-{pid}.json"
    assert (result.stdout, result.returncode) == ("", 0)
    assert result.stderr == (
        f"{FROZEN_LINE}{own_warning(tmp_path)}"
        f"snapy_capture: 1 of 2 targets captured nothing: textfilters:whisper (see {report})\n"
    )
    data = json.loads(report.read_text(encoding="utf-8"))
    assert [(e["target"], e["status"], e["captured"]) for e in data["targets"]] == [
        ("textfilters:shout", "captured", 3),
        ("textfilters:whisper", "never called", 0),
    ]
    del env["SNAP_CAPTURE_REPORT"]
    unrelated = run([sys.executable, "-c", "print('hi')"], tmp_path, **env)
    assert (unrelated.stdout, unrelated.stderr) == ("hi\n", "")


def test_autoload_names_only_the_targets_whose_module_the_process_imported(
    tmp_path: Path,
) -> None:
    """A fleet's target file names modules of several programs: a process that imported one
    and captured its target says nothing of the others' modules it never imported."""
    write(tmp_path, **{"textfilters.py": TEXTFILTERS, "app.py": REPORT_APP})
    (tmp_path / "billing.py").write_text("def charge(amount):\n    return amount\n")
    config = tmp_path / "capture.yaml"
    config.write_text("targets: ['textfilters:shout', 'billing:charge']\n", encoding="utf-8")
    env = {"PYTHONPATH": str(autoload_site(tmp_path)), "SNAP_CAPTURE_CONFIG": str(config)}
    result = run([sys.executable, "app.py"], tmp_path, **env)
    assert (result.stdout, result.returncode) == ("", 0)
    assert result.stderr == f"{FROZEN_LINE}{own_warning(tmp_path)}"


# --- capture under pytest -------------------------------------------------------------------


def test_pytest_under_the_runner_captures(tmp_path: Path, capture_dir: Path) -> None:
    """`python -m snapy_capture.run --config capture.yaml -m pytest tests` is a request to
    capture the tests' calls: the plugin leaves capture on, and says so in its header."""
    write(
        tmp_path,
        **{
            "calc.py": "def add(a, b):\n    return a + b\n",
            "tests/test_calc.py": "import calc\ndef test_add():\n    assert calc.add(2, 3) == 5\n",
            # Warnings as errors: pytest must not warn that it cannot rewrite our package.
            "pytest.ini": pytest_ini(),
        },
    )
    (tmp_path / "capture.yaml").write_text("targets: ['calc:add']\n", encoding="utf-8")
    environ = {k: "" for k in os.environ if k.startswith(("PYTEST_XDIST", "PYTEST_ADDOPTS"))}
    result = run(
        [*RUN, "--config", "capture.yaml", "-m", "pytest", "-q", "-p", "no:xdist", "tests"],
        tmp_path,
        **environ,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stderr == ""
    assert CaptureLoader(capture_dir).load_all("calc:add")[0]["args"] == [2, 3]
    header = run(
        [*RUN, "--config", "capture.yaml", "-m", "pytest", "-p", "no:xdist", "tests"],
        tmp_path,
        **environ,
    )
    assert "snapy_capture: capturing on (SNAP_CAPTURE_CONFIG is set)" in header.stdout


# --- the script's own functions under autoload ----------------------------------------------

SCRIPT = """
import sys

def summarize(items, token=None):
    return f"{len(items)} items"

class Report:
    def title(self, name):
        return name.title()

print(summarize([1, 2, 3], token="s3cr3t"), Report().title("weekly"))
if "boom" in sys.argv:
    raise ValueError("boom")
if "exit" in sys.argv:
    sys.exit("custom exit message")
sys.exit(int(sys.argv[-1]) if sys.argv[-1].isdigit() else 0)
"""


@pytest.mark.parametrize(
    ("command", "extra"),
    [
        (["app.py"], ["4"]),
        (["app.py"], ["boom"]),
        (["app.py"], ["exit"]),
        (["-m", "app"], ["0"]),
    ],
)
def test_autoload_captures_the_scripts_own_functions(
    tmp_path: Path, capture_dir: Path, command: list[str], extra: list[str]
) -> None:
    """`python app.py` (or `python -m app`) with autoload and a target naming app:summarize
    captures it, and the program's output, traceback and exit code are what plain Python
    gives."""
    (tmp_path / "app.py").write_text(SCRIPT, encoding="utf-8")
    config = tmp_path / "capture.yaml"
    # Report's instance stays out of the capture: loading it would import the script, which
    # runs it (it has no main guard).
    config.write_text(
        "targets: ['app:summarize', {target: 'app:Report.title', capture_self: false}]\n",
        encoding="utf-8",
    )
    args = [sys.executable, *command, *extra]
    plain = run(args, tmp_path)
    env = {"PYTHONPATH": str(autoload_site(tmp_path)), "SNAP_CAPTURE_CONFIG": str(config)}
    captured = run(args, tmp_path, **env)
    assert (captured.stdout, captured.stderr, captured.returncode) == (
        plain.stdout,
        plain.stderr,
        plain.returncode,
    )
    assert plain.stdout == "3 items Weekly\n"
    loader = CaptureLoader(capture_dir)
    (record,) = loader.load_all("app:summarize")
    assert record["args"] == [[1, 2, 3]]
    assert record["kwargs"]["token"] != "s3cr3t"
    assert loader.load_all("app:Report.title")[0]["args"][-1] == "weekly"


# --- check: did you mean ----------------------------------------------------------------------


def test_check_suggests_the_name_meant(tmp_path: Path) -> None:
    """A misspelled function or module gets the closest names in check's output."""
    (tmp_path / "textfilters.py").write_text(TEXTFILTERS, encoding="utf-8")
    (tmp_path / "capture.yaml").write_text(
        "targets: ['textfilters:shuot', 'textfilter:shout', 'textfilters:Registry.tabel']\n",
        encoding="utf-8",
    )
    result = run([sys.executable, "-m", "snapy_capture", "check", "capture.yaml"], tmp_path)
    assert result.returncode == 1
    lines = [" ".join(line.split()) for line in result.stdout.splitlines()]
    assert (
        "ERROR textfilters:shuot 'shuot' not found in textfilters (did you mean 'shout'?)" in lines
    )
    assert (
        "ERROR textfilter:shout module 'textfilter' not found or unreadable: no module named "
        "'textfilter' (did you mean 'textfilters'?)" in lines
    )
    assert any(line.startswith("ERROR textfilters:Registry.tabel") for line in lines)


# --- known proxy limits ---------------------------------------------------------------------


def test_a_captured_function_is_a_function_to_isinstance_and_inspect_but_not_to_type() -> None:
    """What the README says about the wrapt proxy a captured function is."""

    def plain(a, b=1):  # type: ignore[no-untyped-def]
        return a + b

    captured = capture_args(plain)
    assert isinstance(captured, types.FunctionType)
    assert inspect.isfunction(captured)
    assert captured.__class__ is types.FunctionType
    assert type(captured) is not types.FunctionType
    assert inspect.unwrap(captured) is plain
    assert str(inspect.signature(captured)) == "(a, b=1)"
    assert captured == plain
    assert hash(captured) == hash(plain)
