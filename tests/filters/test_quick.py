"""The fast path of filtering: the same results as the full walk, whatever the filter's state."""

from __future__ import annotations

import collections
import copy
import datetime
import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from snapy_capture import ArgumentFilter
from snapy_capture.filters import EMAIL_PATTERN, PII_PATTERNS, FilterResult, Redacted
from snapy_capture.filters import _filter as filters_mod

VISA = "4111 1111 1111 1111"
NAMES = ["order_id", "reference"]
ARGS = (42, "order-1234")
KWARGS: dict[str, Any] = {"items": [("sku-1", 2), ("sku-2", 1)], "discount": 0.1}


class Pair(collections.namedtuple("Pair", "left password")):
    """A namedtuple with a sensitive field: never on the fast path."""


def walked(flt: ArgumentFilter) -> ArgumentFilter:
    """``flt`` made to take the full walk for every value (a custom filter that keeps all)."""
    reference = flt.derive()
    reference.add_filter(lambda path, name, value: value)
    return reference


def shape(value: Any) -> Any:
    """A comparable picture of a filtered value: types, contents and placeholders."""
    if isinstance(value, Redacted):
        return ("redacted", value.reason)
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, [shape(item) for item in value])
    if isinstance(value, (set, frozenset)):
        return (type(value).__name__, sorted(repr(shape(item)) for item in value))
    if isinstance(value, dict):
        return ("dict", [(shape(key), shape(item)) for key, item in value.items()])
    return (type(value).__name__, repr(value))


def outcome(result: FilterResult, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    kept = [new is old for new, old in zip(result.args, args, strict=True)]
    kept += [result.kwargs.get(key) is value for key, value in kwargs.items()]
    return shape(result.args), shape(result.kwargs), result.redactions, kept


SECRETS = st.sampled_from(
    [VISA, "password=hunter2", "bob@example.com", "123-45-6789", "AKIAABCDEFGHIJKLMNOP", "ok"]
)
WORDS = st.sampled_from(["password", "api_key", "items", "note", "sort_key", "monkey", "x", ""])
ATOMS = st.one_of(
    st.integers(),
    st.sampled_from([4111111111111111, 10**11, -(10**11), 2**70]),
    st.floats(allow_nan=False),
    st.booleans(),
    st.none(),
    st.text(max_size=20),
    SECRETS,
    st.binary(max_size=8),
    st.just(datetime.date(2024, 1, 5)),
    st.just(Redacted("earlier")),
)
KEYS = st.one_of(WORDS, SECRETS, st.integers(), st.none(), st.binary(max_size=4))
VALUES = st.recursive(
    ATOMS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.lists(inner, max_size=4).map(tuple),
        st.frozensets(st.one_of(st.integers(), st.text(max_size=6), SECRETS), max_size=4),
        st.sets(st.one_of(st.integers(), SECRETS), max_size=3),
        st.dictionaries(KEYS, inner, max_size=4),
        st.tuples(inner, inner).map(lambda pair: Pair(*pair)),
    ),
    max_leaves=20,
)
OPTIONS = [
    {},
    {"max_size": 3},
    {"max_depth": 1},
    {"max_depth": 2},
    {"filter_pii": False},
    {"filter_types": [list]},
    {"filter_types": ["builtins.dict", frozenset]},
    {"ignore_args": ["items", "note"]},
    {"allow_args": ["password", "sort_key"]},
    {"pii_patterns": [*PII_PATTERNS, EMAIL_PATTERN]},
    {"pii_patterns": [r"\d\d"]},
]
FILTERS = [ArgumentFilter(**options) for options in OPTIONS]
REFERENCES = [walked(flt) for flt in FILTERS]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    which=st.integers(min_value=0, max_value=len(FILTERS) - 1),
    args=st.lists(VALUES, max_size=3).map(tuple),
    kwargs=st.dictionaries(st.one_of(WORDS, SECRETS), VALUES, max_size=3),
    names=st.lists(WORDS, max_size=3),
    var_keyword=st.sampled_from([None, "credentials", "options"]),
)
def test_fast_path_gives_what_the_walk_gives(
    which: int,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    names: list[str],
    var_keyword: str | None,
) -> None:
    """Same values, same placeholders, same report, and the same objects kept as they were."""
    options = {"var_keyword": var_keyword, "keyword_params": ("note",)}
    fast = FILTERS[which].filter_call(names, args, kwargs, **options)
    slow = REFERENCES[which].filter_call(names, args, kwargs, **options)
    assert outcome(fast, args, kwargs) == outcome(slow, args, kwargs)
    for name in (None, "note", "password"):
        value = args[0] if args else kwargs
        fast_value, fast_report = FILTERS[which].filter_value(value, name)
        slow_value, slow_report = REFERENCES[which].filter_value(value, name)
        assert (shape(fast_value), fast_report) == (shape(slow_value), slow_report)
        assert (fast_value is value) == (slow_value is value)


