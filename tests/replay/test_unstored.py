"""What replay does with parts a capture could not hold: placeholders of unstorable parts
(they do not skip by themselves), recorded results that are placeholders (never a pass),
returned generators and iterators (drained like a generator function's), and ``__init__``
captures (replayed by building the instance)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import pytest

from snapy_capture.pytest_plugin import (
    assert_replay_matches,
    replay_and_compare,
    replay_outcome,
    replay_records,
)
from snapy_capture.replay import CannotReplayError
from snapy_capture.replay import replay_and_compare as plain_replay_and_compare
from snapy_capture.replay import replay_outcome as plain_replay_outcome
from snapy_capture.storage import CaptureStorage

LOCAL = "[FILTERED: unstorable: local function <lambda>]"


def _strong(text: str) -> str:
    return f"<b>{text}</b>"


class Renderer:
    """A method table holding, in the program, a local function pickle cannot store."""

    def __init__(self, escape: bool = True) -> None:
        self.escape = escape
        self.methods: dict[str, Any] = {"strong": _strong}
        self.rendered = 0

    def render(self, name: str, text: str) -> str:
        out = self.methods[name](text)
        self.rendered += 1
        return out.replace("<", "&lt;") if self.escape else out


def _captured_renderer() -> Renderer:
    """The renderer as a capture holds it: the local function replaced by its placeholder."""
    renderer = Renderer(escape=False)
    renderer.methods["strike"] = LOCAL
    return renderer


def _record(qualname: str, args: list[Any], **fields: Any) -> dict[str, Any]:
    return {
        "module": __name__,
        "qualname": qualname,
        "function_name": qualname.rsplit(".", 1)[-1],
        "timestamp": "2026-12-01T10:00:00.000000Z",
        "args": args,
        "kwargs": fields.pop("kwargs", {}),
        "metadata": {"redactions": fields.pop("redactions", [])},
        **fields,
    }


def _render_record(name: str, result: Any, **fields: Any) -> dict[str, Any]:
    after = _captured_renderer()
    after.rendered = 1
    return _record(
        "Renderer.render",
        [name, "hi"],
        self=_captured_renderer(),
        self_after=after,
        result=result,
        redactions=[{"path": "self.methods['strike']", "reason": "unstorable: local function"}],
        **fields,
    )


def test_an_unstorable_part_of_the_instance_does_not_skip_a_call_that_works_without_it(
    tmp_path: Any,
) -> None:
    """Rendering 'strong' never touches the lost lambda: the case runs in both modes (it was
    skipped as if the lambda were a secret)."""
    record = _render_record("strong", {"value": "<b>hi</b>"})
    CaptureStorage(tmp_path).save(record)
    (entry,) = replay_records(f"{__name__}:Renderer.render", path=tmp_path)
    assert not entry.marks
    assert_replay_matches(Renderer.render, record)
    assert replay_outcome(Renderer.render, record)["outcome"] == "<b>hi</b>"
    changed = {**record, "result": {"value": "<strong>hi</strong>"}}
    mismatch = plain_replay_and_compare(Renderer.render, changed)
    assert not mismatch.matches
    # A failure says the replay ran without the lost part.
    assert "could not be stored at capture time: self.methods['strike']" in mismatch.diff


def test_a_call_that_fails_without_its_unstorable_parts_is_skipped_naming_them() -> None:
    """Rendering 'strike' calls the placeholder: skipped in both modes, naming the path and
    what the call raised, never a failure nor a snapshot of the TypeError."""
    record = _render_record("strike", {"value": "<s>hi</s>"})
    expected = (
        r"could not be stored at capture time: self\.methods\['strike'\] "
        r"\(unstorable: local function\); the call failed without them: "
        r"TypeError: 'str' object is not callable"
    )
    with pytest.raises(pytest.skip.Exception, match=expected):
        assert_replay_matches(Renderer.render, record)
    with pytest.raises(pytest.skip.Exception, match=expected):
        replay_outcome(Renderer.render, record)
    with pytest.raises(CannotReplayError, match=expected):
        plain_replay_outcome(Renderer.render, record)
    # Had the program's call raised that very exception, the replay reproduces it.
    raised = {"exception": {"type": "TypeError", "module": "builtins", "message": "boom"}}
    assert not replay_and_compare(Renderer.render, {**record, "result": raised}).matches
    other = {"exception": {"type": "KeyError", "module": "builtins", "message": "'strike'"}}
    with pytest.raises(pytest.skip.Exception, match="the call failed without them"):
        replay_and_compare(Renderer.render, {**record, "result": other})


def test_secrets_in_the_instance_still_skip_unless_substituted() -> None:
    """name:/value: placeholders keep the old rule, beside an unstorable part."""
    record = _render_record("strong", {"value": "<b>hi</b>"})
    record["metadata"]["redactions"].append({"path": "self.escape", "reason": "name:key"})
    for helper in (assert_replay_matches, replay_outcome):
        with pytest.raises(pytest.skip.Exception, match=r"at capture time \(self\.escape\)"):
            helper(Renderer.render, record)
    assert_replay_matches(Renderer.render, record, substitutes={"self.escape": False})


def make_tokens(text: str) -> Iterator[str]:
    """Not a generator function: returns a generator made by an inner one."""
    if not isinstance(text, str):
        raise TypeError("text must be a str")

    def stream() -> Iterator[str]:
        for word in text.split():
            if word == "!":
                raise ValueError("bad token '!'")
            yield word.upper()

    return stream()


def test_a_returned_generator_or_iterator_is_drained_like_a_generator_functions() -> None:
    """Snapshot mode: the items (and an exception mid-way), not a generator object."""
    assert replay_outcome(make_tokens, _record("make_tokens", ["a b"])) == ["A", "B"]
    assert replay_outcome(make_tokens, _record("make_tokens", ["a ! b"])) == {
        "items": ["A"],
        "raised": "ValueError",
        "message": "bad token '!'",
    }
    assert replay_outcome(map, _record("map", [str.upper, "ab"])) == ["A", "B"]
    assert replay_outcome(iter, _record("iter", [[1, 2]])) == [1, 2]
    assert replay_outcome(list, _record("list", ["ab"])) == ["a", "b"]
    assert replay_outcome(dict, _record("dict", [[(1, 2)]])) == {1: 2}
    endless = replay_outcome(itertools.count, _record("count", [1]))
    assert endless["truncated"] == "stopped reading after 10000 items"
    assert endless["items"][:2] == [1, 2]
    # Result mode compares the items when they were recorded (a list the program made).
    listed = _record("make_tokens", ["a b"], result={"value": ["A", "B"]})
    assert_replay_matches(make_tokens, listed)


def test_a_recorded_result_that_is_a_placeholder_is_never_a_pass() -> None:
    """The capture could not store the generator (or closure) returned: the case is skipped
    saying so, once what can be checked holds; a replay that raises at once fails."""
    unstored = {"value": "[FILTERED: unstorable:generator]"}
    record = _record("make_tokens", ["a b"], result=unstored)
    with pytest.raises(
        pytest.skip.Exception,
        match=r"the call returned a generator, which capture never consumes .*"
        r"\(\[FILTERED: unstorable:generator\]\); only that the call returned was checked",
    ):
        assert_replay_matches(make_tokens, record)
    with pytest.raises(pytest.skip.Exception, match=r"its items then raised ValueError"):
        assert_replay_matches(make_tokens, {**record, "args": ["a ! b"]})
    # Raising at the call itself is a difference from the recorded return.
    broken = plain_replay_and_compare(make_tokens, {**record, "args": [None]})
    assert not broken.matches
    assert "but the replayed call raised builtins.TypeError: text must be a str" in broken.diff
    closure = _record("make_tokens", ["a"], result={"value": "[FILTERED: unserializable function]"})
    with pytest.raises(
        pytest.skip.Exception,
        match=r"the recorded result is a placeholder \(\[FILTERED: unserializable function\]\)",
    ):
        assert_replay_matches(lambda text: lambda: text, closure)
    # The instance's state after the call is still compared: a difference fails.
    after = Renderer(escape=False)
    after.rendered = 5
    on_instance = _record(
        "Renderer.render",
        ["strong", "hi"],
        self=Renderer(escape=False),
        self_after=after,
        result={"value": "[FILTERED: unstorable: too large (9999 bytes)]"},
    )
    mismatch = plain_replay_and_compare(Renderer.render, on_instance)
    assert not mismatch.matches
    assert "first difference at self.rendered: 5 != 1" in mismatch.diff


class Account:
    def __init__(self, owner: str, *, limit: int = 100) -> None:
        self.owner = owner
        self.limit = limit
        self.history: list[int] = []


def _init_record(**fields: Any) -> dict[str, Any]:
    built = Account("ann", limit=50)
    return _record(
        "Account.__init__",
        ["ann"],
        kwargs={"limit": 50},
        result={"value": None},
        self_after=built,
        **fields,
    )


def test_an_init_capture_replays_by_building_the_instance() -> None:
    """Account(*args, **kwargs) is built and its state compared with self_after (result
    mode) or snapshotted (snapshot mode); before, __init__ only 'returned None'."""
    record = _init_record()
    assert_replay_matches(Account, record)
    outcome = replay_and_compare(Account, record)
    assert outcome.instance.limit == 50
    assert replay_outcome(Account, record) == {
        "__class__": f"{__name__}.Account",
        "owner": "ann",
        "limit": 50,
        "history": [],
    }
    changed = {**record, "kwargs": {"limit": 75}}
    mismatch = plain_replay_and_compare(Account, changed)
    assert not mismatch.matches
    assert "the instance's state after the call differs" in mismatch.diff
    assert "first difference at self.limit: 50 != 75" in mismatch.diff
    failing = {**record, "args": [], "kwargs": {}}
    diff = plain_replay_and_compare(Account, failing).diff
    assert "missing 1 required positional argument" in diff
    with pytest.raises(pytest.skip.Exception, match=r"pass the class \(Account\)"):
        assert_replay_matches(Account.__init__, record)
    without_state = {key: value for key, value in record.items() if key != "self_after"}
    with pytest.raises(pytest.skip.Exception, match="holds no state of the instance it built"):
        assert_replay_matches(Account, without_state)


def test_a_long_list_of_unstorable_parts_is_cut_in_the_skip_reason() -> None:
    """A method table can lose dozens of local functions: five are named, then a count."""
    record = _render_record("strike", {"value": "<s>hi</s>"})
    for index in range(7):
        record["metadata"]["redactions"].append(
            {"path": f"self.methods['x{index}']", "reason": "unstorable: local function"}
        )
    with pytest.raises(
        pytest.skip.Exception, match=r"\['x3'\] \(unstorable: local function\) and 3 more; the call"
    ):
        replay_outcome(Renderer.render, record)
