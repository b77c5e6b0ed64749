"""``make demo``: capture a legacy program with no source edits, list the captures, replay them.

1. runs ``examples/legacy_app/app.py`` under ``python -m snapy_capture.run --config
   examples/legacy_app/capture.yaml`` (the app is never edited: the YAML names the targets);
2. lists what was captured (``python -m snapy_capture list``);
3. replays each captured call of a plain function against the code and compares the result
   with the recorded one, as a test built from ``load_capture`` would.

Captures go to ``./demo_captures`` (emptied first).
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import inspect
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from snapy_capture import CaptureLoader, Redacted

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "examples" / "legacy_app"
CAPTURES = ROOT / "demo_captures"
STDIN = "A-100:2:19.99\nB-200:1:5.50\nnot-a-line\n"


def step(title: str) -> None:
    print(f"\n=== {title}", flush=True)


def run_captured() -> None:
    step("1. the legacy app, run under the capture runner (no source edits)")
    command = [
        sys.executable,
        "-m",
        "snapy_capture.run",
        "--config",
        "capture.yaml",
        "app.py",
        "--discount",
        "10",
    ]
    print(f"$ cd {APP.relative_to(ROOT)} && printf {STDIN!r} | python {' '.join(command[1:])}")
    env = {**os.environ, "SNAP_CAPTURE_DEFAULT_PATH": str(CAPTURES)}
    result = subprocess.run(  # noqa: S603 - our own interpreter, fixed arguments
        command, cwd=APP, input=STDIN, text=True, env=env, check=False, capture_output=True
    )
    print(result.stdout + result.stderr, end="")
    print(f"(exit code {result.returncode}, as with plain `python app.py`: 3 = a line skipped)")


def list_captures() -> None:
    step(f"2. what was captured, in {CAPTURES.relative_to(ROOT)}/")
    if importlib.util.find_spec("snapy_capture.cli") is not None:
        subprocess.run(  # noqa: S603
            [sys.executable, "-m", "snapy_capture", "list", "--path", str(CAPTURES)], check=False
        )
        return
    loader = CaptureLoader(CAPTURES)
    for name in loader.functions():
        print(f"  {name}: {loader.count(name)} capture(s)")


def resolve(name: str) -> Any:
    """The function a capture belongs to, as stored in its class (None for instance methods)."""
    module_name, _, qualname = name.partition(":")
    owner: Any = importlib.import_module(module_name)
    *path, attr = qualname.split(".")
    for part in path:
        owner = getattr(owner, part)
    raw = inspect.getattr_static(owner, attr)
    if isinstance(raw, property):
        return raw.fget  # captured with the instance as its one argument
    if isinstance(owner, type) and not isinstance(raw, (staticmethod, classmethod)):
        return None
    return getattr(owner, attr)


def verdict(func: Any, record: dict[str, Any]) -> str:
    """Call ``func`` as recorded; compare with the recorded result or exception."""
    recorded = record.get("result", {})
    try:
        outcome = func(*record["args"], **record["kwargs"])
        if inspect.isawaitable(outcome):
            outcome = asyncio.run(outcome)
    except Exception as exc:  # noqa: BLE001 - whatever the code raises is the outcome
        raised = recorded.get("exception", {}).get("type")
        same = "same as recorded" if raised == type(exc).__qualname__ else "NOT as recorded"
        return f"raises {type(exc).__name__}: {same}"
    if "exception" in recorded:
        return f"{outcome!r}: recorded an exception, DIFFERS"
    expected = recorded.get("value")
    same = outcome == expected or (
        type(outcome) is type(expected)
        and hasattr(outcome, "__dict__")
        and vars(outcome) == vars(expected)
    )
    return f"{outcome!r}: " + ("same result" if same else f"DIFFERS: {expected!r}")


def replay() -> None:
    step("3. replaying the captured calls against the code")
    sys.path.insert(0, str(APP))
    loader = CaptureLoader(CAPTURES)
    replayed = 0
    for name in loader.functions():
        func = resolve(name)
        if func is None:
            print(f"  skip {name}: an instance method's captures hold no instance to call it on")
            continue
        for record in loader.load_all(name):
            call = ", ".join(
                [*map(repr, record["args"]), *(f"{k}={v!r}" for k, v in record["kwargs"].items())]
            )
            if any(isinstance(v, Redacted) for v in [*record["args"], *record["kwargs"].values()]):
                print(f"  skip {name}({call}): an argument was redacted at capture time")
                continue
            print(f"  {name}({call}) -> {verdict(func, record)}")
            replayed += 1
    print(
        f"\n{replayed} call(s) replayed. In a test: "
        "args, kwargs = snapy_capture.load_capture('legacy_shop.pricing:apply_discount')"
    )


def main() -> int:
    shutil.rmtree(CAPTURES, ignore_errors=True)
    run_captured()
    list_captures()
    replay()
    return 0


if __name__ == "__main__":
    sys.exit(main())
