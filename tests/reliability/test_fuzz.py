"""Short hypothesis fuzzing, in the normal run: the YAML target parser and the filters.

* Target files: any text, any bytes, any YAML-shaped structure -> a ``TargetSpec`` or a
  ``ConfigError``; never another exception.
* Filters: any nested structure of odd types -> ``filter_call`` never raises, keeps the
  arguments' shape (a value is either kept in kind or replaced by a placeholder), and never
  mutates what the caller passed.
"""

from __future__ import annotations

import collections
import dataclasses
import datetime
import io
import pickle
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from snapy_capture import ArgumentFilter, ConfigError, Redacted
from snapy_capture.config import OPTIONS
from snapy_capture.filters import SENSITIVE_PATTERNS
from snapy_capture.hook import TargetSpec, load_targets, parse_targets

FUZZ = settings(
    max_examples=50,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture(scope="module")
def scratch() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as directory:
        yield Path(directory)


# --- the YAML target parser --------------------------------------------------------------------

NAMES = st.sampled_from(
    ["m:f", "pkg.mod:Cls.meth", "a.b:c_*", "x:Y.*", "bad", ":", "m:", "1m:f", "m:f g", "../x:y"]
)
OPTION_NAMES = st.sampled_from([o.name for o in OPTIONS] + ["target", "nope", ""])
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True),
    st.text(max_size=30),
    NAMES,
    st.sampled_from(["7d", "none", "0", "-1", "1e400", "pickle", "json", "nan", "yes"]),
)
YAML_VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(OPTION_NAMES, st.text(max_size=8)), inner, max_size=4),
    ),
    max_leaves=20,
)
OPTIONS_MAP = st.dictionaries(OPTION_NAMES, YAML_VALUES, max_size=4)
ENTRY = st.one_of(
    NAMES,
    YAML_VALUES,
    st.builds(lambda name, opts: {"target": name, **opts}, NAMES, OPTIONS_MAP),
)
DOCUMENTS = st.one_of(
    YAML_VALUES,
    st.fixed_dictionaries(
        {"targets": st.one_of(st.lists(ENTRY, max_size=5), YAML_VALUES)},
        optional={
            "version": st.one_of(st.just(1), SCALARS),
            "defaults": st.one_of(OPTIONS_MAP, YAML_VALUES),
            "extra": SCALARS,
        },
    ),
)


def _parse_file(scratch: Path, data: bytes) -> None:
    path = scratch / "capture.yaml"
    path.write_bytes(data)
    try:
        result = load_targets(path)
    except ConfigError as exc:
        message = str(exc)
        assert message
        assert "\n" not in message  # one line, naming what is wrong
        return
    assert isinstance(result, TargetSpec)


@FUZZ
@given(text=st.text(max_size=300))
def test_target_file_random_text(scratch: Path, text: str) -> None:
    _parse_file(scratch, text.encode("utf-8", "surrogatepass"))


@FUZZ
@given(data=st.binary(max_size=300))
def test_target_file_random_bytes(scratch: Path, data: bytes) -> None:
    _parse_file(scratch, data)


@FUZZ
@given(document=DOCUMENTS)
def test_target_file_random_structure(scratch: Path, document: Any) -> None:
    # As a mapping given in code, and as the YAML file a user would write.
    try:
        spec: object = parse_targets(document)
    except ConfigError as exc:
        spec = str(exc)
    assert isinstance(spec, TargetSpec) or "\n" not in spec
    _parse_file(scratch, yaml.safe_dump(document, allow_unicode=True).encode("utf-8"))


@FUZZ
@given(prefix=DOCUMENTS, junk=st.sampled_from(["&a", "*a", "!!", "{", "[", "- - -", ":", "? "]))
def test_target_file_mangled_yaml(scratch: Path, prefix: Any, junk: str) -> None:
    text = yaml.safe_dump(prefix)
    middle = len(text) // 2
    _parse_file(scratch, (text[:middle] + junk + text[middle:]).encode("utf-8"))


# --- the filters ---------------------------------------------------------------------------

Point = collections.namedtuple("Point", ["x", "password"])


@dataclasses.dataclass
class Account:
    name: Any
    api_key: Any = "k"


