"""An object with a huge ``__dict__`` costs the walk what its size budget allows, no more.

The walk listed every attribute name of an object before the budget was consulted: an object
with 500,000 attributes cost a synchronous capture ~0.1 s and one with ``record_result`` ~0.6 s,
to end as a ``too large`` placeholder all the same.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from _modes import CAPTURE_MODES
from snapy_capture import CaptureLoader, capture_args, flush
from snapy_capture.filters._pickled import attribute_names


class Registry:
    def __init__(self, size: int) -> None:
        self.__dict__.update({f"entry{i}": i for i in range(size)})


def test_attribute_names_stop_at_the_limit() -> None:
    wide = Registry(100_000)
    assert len(attribute_names(wide, 10) or ()) == 10
    assert len(attribute_names(wide) or ()) == 100_000
    assert attribute_names(Registry(3), 10) == [
        ("entry0", False),
        ("entry1", False),
        ("entry2", False),
    ]


@pytest.mark.parametrize("options", CAPTURE_MODES)
def test_a_huge_object_is_still_replaced_as_too_large(
    capture_dir: Path, options: dict[str, Any]
) -> None:
    @capture_args(retention=None, **options)
    def load(registry: Any, name: str) -> None:
        return None

    load(Registry(400_000), "users")
    assert flush(timeout=30)
    [record] = CaptureLoader(capture_dir).load_all("load")
    assert record["args"][0].startswith("[FILTERED: too large")
    assert record["args"][1] == "users"