#: One of each thing the fast path must hand to the walk, each inside otherwise clean values.
TRICKY: list[Any] = [
    {VISA: 1},
    {"note": 1, "password": 2},
    {2: "x", None: 2.5, True: (1, 2)},
    {b"key": 1},
    [1, 4111111111111111],
    ("a", 10**11, -(10**11)),
    {"a": [VISA]},
    frozenset({"a", VISA}),
    {1, 2, "bob@example.com"},
    ["a", b"password=hunter2"],
    [Redacted("earlier"), "a"],
    Pair(1, "x"),
    [[[[1]]]],
    ["x" * 10, datetime.date(2024, 1, 5)],
    [[1, 2], [3, 4], [5, 6], [7, 8]],
]


@pytest.mark.parametrize("which", range(len(FILTERS)), ids=[str(o) for o in OPTIONS])
def test_values_the_fast_path_cannot_clear_are_walked(which: int) -> None:
    """Secret-shaped keys and items, big ints, bytes, placeholders, deep or big values."""
    for value in TRICKY:
        for name in (None, "note", "password"):
            args, kwargs = (value,), {"option": value, VISA: value}
            names = [name] if name else []
            fast = FILTERS[which].filter_call(names, args, kwargs)
            slow = REFERENCES[which].filter_call(names, args, kwargs)
            assert outcome(fast, args, kwargs) == outcome(slow, args, kwargs), value


def test_clean_call_keeps_every_argument_as_is() -> None:
    """Nothing to filter: the very same objects come back, with an empty report."""
    result = ArgumentFilter().filter_call(NAMES, ARGS, KWARGS)
    assert result.args == ARGS
    assert all(new is old for new, old in zip(result.args, ARGS, strict=True))
    assert result.kwargs == KWARGS
    assert all(result.kwargs[key] is value for key, value in KWARGS.items())
    assert result.redactions == []


def test_custom_filter_still_sees_every_value() -> None:
    """A custom filter is called for each argument, item and atom, as before."""
    flt = ArgumentFilter()
    flt.filter_call(NAMES, ARGS, KWARGS)  # the fast path has seen these values
    seen: list[tuple[str, Any]] = []

    @flt.add_filter
    def record(path: str, name: str | None, value: Any) -> Any:
        seen.append((path, value))
        return value

    flt.filter_call(NAMES, ARGS, KWARGS)
    assert seen == [
        ("order_id", 42),
        ("reference", "order-1234"),
        ("items", KWARGS["items"]),
        ("items[0]", ("sku-1", 2)),
        ("items[0][0]", "sku-1"),
        ("items[0][1]", 2),
        ("items[1]", ("sku-2", 1)),
        ("items[1][0]", "sku-2"),
        ("items[1][1]", 1),
        ("discount", 0.1),
    ]
    flt.custom_filters.clear()
    assert flt.filter_call(NAMES, ARGS, KWARGS).redactions == []


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"ignore_args": ["reference"]}, [("reference", "name:reference")]),
        ({"max_size": 5}, [("reference", "size:str of 10 characters")]),
        ({"max_depth": 1}, [("items[0]", "depth>1"), ("items[1]", "depth>1")]),
        ({"filter_types": [list]}, [("items", "type:list")]),
        ({"pii_patterns": ["sku"]}, [("items[0][0]", "pii"), ("items[1][0]", "pii")]),
        ({"patterns": ["reference"]}, [("reference", "name:reference")]),
    ],
)
def test_derived_filter_does_not_reuse_the_original_decisions(
    changes: dict[str, Any], expected: list[tuple[str, str]]
) -> None:
    """A filter derived with other options decides afresh; the original keeps its own."""
    flt = ArgumentFilter()
    assert flt.filter_call(NAMES, ARGS, KWARGS).redactions == []
    derived = flt.derive(**changes)
    report = derived.filter_call(NAMES, ARGS, KWARGS).redactions
    assert [(entry["path"], entry["reason"]) for entry in report] == expected
    assert flt.filter_call(NAMES, ARGS, KWARGS).redactions == []


