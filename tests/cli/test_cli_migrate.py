"""``snapy-capture migrate``: a class renamed between capture and replay is named with the
capture and the command that fixes it; after the command the capture loads as the new class.
Real subprocesses: a program captures, gen-tests freezes, pytest replays, the CLI migrates."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ORDERS = """
class {name}:
    def __init__(self, n):
        self.n = n

    class Line:
        pass
"""

PRICING = """
from snapy_capture import capture_args

@capture_args(record_result=True)
def total(order):
    return order.n * 2 + (1 if hasattr(order, "line") else 0)
"""


def _run(project: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SNAP_CAPTURE")}
    env["PYTHONPATH"] = str(project)
    env["SNAP_CAPTURE_DEFAULT_PATH"] = str(project / "caps")
    return subprocess.run(
        [sys.executable, *argv],
        check=False,
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A package whose ``Order`` (with a nested class) is captured, then renamed."""
    (tmp_path / "shop").mkdir()
    (tmp_path / "shop" / "__init__.py").write_text("")
    (tmp_path / "shop" / "orders.py").write_text(ORDERS.format(name="Order"))
    (tmp_path / "shop" / "pricing.py").write_text(textwrap.dedent(PRICING))
    program = (
        "from shop.orders import Order\nfrom shop.pricing import total\n"
        "o = Order(3)\no.line = Order.Line()\ntotal(o)\n"
    )
    done = _run(tmp_path, "-c", program)
    assert done.returncode == 0, done.stderr
    gen = _run(
        tmp_path, "-m", "snapy_capture", "gen-tests", "total", "--mode", "result",
        "-o", "tests/test_total.py",
    )  # fmt: skip
    assert gen.returncode == 0, gen.stderr
    (tmp_path / "shop" / "orders.py").write_text(ORDERS.format(name="Purchase"))
    return tmp_path


def _pytest(project: Path) -> subprocess.CompletedProcess[str]:
    return _run(project, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_total.py")


def test_renamed_class_fails_naming_it_and_migrate_fixes_it(project: Path) -> None:
    """The case names the class, the capture file and the command; after ``migrate`` the
    capture loads as the renamed class (nested class too) and the suite passes."""
    failed = _pytest(project)
    assert failed.returncode == 1, failed.stdout
    frozen = project / "tests" / "snapy_captures"
    assert "class shop.orders.Order not found" in failed.stdout
    assert "module 'shop.orders' has no attribute 'Order'" in failed.stdout
    assert "snapy-capture migrate shop.pricing:total --path" in failed.stdout
    assert "--rename shop.orders:Order=NEW.MODULE:Order" in failed.stdout
    assert ".cap" in failed.stdout

    migrated = _run(
        project, "-m", "snapy_capture", "migrate", "total", "--path", str(frozen),
        "--rename", "shop.orders:Order=shop.orders:Purchase",
    )  # fmt: skip
    assert migrated.returncode == 0, migrated.stderr
    assert "Rewrote 1 capture(s) of shop.pricing:total" in migrated.stdout

    passed = _pytest(project)
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert "1 passed" in passed.stdout
    shown = _run(project, "-m", "snapy_capture", "show", "total", "--path", str(frozen), "--json")
    assert shown.returncode == 0, shown.stderr
    assert "shop.orders.Purchase" in shown.stdout


def test_migrate_bad_rename_is_a_usage_error(project: Path) -> None:
    """A --rename without the module:Class=module:Class shape is one line, exit 2."""
    bad = _run(project, "-m", "snapy_capture", "migrate", "total", "--rename", "Order=Purchase")
    assert bad.returncode == 2
    lines = bad.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "expected old.module:OldClass=new.module:NewClass" in lines[0]


def test_migrate_two_new_names_for_one_class_is_a_usage_error(project: Path) -> None:
    """``--rename a:B=c:D --rename a:B=e:F``: refused in one line, no capture rewritten."""
    caps = project / "caps"
    before = {p: p.read_bytes() for p in caps.rglob("*") if p.is_file()}
    bad = _run(
        project,
        "-m",
        "snapy_capture",
        "migrate",
        "total",
        "--rename",
        "shop.orders:Order=shop.orders:Purchase",
        "--rename",
        "shop.orders:Order=shop.orders:Basket",
    )
    assert bad.returncode == 2
    lines = bad.stderr.strip().splitlines()
    assert lines == [
        "snapy-capture: error: --rename 'shop.orders:Order=shop.orders:Basket': shop.orders:Order "
        "is already renamed to shop.orders:Purchase (one new name per class)"
    ]
    assert {p: p.read_bytes() for p in caps.rglob("*") if p.is_file()} == before
