"""Runs the audit in a child Python process, as the legacy app always has."""

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def audit_in_child(amounts):
    result = subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "legacy_shop.audit", *map(str, amounts)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip()
