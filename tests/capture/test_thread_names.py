"""A thread's name is stored with each capture it makes, filtered like a value.

``metadata["thread_id"]`` held the thread's name verbatim, outside every filter: a program
naming its threads after what they serve (``Thread(name=f"sync {dsn}")``, a token, a
customer's card) put that on disk in every mode, and in the deduplicated captures' header.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from _modes import CAPTURE_MODES
from snapy_capture import CaptureLoader, capture_args, flush

PASSWORD = "Zq8-unlikely-pw-77"
TOKEN = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
DSN = "postgresql://{}@db.internal/orders"
NAMES = {
    "sync " + DSN.format(f"app:{PASSWORD}"): "sync " + DSN.format("[FILTERED: pii]"),
    f"worker {TOKEN}": "worker [FILTERED: pii]",
    "worker-3": "worker-3",
}


def _on_disk(root: Path) -> bytes:
    assert flush(timeout=30)
    return b"".join(path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file())


@pytest.mark.parametrize("dedupe", [False, True])
@pytest.mark.parametrize("options", CAPTURE_MODES)
def test_a_secret_in_a_thread_name_is_masked(
    capture_dir: Path, options: dict[str, Any], dedupe: bool
) -> None:
    @capture_args(retention=None, dedupe=dedupe, **options)
    def handle(order: int) -> int:
        return order

    for number, name in enumerate(NAMES):
        thread = threading.Thread(target=handle, args=(number,), name=name)
        thread.start()
        thread.join()
    stored = _on_disk(capture_dir)
    assert PASSWORD.encode() not in stored
    assert TOKEN.encode() not in stored
    records = CaptureLoader(capture_dir).load_all("handle")
    names = {r["args"][0]: r["metadata"]["thread_id"] for r in records}
    assert names == dict(enumerate(NAMES.values()))
