"""Each replay runs on a copy of the captured values made as loading the capture makes them.

``copy.deepcopy`` runs a class's own ``__deepcopy__``: marshmallow's fields copy themselves
shallowly, so in a deep-copied schema every field's ``parent`` was still the original schema,
and a method comparing them (or the state left after the call) differed from the real call.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from snapy_capture import capture_args, flush
from snapy_capture.pytest_plugin import assert_replay_matches, replay_records


class Field:
    def __init__(self, name: str) -> None:
        self.name = name
        self.parent: Any = None

    def __deepcopy__(self, memo: dict[int, Any]) -> Field:
        return copy.copy(self)  # as marshmallow's Field does


class Form:
    def __init__(self, *names: str) -> None:
        self.fields = {name: Field(name) for name in names}
        for field in self.fields.values():
            field.parent = self

    @capture_args(retention=None, record_result=True)
    def bound(self, name: str) -> bool:
        """Whether the field still belongs to this form."""
        return self.fields[name].parent is self


def test_a_method_replays_on_an_instance_whose_parts_point_back_at_it(capture_dir: Path) -> None:
    assert Form("city", "zip_code").bound("city") is True
    assert flush(timeout=30)
    [case] = replay_records(f"{__name__}:Form.bound", path=capture_dir, with_result=True)
    [record] = case.values
    # The recorded result (True), and the state left, as the real call gave them.
    assert_replay_matches(Form.bound, record)
