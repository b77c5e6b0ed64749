"""``snapy_capture.autoload``, the ``.pth`` switch and the child-process bootstrap."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from snapy_capture import autoload, load_capture_dict
from snapy_capture.run import BOOTSTRAP_DIR

WORK = "def work(x):\n    return x + 1\n"
PROGRAM = "import tgt_work; print(tgt_work.work(41))"


def python(code: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k != "SNAP_CAPTURE_CONFIG"}
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**environ, **env},
        timeout=60,
        check=False,
    )


def project(tmp_path: Path, config: str = "targets: ['tgt_work:work']\n") -> Path:
    (tmp_path / "tgt_work.py").write_text(WORK, encoding="utf-8")
    (tmp_path / "capture.yaml").write_text(config, encoding="utf-8")
    return tmp_path / "capture.yaml"


def test_autoload_captures_when_configured_and_warns_on_a_broken_file(
    tmp_path: Path, capture_dir: Path
) -> None:
    """On with SNAP_CAPTURE_CONFIG; a broken file is a warning and the program still runs."""
    config = project(tmp_path)
    result = python(
        f"import snapy_capture.autoload; {PROGRAM}", tmp_path, SNAP_CAPTURE_CONFIG=str(config)
    )
    assert (result.stdout, result.stderr, result.returncode) == ("42\n", "", 0)
    assert load_capture_dict("tgt_work:work")["args"] == [41]

    config.write_text("targets: [tgt_work:work\n", encoding="utf-8")
    broken = python(
        f"import snapy_capture.autoload; {PROGRAM}", tmp_path, SNAP_CAPTURE_CONFIG=str(config)
    )
    assert (broken.stdout, broken.returncode) == ("42\n", 0)
    # One line, ours only: no file and line of snapy_capture's, no source line.
    assert broken.stderr == (
        f"snapy_capture: SNAP_CAPTURE_CONFIG={config}: {config}:2: invalid YAML: expected ',' "
        f"or ']', but got '<stream end>'; running without capture\n"
    )


def test_autoload_is_silent_and_inactive_without_the_variable(tmp_path: Path) -> None:
    """No variable: nothing printed, no hook installed."""
    project(tmp_path)
    result = python(
        f"import snapy_capture.autoload, snapy_capture.hook as h; {PROGRAM}; print(h.current())",
        tmp_path,
    )
    assert (result.stdout, result.stderr) == ("42\nNone\n", "")


def test_enable_writes_a_pth_that_costs_nothing_when_unset(
    tmp_path: Path, capture_dir: Path
) -> None:
    """enable()/disable() manage the .pth file; it imports nothing unless asked to capture."""
    site_dir = tmp_path / "site"
    pth = autoload.enable(site_dir)
    assert pth == site_dir / "snapy_capture_autoload.pth"
    config = project(tmp_path)
    code = (
        f"import site, sys; site.addsitedir({str(site_dir)!r}); "
        f"print('snapy_capture' in sys.modules); {PROGRAM}"
    )
    assert python(code, tmp_path).stdout == "False\n42\n"
    assert python(code, tmp_path, SNAP_CAPTURE_CONFIG=str(config)).stdout == "True\n42\n"
    assert load_capture_dict("tgt_work:work")["args"] == [41]
    assert autoload.disable(site_dir) is True
    assert not pth.exists()
    assert autoload.disable(site_dir) is False


def test_bootstrap_chains_to_the_users_sitecustomize_and_leaves_sys_path(
    tmp_path: Path, capture_dir: Path
) -> None:
    """The child bootstrap runs the user's sitecustomize, then captures, and hides itself."""
    config = project(tmp_path)
    user_site = tmp_path / "usersite"
    user_site.mkdir()
    (user_site / "sitecustomize.py").write_text("print('user sitecustomize')\n", encoding="utf-8")
    pythonpath = os.pathsep.join([BOOTSTRAP_DIR, str(user_site)])
    result = python(
        f"import sys; {PROGRAM}; print({BOOTSTRAP_DIR!r} in sys.path)",
        tmp_path,
        PYTHONPATH=pythonpath,
        SNAP_CAPTURE_CONFIG=str(config),
    )
    assert (result.stdout, result.stderr) == ("user sitecustomize\n42\nFalse\n", "")
    assert load_capture_dict("tgt_work:work")["args"] == [41]


def test_autoload_without_config_imports_nothing_heavy() -> None:
    """With SNAP_CAPTURE_CONFIG unset, the sitecustomize line loads no capture machinery."""
    import os
    import subprocess
    import sys

    # Not measured by coverage either (`make test` measures subprocesses): coverage itself
    # imports typing & co. into the child.
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("SNAP_CAPTURE_") and k != "COVERAGE_PROCESS_CONFIG"
    }
    code = (
        "import sys, snapy_capture.autoload; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('wrapt', 'yaml', 'filelock', 'typing', 'pytest') or m.startswith('snapy_capture.')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == (
        "['snapy_capture._version', 'snapy_capture.autoload', 'snapy_capture.errors']"
    )
    assert out.stderr == ""