@dataclasses.dataclass(frozen=True)
class FrozenToken:
    token: Any
    note: Any = None


class Plain:
    def __init__(self, **attrs: Any) -> None:
        self.__dict__.update(attrs)


class Slotted:
    __slots__ = ("secret", "value")

    def __init__(self, secret: Any, value: Any) -> None:
        self.secret = secret
        self.value = value


SECRETS = st.sampled_from(
    [
        "123-45-6789",
        "4111 1111 1111 1111",
        "card 4111-1111-1111-1111 ok",
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NSJ9.sig",
        "AKIAABCDEFGHIJKLMNOP",
        "Bearer abcdefghijklmnopqrstuvwxyz",
        "ghp_" + "a" * 36,
        "-----BEGIN RSA PRIVATE KEY-----\nabc\n-----END RSA PRIVATE KEY-----",
    ]
)
KEYS = st.one_of(st.text(max_size=12), st.sampled_from([*SENSITIVE_PATTERNS, "Auth-Token"]))
ATOMS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.complex_numbers(allow_nan=True),
    st.text(max_size=40),
    SECRETS,
    st.binary(max_size=40),
    st.builds(bytearray, st.binary(max_size=10)),
    st.builds(Redacted, st.text(max_size=10)),
    st.decimals(allow_nan=True),
    st.fractions(),
    st.datetimes(timezones=st.just(datetime.timezone.utc)),
    st.uuids(),
    st.builds(Path, st.text(max_size=10)),
    st.just(Ellipsis),
    st.just(range(3)),
    st.just(int),
    st.just(len),
    st.builds(threading.Lock),
    st.builds(io.BytesIO, st.binary(max_size=5)),
)
HASHABLE = st.one_of(st.integers(), st.text(max_size=10), SECRETS, st.booleans(), st.none())


def _children(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.lists(inner, max_size=4),
        st.lists(inner, max_size=4).map(tuple),
        st.dictionaries(KEYS, inner, max_size=4),
        st.dictionaries(st.one_of(st.integers(), st.tuples(st.integers())), inner, max_size=3),
        st.sets(HASHABLE, max_size=4),
        st.frozensets(HASHABLE, max_size=4),
        st.builds(Point, inner, inner),
        st.builds(Account, inner, inner),
        st.builds(FrozenToken, inner, inner),
        st.builds(lambda a, b: Plain(token=a, data=b), inner, inner),
        st.builds(Slotted, inner, inner),
        st.builds(collections.OrderedDict, st.dictionaries(KEYS, inner, max_size=3)),
        st.builds(collections.deque, st.lists(inner, max_size=3)),
    )


VALUES = st.recursive(ATOMS, _children, max_leaves=25)
FILTERS = st.sampled_from(
    [
        ArgumentFilter(),
        ArgumentFilter(max_size=3),
        ArgumentFilter(max_depth=2),
        ArgumentFilter(filter_pii=False, allow_args=["token"]),
        ArgumentFilter(["name"], filter_types=[bytes, Path]),
    ]
)


def _fingerprint(value: Any, seen: set[int] | None = None) -> Any:
    """A structural snapshot: equal before and after unless something was mutated."""
    seen = set() if seen is None else seen
    if id(value) in seen:
        return ("cycle", id(value))
    seen = seen | {id(value)}
    kind = type(value)
    if isinstance(value, (list, tuple, collections.deque)):
        return (kind, id(value), [_fingerprint(v, seen) for v in value])
    if isinstance(value, dict):
        return (kind, id(value), [(repr(k), _fingerprint(v, seen)) for k, v in value.items()])
    if isinstance(value, (set, frozenset)):
        return (kind, id(value), sorted(repr(v) for v in value))
    if isinstance(value, bytearray):
        return (kind, id(value), bytes(value))
    if isinstance(value, io.BytesIO):
        return (kind, id(value), value.getvalue(), value.tell())
    if isinstance(value, (Plain, Account, FrozenToken)):
        return (kind, id(value), [(k, _fingerprint(v, seen)) for k, v in vars(value).items()])
    if isinstance(value, Slotted):
        return (kind, id(value), _fingerprint(value.secret, seen), _fingerprint(value.value, seen))
    return (kind, id(value), repr(value))


