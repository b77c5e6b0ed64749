"""The importable name of the script that wrote ``flat_layout_capture.cap`` (its ``Point``)."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass
class Point:
    x: int
    y: int
