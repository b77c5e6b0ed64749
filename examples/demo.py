"""``make demo``: from a legacy program with no tests to a behaviour change caught by pytest.

1. ``examples/legacy_app/app.py`` runs plainly, then under the capture runner with the targets
   named in ``capture.yaml`` (no source edits): the output is the same;
2. ``snapy-capture list`` and ``show`` what was captured;
3. ``snapy-capture gen-tests`` writes a test module for each captured function; it refuses
   those whose every capture had an argument filtered (a password, a card number), naming
   it, and a test value given with ``--substitutes`` lets the login one in;
4. ``pytest --snapshot-update`` then ``pytest``: green;
5. a behaviour change in the legacy code turns pytest red, with syrupy's diff.

Each step is printed as the command a user would type. The demo works on a copy of the
legacy app in ``demo_work/`` (git-ignored; ``--work-dir DIR`` for another place), never on the
repository's files, and leaves the copy there to explore. Every command runs with this
interpreter (the venv's, under ``make demo``). Exit code 0 when every step behaved as
expected; otherwise 1, with one line on stderr naming the step.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "examples" / "legacy_app"
ORDERS = "orders.txt"
RUN_APP = "app.py --discount 10"
# The login capture's filtered argument, and the test account's password (legacy_shop/auth.py).
FILLED = ("login", "password", "correct horse")
# Step 5: a harmless-looking refactor of the legacy code, applied to the copy.
REGRESSION = (
    "legacy_shop/pricing.py",
    "    return amount * (1 + rate)\n",
    "    return round(amount * (1 + rate), 2)  # prices with VAT in whole cents\n",
)
SUMMARY = re.compile(r"^=*\s*(\d+ (passed|failed|skipped).*?)\s*=*$")


# The venv's console script, as a user's shell finds it (its shebang is this interpreter);
# `python -m snapy_capture` would differ: it puts the working directory on sys.path.
_SCRIPT = Path(sys.executable).with_name("snapy-capture")
PROGRAMS = {
    "python": [sys.executable],
    "snapy-capture": [str(_SCRIPT)]
    if _SCRIPT.exists()
    else [sys.executable, "-m", "snapy_capture"],
}


class StepFailed(Exception):
    """A step did not do what the demo expects; the message says what happened."""


def shown(path: Path) -> str:
    """``path`` as typed from the repository root (absolute when outside it); symbolic links
    are kept (the venv's ``python`` is one)."""
    absolute = Path(os.path.abspath(path))
    try:
        return absolute.relative_to(ROOT).as_posix()
    except ValueError:
        return str(absolute)


def heading(title: str) -> None:
    print(f"\n=== {title}", flush=True)


def echo(text: str, limit: int | None = None) -> None:
    lines = text.rstrip("\n").splitlines()
    for line in lines[:limit]:
        print(f"    {line}")
    if limit is not None and len(lines) > limit:
        print(f"    ... ({len(lines) - limit} more lines)")


def note(text: str) -> None:
    print(f"  # {text}")


class Shell:
    """Runs commands as a user would type them in ``cwd`` (``python`` and ``snapy-capture``
    are this interpreter's), and prints them first."""

    def __init__(self, cwd: Path) -> None:
        self.cwd = cwd
        # What the caller's environment may set that would change what the demo shows.
        self.env = {
            name: value
            for name, value in os.environ.items()
            if not name.startswith(("SNAP_CAPTURE_", "PYTEST_")) and name != "SHOP_PASSWORD"
        }
        self.env["PYTHONDONTWRITEBYTECODE"] = "1"

    def run(self, command: str, *, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        print(f"$ {command}" + (f" < {stdin}" if stdin else ""), flush=True)
        program, *args = shlex.split(command)
        argv = [*PROGRAMS[program], *args]
        source = (self.cwd / stdin).open(encoding="utf-8") if stdin else None
        try:
            return subprocess.run(  # noqa: S603 - this interpreter, the demo's own commands
                argv,
                cwd=self.cwd,
                stdin=source if source is not None else subprocess.DEVNULL,
                capture_output=True,
                text=True,
                env=self.env,
                timeout=180,
                check=False,
            )
        finally:
            if source is not None:
                source.close()

    def expect(
        self, command: str, code: int = 0, **options: str
    ) -> subprocess.CompletedProcess[str]:
        done = self.run(command, **options)
        if done.returncode != code:
            last = (done.stderr.strip() or done.stdout.strip() or "no output").splitlines()[-1]
            raise StepFailed(f"`{command}` exited {done.returncode}, not {code}: {last}")
        return done


def summary_line(output: str) -> str:
    """pytest's final ``N passed, M skipped in T s`` line."""
    for line in reversed(output.splitlines()):
        match = SUMMARY.match(line.strip())
        if match:
            return match.group(1)
    raise StepFailed(f"pytest printed no summary line: {output.strip()[-200:]!r}")


def skip_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("SKIPPED")]


def capture_and_compare(sh: Shell, work: Path) -> None:
    heading("1. Run the legacy program plainly, then under the capture runner (no source edits)")
    app = sh.cwd
    note("a copy of the legacy app, so that step 5 can change its code")
    copy = f"mkdir -p {shown(work)} && cp -r examples/legacy_app {shown(work)}/"
    print(f"$ rm -rf {shown(app)} && {copy}")
    print(f"$ cd {shown(app)}")
    plain = sh.run(f"python {RUN_APP}", stdin=ORDERS)
    echo(plain.stdout + plain.stderr)
    print(f"    (exit code {plain.returncode})")
    if plain.returncode != 3:
        raise StepFailed(f"the legacy app exited {plain.returncode}, not 3 (lines skipped)")
    print("$ cat capture.yaml")
    echo((app / "capture.yaml").read_text(encoding="utf-8"))
    captured = sh.run(f"python -m snapy_capture.run --config capture.yaml {RUN_APP}", stdin=ORDERS)
    if (captured.stdout, captured.stderr, captured.returncode) != (
        plain.stdout,
        plain.stderr,
        plain.returncode,
    ):
        raise StepFailed(
            "the output under the runner differs from plain python: "
            f"exit {captured.returncode}, stderr {captured.stderr.strip()[-200:]!r}"
        )
    echo(captured.stdout + captured.stderr)
    print(f"    (exit code {captured.returncode})")
    note("identical output: same stdout, stderr and exit code as plain python")


def list_and_show(sh: Shell) -> list[str]:
    heading("2. What was captured (in ./captures)")
    listed = sh.expect("snapy-capture list")
    rows = [line.split()[0] for line in listed.stdout.splitlines() if ":" in line.split(" ")[0]]
    header = next((line for line in listed.stdout.splitlines() if "CORRUPT" in line), "")
    cut = header.find("CORRUPT") if header else None  # the name and count columns suffice
    echo("\n".join(line[:cut].rstrip() for line in listed.stdout.splitlines()))
    login = next((name for name in rows if name.endswith(f":{FILLED[0]}")), None)
    if login is None or len(rows) < 10:
        raise StepFailed(f"expected the app's functions in `snapy-capture list`, got {rows}")
    shown_capture = sh.expect(f"snapy-capture show {login}")
    echo(
        "\n".join(
            line
            for line in shown_capture.stdout.splitlines()
            if not line.lstrip().startswith(("file:", "python_version", "thread_id", "pid"))
        )
    )
    if f"[FILTERED: name:{FILLED[1]}]" not in shown_capture.stdout:
        raise StepFailed(f"the {FILLED[1]} of {login} was not filtered in its capture")
    note(f"the {FILLED[1]} never reached the disk: a placeholder holds its place")
    return rows


def module_for(name: str) -> str:
    qualname = name.partition(":")[2]
    return f"tests/test_{qualname.replace('.', '_').lower()}.py"


def generate(sh: Shell, functions: list[str]) -> list[str]:
    """Step 3; returns the functions that got a module."""
    heading("3. Generate a test module for each captured function")
    note("a pytest root of its own (the repository's pytest settings are not the app's)")
    print("$ printf '[pytest]\\n' > pytest.ini")
    (sh.cwd / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    function, path, value = FILLED
    generated = []
    for name in functions:
        done = sh.run(f"snapy-capture gen-tests {name} -o {module_for(name)}")
        if done.returncode == 0:
            generated.append(name)
            continue
        refusal = done.stderr.strip()
        echo(refusal)
        if "give SUBSTITUTES" not in refusal:
            raise StepFailed(f"gen-tests refused {name} for another reason: {refusal}")
        if not name.endswith(f":{function}"):
            note("left out on purpose: a test card number in a substitutes file would let it in")
            continue
        note("its captures hold a placeholder where the password was: replaying that would not")
        note("mean what production did. Give a test value, keyed by the path named:")
        substitutes = f"{function}-substitutes.json"
        print(f'$ echo \'{{"{path}": "{value}"}}\' > {substitutes}')
        (sh.cwd / substitutes).write_text(f'{{"{path}": "{value}"}}\n', encoding="utf-8")
        sh.expect(
            f"snapy-capture gen-tests {name} -o {module_for(name)} --substitutes {substitutes}"
        )
        filled = next(
            (line for line in (sh.cwd / module_for(name)).read_text().splitlines() if path in line),
            "",
        )
        print(f"$ grep {path} {module_for(name)}")
        echo(filled)
        generated.append(name)
    note(f"{len(generated)} modules: methods replay on the instance captured with each call,")
    note("constructors build theirs, and a call that raised snapshots its exception; the")
    note("captures replayed are frozen in tests/snapy_captures/, to commit with the tests")
    add = next((name for name in generated if name.endswith("OrderService.add")), None)
    if add is not None:
        print(f"$ tail -n 7 {module_for(add)}")
        echo("".join((sh.cwd / module_for(add)).read_text().splitlines(keepends=True)[-7:]))
    return generated


def replay_green(sh: Shell, functions: list[str]) -> None:
    heading("4. Record the snapshots, then replay: green")
    updated = sh.expect("python -m pytest -q -rs --snapshot-update tests")
    echo(summary_line(updated.stdout))
    login = next(name for name in functions if name.endswith(f":{FILLED[0]}"))
    stored = sh.cwd / "tests" / "__snapshots__" / f"{Path(module_for(login)).stem}.ambr"
    print(f"$ cat {shown(stored).rpartition(shown(sh.cwd) + '/')[2]}")
    echo(stored.read_text(encoding="utf-8"))
    green = sh.expect("python -m pytest -q -rs tests")
    skips = skip_lines(green.stdout)
    echo("\n".join([*skips, summary_line(green.stdout)]))
    if skips or "passed" not in summary_line(green.stdout):
        raise StepFailed(f"a case was skipped: {skips[0] if skips else summary_line(green.stdout)}")


def regression_caught(sh: Shell) -> None:
    heading("5. A behaviour change in the legacy code: caught")
    relative, old, new = REGRESSION
    source = sh.cwd / relative
    text = source.read_text(encoding="utf-8")
    if old not in text:
        raise StepFailed(f"{relative} does not hold the line step 5 changes")
    source.write_text(text.replace(old, new), encoding="utf-8")
    note("a harmless-looking refactor in the copy: add_vat is not captured itself, but")
    note("OrderService.add calls it")
    print(f"(edit {relative})")
    print(f"    -{old.rstrip()}\n    +{new.rstrip()}")
    red = sh.run("python -m pytest -q tests")
    failed = [line for line in red.stdout.splitlines() if line.startswith("FAILED")]
    diff = [line for line in red.stdout.splitlines() if re.match(r"^E\s+[-+]\s", line)]
    echo("\n".join(line[:100] for line in failed))
    print("    syrupy's diff (- snapshot, + now):")
    echo("\n".join(diff[:6]))
    echo(summary_line(red.stdout))
    if red.returncode != 1 or not failed or not diff:
        raise StepFailed(
            f"pytest exited {red.returncode} after the change, expected 1 with a snapshot diff"
        )
    if not all("test_orderservice_add.py" in line for line in failed):
        raise StepFailed(f"the change failed other tests than OrderService.add's: {failed}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--work-dir",
        type=Path,
        default=ROOT / "demo_work",
        help="where the copy of the legacy app goes (default: demo_work/, git-ignored)",
    )
    work = parser.parse_args(argv).work_dir.resolve()
    app = work / "legacy_app"
    started = time.perf_counter()
    print("snapy_capture demo: capture a legacy program, generate tests, catch a change.")
    print("Commands are typed from the repository root, in a shell with the venv active")
    print(f"(`. .venv/bin/activate`; this run uses {shown(Path(sys.executable))}).")
    step = "0 (setup)"
    try:
        shutil.rmtree(app, ignore_errors=True)
        work.mkdir(parents=True, exist_ok=True)
        shutil.copytree(
            APP, app, ignore=shutil.ignore_patterns("__pycache__", "captures", "tests", "*.ini")
        )
        sh = Shell(app)
        step = "1"
        capture_and_compare(sh, work)
        step = "2"
        functions = list_and_show(sh)
        step = "3"
        functions = generate(sh, functions)
        step = "4"
        replay_green(sh, functions)
        step = "5"
        regression_caught(sh)
    except (StepFailed, OSError, subprocess.SubprocessError) as exc:
        print(f"demo: step {step} did not behave as expected: {exc}", file=sys.stderr)
        return 1
    heading(f"Done in {time.perf_counter() - started:.0f} s: every step behaved as expected.")
    print(f"The copy stays in {shown(app)} to explore, e.g. from the repository root:")
    cd = f"$ cd {shown(app)} &&"
    print(f"{cd} snapy-capture show --import-path . legacy_shop.orders:OrderService.add")
    print(f"{cd} python -m pytest -q tests   # red until step 5 is undone")
    print(f"Remove it with: rm -rf {shown(work)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