def _same_shape(before: Any, after: Any) -> None:
    """``after`` is ``before`` filtered: a placeholder, or the same kind of thing throughout,
    as stored (a filtered object is kept as its pickled form: loaded back, it is itself)."""
    after = pickle.loads(pickle.dumps(after))
    _same_stored_shape(before, after)


def _same_stored_shape(before: Any, after: Any) -> None:
    if isinstance(after, Redacted) and not isinstance(before, Redacted):
        return
    if isinstance(before, str):
        assert isinstance(after, str)
        return
    assert type(after) is type(before), (type(before), type(after))
    if isinstance(before, (list, tuple, collections.deque)):
        assert len(after) == len(before)
        for old, new in zip(before, after, strict=True):
            _same_stored_shape(old, new)
    elif isinstance(before, dict):
        # A key may itself be replaced (a secret-shaped key, one too deep to inspect).
        assert len(after) == len(before)
        for (old_key, old), (new_key, new) in zip(before.items(), after.items(), strict=True):
            # ... or masked inside (a card-shaped int in a tuple key): still a key of its type.
            assert new_key == old_key or isinstance(new_key, (Redacted, type(old_key)))
            _same_stored_shape(old, new)
    elif isinstance(before, (set, frozenset)):
        assert len(after) <= len(before)  # two masked secrets may become one placeholder
    elif isinstance(before, (Plain, Account, FrozenToken)):
        assert list(vars(after)) == list(vars(before))  # attribute names are code, not data
        for key, old in vars(before).items():
            _same_stored_shape(old, vars(after)[key])
    elif isinstance(before, Slotted):
        _same_stored_shape(before.secret, after.secret)
        _same_stored_shape(before.value, after.value)


def test_attribute_names_survive_max_size() -> None:
    """An object's attribute names are not data: a size limit must not rename them (found by
    the fuzzer below: ``max_size`` once renamed ``obj.token`` to ``[FILTERED: key #0]``)."""
    filtered, _ = ArgumentFilter(max_size=3).filter_value(Plain(token="t", data=2), "v")
    filtered = pickle.loads(pickle.dumps(filtered))  # as stored
    assert list(vars(filtered)) == ["token", "data"]
    assert filtered.data == 2


@FUZZ
@given(
    flt=FILTERS,
    args=st.lists(VALUES, max_size=4),
    kwargs=st.dictionaries(KEYS, VALUES, max_size=4),
    names=st.lists(KEYS, max_size=5),
)
def test_filter_call_never_raises_keeps_shape_never_mutates(
    flt: ArgumentFilter, args: list[Any], kwargs: dict[str, Any], names: list[str]
) -> None:
    before = [_fingerprint(args), _fingerprint(kwargs)]
    result = flt.filter_call(names, tuple(args), kwargs)
    assert [_fingerprint(args), _fingerprint(kwargs)] == before
    assert len(result.args) == len(args)
    assert list(result.kwargs) == list(kwargs)
    for old, new in zip(args, result.args, strict=True):
        _same_shape(old, new)
    for key, old in kwargs.items():
        _same_shape(old, result.kwargs[key])
    for entry in result.redactions:
        assert set(entry) >= {"path", "reason"}


@FUZZ
@given(flt=FILTERS, value=VALUES)
def test_filter_value_never_raises(flt: ArgumentFilter, value: Any) -> None:
    before = _fingerprint(value)
    filtered, report = flt.filter_value(value, "result")
    assert _fingerprint(value) == before
    _same_shape(value, filtered)
    assert isinstance(report, list)


def test_fuzz_inputs_are_not_all_trivial() -> None:
    """The strategies do reach secrets, sensitive names and odd types (a guard on the fuzzer)."""
    found: dict[str, bool] = {"redacted": False, "kept": False}

    @settings(max_examples=50, deadline=None, database=None)
    @given(value=VALUES)
    def probe(value: Any) -> None:
        _, report = ArgumentFilter().filter_value(value, "v")
        found["redacted" if report else "kept"] = True

    probe()
    assert all(found.values())