def test_changed_settings_take_effect_on_the_next_call() -> None:
    """Lists changed in place, lists and limits replaced: each is seen by the very next call."""
    flt = ArgumentFilter()

    def paths() -> list[str]:
        return [entry["path"] for entry in flt.filter_call(NAMES, ARGS, KWARGS).redactions]

    assert paths() == []
    flt.ignore_args.append("discount")
    assert paths() == ["discount"]
    flt.allow_args = ["discount"]
    assert paths() == []
    flt.pii_patterns.append("order")
    assert paths() == ["reference"]
    flt.pii_patterns.pop()
    assert paths() == []
    for attr, value, expected in [
        ("max_size", 1, ["reference", "items"]),
        ("max_depth", 1, ["items[0]", "items[1]"]),
        ("filter_types", (tuple,), ["items[0]", "items[1]"]),
    ]:
        default = getattr(flt, attr)
        setattr(flt, attr, value)
        assert paths() == expected, attr
        setattr(flt, attr, default)
        assert paths() == [], attr
    flt.filter_pii = False
    flt.pii_patterns = ["sku"]
    assert paths() == []
    flt.filter_pii = True
    assert paths() == ["items[0][0]", "items[1][0]"]


def test_replaced_checks_are_used_even_for_values_seen_before(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A subclass's, an instance's or a patched contains_pii is asked, not the caches."""

    def sku_is_secret(self: ArgumentFilter, value: Any) -> bool:
        return isinstance(value, str) and "sku" in value

    class Strict(ArgumentFilter):
        contains_pii = sku_is_secret

    expected = ["items[0][0]", "items[1][0]"]
    flt = ArgumentFilter()
    flt.filter_call(NAMES, ARGS, KWARGS)
    redactions = Strict().filter_call(NAMES, ARGS, KWARGS).redactions
    assert [entry["path"] for entry in redactions] == expected
    own = flt.derive()
    own.contains_pii = sku_is_secret.__get__(own)  # type: ignore[method-assign]
    redactions = own.filter_call(NAMES, ARGS, KWARGS).redactions
    assert [entry["path"] for entry in redactions] == expected
    monkeypatch.setattr(ArgumentFilter, "contains_pii", sku_is_secret)
    redactions = flt.filter_call(NAMES, ARGS, KWARGS).redactions
    assert [entry["path"] for entry in redactions] == expected


def test_shared_and_cyclic_values_are_filtered_as_by_the_walk() -> None:
    """Repeated references do not blow the check up; a cycle still comes back as the walk's."""
    flt = ArgumentFilter()
    shared = ["sku-1", 2]
    wide = [[shared] * 200] * 200  # 40,000 paths to one list: the walk visits it once
    cyclic: list[Any] = ["sku-1"]
    cyclic.append(cyclic)
    args = (wide, cyclic)
    fast = flt.filter_call(["wide", "cyclic"], args, {})
    slow = walked(flt).filter_call(["wide", "cyclic"], args, {})
    assert fast.args[0] is wide
    assert fast.args[1] is slow.args[1] is cyclic  # a clean cycle is stored as it is
    assert fast.redactions == slow.redactions == []


def test_invalid_pii_pattern_is_reported_per_argument_as_before() -> None:
    """A pattern that does not compile fails only the values it would be applied to."""
    result = ArgumentFilter(pii_patterns=["("]).filter_call(["count", "text"], (1, "x"), {})
    assert result.args[0] == 1
    assert isinstance(result.args[1], Redacted)
    # re.error is called PatternError from Python 3.13 on.
    assert result.redactions == [{"path": "text", "reason": f"error:{re.error.__name__}"}]


def test_secret_found_on_the_fast_path_is_not_kept_after_the_call() -> None:
    """The spans held for masking a secret are let go once the argument is filtered."""
    flt = ArgumentFilter()
    result = flt.filter_call(["note", "rest"], (f"card {VISA}", [VISA]), {f"k{VISA}": 1})
    assert result.args == ("card [FILTERED: pii]", ["[FILTERED: pii]"])
    assert list(result.kwargs) == ["k[FILTERED: pii]"]
    assert flt._compiled_pii().held is None
    assert flt.filter_value([1, VISA], "note") == (
        [1, "[FILTERED: pii]"],
        [{"path": "note[1]", "reason": "pii"}],
    )
    assert flt._compiled_pii().held is None


def test_deriving_a_filter_keeps_every_other_filter_warm() -> None:
    """derive() (once per call that records a result given a secret) flushes no other cache."""

    class Counting(ArgumentFilter):
        matched = 0

        def _match_name(self, name: str) -> str | None:
            type(self).matched += 1
            return super()._match_name(name)

    flt = Counting()
    flt.filter_call(NAMES, ARGS, KWARGS)
    before = Counting.matched
    for _ in range(3):
        flt.derive(ignore_args=["order_id"])
        ArgumentFilter(ignore_args=["reference"])
        flt.filter_call(NAMES, ARGS, KWARGS)
    assert Counting.matched == before
    flt.ignore_args = ["discount"]  # its own lists changed: its own verdicts are redone
    assert flt.filter_call(NAMES, ARGS, KWARGS).redactions[0]["path"] == "discount"


def test_a_shallow_copy_filters_with_its_own_settings() -> None:
    """copy.copy shares the caches' holder, but never the original's custom filters."""
    flt = ArgumentFilter()
    flt.filter_call(NAMES, ARGS, KWARGS)
    twin = copy.copy(flt)
    flt.add_filter(lambda path, name, value: Redacted("custom") if value == 2 else value)
    twin.custom_filters = []
    walked_args = {"items": [2, VISA]}  # a walk, which must be the copy's own
    assert twin.filter_call(NAMES, ARGS, walked_args).redactions == [
        {"path": "items[1]", "reason": "pii"}
    ]
    assert flt.filter_call(NAMES, ARGS, walked_args).redactions == [
        {"path": "items[0]", "reason": "custom"},
        {"path": "items[1]", "reason": "pii"},
    ]


def test_list_assigned_while_the_fast_path_is_built_is_not_missed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Another thread assigning ``patterns`` while a call builds the fast path: later calls
    filter with the new patterns (a stale fast path would store the value)."""
    flt = ArgumentFilter()
    assert flt.filter_call(["zebra"], ("123456",), {}).args == ("123456",)
    real = filters_mod.Quick

    class Interleaved(real):  # type: ignore[misc, valid-type]
        __slots__ = ()

        def __init__(self, f: ArgumentFilter, generation: int) -> None:
            super().__init__(f, generation)
            monkeypatch.setattr(filters_mod, "Quick", real)  # once
            f.patterns = [*f.patterns, "zebra"]  # the other thread, right now

    monkeypatch.setattr(filters_mod, "Quick", Interleaved)
    flt._quick_cache = None
    flt.filter_call(["zebra"], ("123456",), {})
    for _ in range(2):
        result = flt.filter_call(["zebra"], ("123456",), {})
        assert result.args == (Redacted("name:zebra"),)


def test_pii_patterns_assigned_while_compiled_are_not_missed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Another thread assigning ``pii_patterns`` while a call compiles the old ones: later
    calls look for the new patterns (the old ones cached under the new list would store a
    value the new patterns match)."""
    flt = ArgumentFilter()
    real = filters_mod.Compiled

    def compile_while_assigned(patterns: tuple[str, ...]) -> Any:
        monkeypatch.setattr(filters_mod, "Compiled", real)  # once
        flt.pii_patterns = [*flt.pii_patterns, r"\bORD-\d{6}\b"]  # the other thread, now
        return real(patterns)

    monkeypatch.setattr(filters_mod, "Compiled", compile_while_assigned)
    assert not flt.contains_pii("ORD-123456")  # compiled the old list
    for _ in range(2):
        assert flt.contains_pii("ORD-123456")
        result = flt.filter_call(["note"], ("ref ORD-123456",), {})
        assert result.args != ("ref ORD-123456",)
