"""ArgumentFilter: what is filtered (names, values, types, sizes), how, and what is left alone."""

from __future__ import annotations

import ast
import collections
import copy
import dataclasses
import functools
import io
import json
import pickle
import re
import socket
import sqlite3
import sys
import threading
import types
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import snapy_capture
from snapy_capture import (
    ArgumentFilter,
    CaptureConfig,
    JSONSerializer,
    capture_args,
    load_capture,
    load_capture_dict,
    set_global_config,
)
from snapy_capture.errors import ConfigError
from snapy_capture.filters import (
    EMAIL_PATTERN,
    PII_PATTERNS,
    SENSITIVE_PATTERNS,
    FilterResult,
    Redacted,
    resolve_filter_spec,
)
from snapy_capture.filters._pii import _GATES

VISA = "4111 1111 1111 1111"
FLT = ArgumentFilter()


def clean(value: Any, name: str | None = None) -> Any:
    return FLT.filter_value(value, name)[0]


# --- name-based ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "password",
        "X-Api-Key",
        "apiKey",
        "user_password",
        "AUTH_TOKEN",
        "db_passwd",
        "userPwd",
        "pw",
        "client_secret",
        "Authorization",
        "session_id",
        "sessionId",
        "csrftoken",
        "ssn",
        "card_number",
        "PRIVATE_KEY",
        "set-cookie",
        "refreshToken",
        "mfa_otp",
        "secrets[0]",
    ],
)
def test_sensitive_names_are_caught_in_any_spelling(name: str) -> None:
    """Case, separators and camelCase do not hide a sensitive name."""
    assert FLT.is_sensitive_name(name)


@pytest.mark.parametrize(
    "name", ["username", "business_name", "footprint", "pwm", "description", "amount", "email"]
)
def test_ordinary_names_are_kept(name: str) -> None:
    """Short patterns only match at word boundaries: `ssn` is not in `business_name`."""
    assert not FLT.is_sensitive_name(name)


def test_seed_patterns_are_all_default_patterns() -> None:
    """The seed's SENSITIVE_PATTERNS come first and unchanged."""
    assert SENSITIVE_PATTERNS[:11] == [
        "password",
        "token",
        "secret",
        "key",
        "auth",
        "api_key",
        "access_token",
        "refresh_token",
        "session_id",
        "csrf_token",
        "oauth_token",
    ]


def test_allow_list_keeps_a_falsely_matched_name_but_still_checks_its_value() -> None:
    """allow_args un-filters `signature` (an inspect.Signature, say); a secret-shaped value
    under it is still masked."""
    flt = ArgumentFilter(allow_args=["signature"])
    result = flt.filter_call(["signature", "request_signature"], ("name", "x"), {})
    assert result.args == ("name", "[FILTERED: name:signature]")
    assert flt.filter_value("sk_live_" + "a" * 24, "Signature")[0] == "[FILTERED: pii]"


def test_ignore_args_add_names_and_in_place_changes_take_effect() -> None:
    """ignore_args adds to the defaults; appending to the list later works at once."""
    flt = ArgumentFilter(ignore_args="iban, nickname")
    assert flt.is_sensitive_name("IBAN")
    assert flt.is_sensitive_name("password")
    assert not flt.is_sensitive_name("mothers_maiden_name")
    flt.ignore_args.append("maiden")
    assert flt.is_sensitive_name("mothers_maiden_name")


@dataclasses.dataclass
class Login:
    user: str
    password: str


@dataclasses.dataclass(frozen=True, slots=True)
class FrozenLogin:
    user: str
    api_key: str


class Creds(NamedTuple):
    user: str
    token: str


class Plain:
    def __init__(self) -> None:
        self.user = "bob"
        self.secret = "s3"


class Slotted:
    __slots__ = ("__secret", "user")

    def __init__(self) -> None:
        self.user = "bob"
        self.__secret = "s3"


@pytest.mark.parametrize(
    ("value", "path"),
    [
        ({"a": [{"X-Api-Key": "k"}]}, "arg['a'][0]['X-Api-Key']"),
        ({b"password": b"p"}, "arg[#0]"),
        (Login("bob", "p"), "arg.password"),
        (FrozenLogin("bob", "k"), "arg.api_key"),
        (Creds("bob", "t"), "arg.token"),
        (Plain(), "arg.secret"),
        (Slotted(), "arg._Slotted__secret"),
        ([[[{"auth": 1}]]], "arg[0][0][0]['auth']"),
    ],
)
def test_sensitive_names_inside_arguments_are_redacted(value: Any, path: str) -> None:
    """Dict keys (str and bytes), dataclass/namedtuple fields, attributes, slots, at any depth."""
    before = copy.deepcopy(value)
    result, report = FLT.filter_value(value, "arg")
    assert [entry["path"] for entry in report] == [path]
    assert report[0]["reason"].startswith("name:")
    blob = pickle.dumps(result)
    assert b"s3" not in blob
    assert b"'p'" not in blob
    assert type(pickle.loads(blob)) is type(value)  # stored as, and loaded as, its own class
    assert pickle.dumps(value) == pickle.dumps(before)  # the caller's object is unchanged


def test_var_keyword_parameter_name_covers_its_keys() -> None:
    """`def login(user, **credentials)`: every extra keyword is filtered."""
    result = FLT.filter_call(
        ["user"],
        (),
        {"user": "bob", "mfa": "123456", "pin": "1234"},
        var_keyword="credentials",
        keyword_params={"user"},
    )
    assert result.kwargs == {
        "user": "bob",
        "mfa": Redacted("name:credential"),
        "pin": Redacted("name:credential"),
    }


# --- value-based --------------------------------------------------------------------------

SECRETS = {
    "visa spaces": VISA,
    "visa dashes": "4111-1111-1111-1111",
    "visa plain": "4111111111111111",
    "amex": "3782 822463 10005",
    "ssn": "123-45-6789",
    "jwt": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0."
    "dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
    "pem": "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY-----",
    "aws": "AKIAIOSFODNN7EXAMPLE",
    "github": "ghp_" + "A1b2C3d4E5" * 4,
    "slack": "xoxb-123456789012-abcdefABCDEF",
    "google": "AIza" + "Sy" + "B" * 33,
    "stripe": "sk_live_" + "4eC39HqLyjWDarjtT1zdp7dc",
    "bearer": "Bearer abcdefghijklmnopqrstuvwx.yz",
    "url": "postgres://admin:hunter2hunter2@db.internal:5432/app",
    "assigned": 'password="hunter2hunter2"',
}


@pytest.mark.parametrize("key", sorted(SECRETS))
def test_secret_shaped_values_are_masked_and_the_rest_kept(key: str) -> None:
    """Only the matching span is masked; the text around it survives."""
    secret = SECRETS[key]
    text = f"before {secret} after"
    masked, report = FLT.filter_value(text, "note")
    assert "before" in masked
    assert "after" in masked
    assert "[FILTERED: pii]" in masked
    core = secret.split("://")[-1].split("=")[-1].split(" ")[-1]
    assert core.strip('"') not in masked
    assert report == [{"path": "note", "reason": "pii"}]


def test_card_numbers_are_luhn_checked() -> None:
    """A 16-digit number failing the Luhn check is an order number, not a card."""
    assert clean("order 1234567812345678") == "order 1234567812345678"
    assert clean(f"card {VISA} cvv 123") == "card [FILTERED: pii] cvv 123"
    assert clean(f"{VISA} 123") == "[FILTERED: pii]"  # a CVV glued on does not hide it


def test_card_number_ints_are_caught_but_ordinary_big_ints_kept() -> None:
    """An int that is a valid card number is replaced; ns timestamps and ids are not."""
    assert clean(4111111111111111) == "[FILTERED: pii]"
    assert clean(1_700_000_000_123_456_789) == 1_700_000_000_123_456_789


def test_secrets_in_bytes_and_dict_keys_are_masked() -> None:
    """bytes values and dict keys are data too."""
    assert clean(b"key=" + VISA.encode()) == b"key=[FILTERED: pii]"
    assert clean(bytearray(VISA.encode())) == bytearray(b"[FILTERED: pii]")
    result, report = FLT.filter_value({VISA: 1, "ok": 2}, "arg")
    assert result == {"[FILTERED: pii]": 1, "ok": 2}
    assert report == [{"path": "arg[#0]", "reason": "pii"}]


def test_emails_are_kept_by_default_and_masked_on_request() -> None:
    """E-mail is ordinary data for most functions; EMAIL_PATTERN opts in."""
    assert clean("mail bob@example.com") == "mail bob@example.com"
    flt = ArgumentFilter(pii_patterns=[*PII_PATTERNS, EMAIL_PATTERN])
    assert flt.filter_value("mail bob@example.com")[0] == "mail [FILTERED: pii]"


def test_filter_pii_off_keeps_values() -> None:
    """filter_pii=False turns value checks off; names still count."""
    flt = ArgumentFilter(filter_pii=False)
    assert flt.filter_value(VISA)[0] == VISA
    assert flt.filter_value("x", "password")[0] == "[FILTERED: name:password]"


class SecureArgumentFilter(ArgumentFilter):
    """The seed's example, verbatim."""

    def __init__(self) -> None:
        super().__init__()
        self.pii_patterns = [
            r"\b\d{3}-\d{2}-\d{4}\b",  # SSN pattern
            r"\b\d{16}\b",  # Credit card pattern
            r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Z|a-z]{2,}\b",  # Email
        ]

    def contains_pii(self, value: Any) -> bool:
        if isinstance(value, str):
            for pattern in self.pii_patterns:
                if re.search(pattern, value):
                    return True
        return False


def test_seed_secure_filter_subclass_works_unchanged(capture_dir: Path) -> None:
    """The seed's subclass masks its own patterns (e-mail too), through a real capture."""

    @capture_args(arg_filter=SecureArgumentFilter())
    def signup(email: str, note: str, password: str) -> None:
        pass

    signup("bob@example.com", "ssn 123-45-6789, card 1234567812345678", "hunter2")
    args, _ = load_capture("signup")
    assert list(args) == [
        "[FILTERED: pii]",
        "ssn [FILTERED: pii], card [FILTERED: pii]",
        "[FILTERED: name:password]",
    ]


def test_subclass_whose_check_cannot_be_masked_gets_the_whole_value_redacted() -> None:
    """If contains_pii still says yes after masking, the value goes entirely (fail closed)."""

    class Confidential(ArgumentFilter):
        def contains_pii(self, value: Any) -> bool:
            return isinstance(value, str) and "confidential" in value

    assert Confidential().filter_value("confidential memo")[0] == "[FILTERED: pii]"


@pytest.mark.parametrize("pattern", sorted(_GATES, key=PII_PATTERNS.index))
@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_fast_gates_never_skip_a_matching_pattern(pattern: str, data: st.DataObject) -> None:
    """The substring gates in front of each default pattern are necessary conditions."""
    pieces = st.sampled_from(
        [
            "4",
            "1",
            "-",
            " ",
            "_",
            ":",
            "=",
            ".",
            "@",
            "/",
            "eyJ",
            "AKIA",
            "ASIA",
            "gh",
            "p_",
            "github_pat_",
            "glpat-",
            "xoxb-",
            "hooks.slack.com/services/",
            "AIza",
            "sk_",
            "sk-",
            "live_",
            "whsec_",
            "npm_",
            "pypi-",
            "Bearer",
            "TOKEN",
            "basic",
            "://",
            "PassWord",
            "pass",
            "?",
            "&",
            "\u00a0",
            "  ",
            "api-key",
            '"',
            "-----BEGIN ",
            "PRIVATE KEY-----",
            "aB3",
            "Z" * 8,
            "9" * 8,
            "\u212a",
        ]
    )
    text = "".join(data.draw(st.lists(pieces, max_size=30)))
    minimum, needles = _GATES[pattern]
    if re.search(pattern, text):
        folded = text.casefold()
        assert sum(char in "0123456789" for char in text) >= minimum
        assert all(any(needle in folded for needle in group) for group in needles)


# --- type-based and size-based --------------------------------------------------------------


def test_unstorable_types_become_placeholders_naming_the_type() -> None:
    """Locks, sockets, files, threads, generators and DB connections are never stored."""
    sock = socket.socket()
    conn = sqlite3.connect(":memory:")
    with open(__file__) as handle:
        values = [threading.Lock(), sock, handle, threading.Thread(), (i for i in ()), conn]
        result, report = FLT.filter_value(values, "arg")
    sock.close()
    conn.close()
    assert result == [
        "[FILTERED: unstorable:lock]",
        "[FILTERED: unstorable:socket]",
        "[FILTERED: unstorable:TextIOWrapper]",
        "[FILTERED: unstorable:Thread]",
        "[FILTERED: unstorable:generator]",
        "[FILTERED: unstorable:Connection]",
    ]
    assert [entry["path"] for entry in report] == [f"arg[{i}]" for i in range(6)]


def test_configured_types_by_class_or_by_name() -> None:
    """filter_types accepts classes and 'module.QualName' strings (nothing is imported)."""
    flt = ArgumentFilter(filter_types=[Login, "pathlib.PurePath"])
    assert flt.filter_value([Login("a", "b"), Path("/x")])[0] == [
        "[FILTERED: type:Login]",
        "[FILTERED: type:PosixPath]",
    ]


def test_in_memory_streams_are_kept_when_clean() -> None:
    """A StringIO passed to a parser replays; one holding a secret does not reach the disk."""
    stream = io.StringIO("a,b\n1,2\n")
    assert clean(stream) is stream
    assert clean(io.StringIO(f"card {VISA}")) == "[FILTERED: opaque:StringIO holds filtered data]"


def test_max_size_replaces_large_values_with_type_and_size() -> None:
    """Strings, bytes and collections over max_size become a placeholder saying how big."""
    flt = ArgumentFilter(max_size=4)
    assert flt.filter_value(["x" * 5, b"12345", list(range(5)), "ok"])[0] == [
        "[FILTERED: size:str of 5 characters]",
        "[FILTERED: size:bytes of 5 bytes]",
        "[FILTERED: size:list of 5 items]",
        "ok",
    ]


def test_ignore_large_objects_config_acts_through_the_filter(capture_dir: Path) -> None:
    """ignore_large_objects + large_object_size replace big arguments in the capture."""
    set_global_config(CaptureConfig(ignore_large_objects=True, large_object_size=10))

    @capture_args()
    def upload(name: str, blob: bytes) -> None:
        pass

    upload("a.txt", b"x" * 100)
    record = load_capture_dict("upload")
    assert record["args"] == ["a.txt", "[FILTERED: size:bytes of 100 bytes]"]
    assert record["metadata"]["redactions"] == [
        {"path": "blob", "reason": "size:bytes of 100 bytes"}
    ]


# --- traversal --------------------------------------------------------------------------------


def test_nothing_to_filter_passes_the_same_objects_through() -> None:
    """Copy-on-write: a clean argument is not copied."""
    value = {"a": [1, 2, (3, "x")], "b": {"c": 1.5}, "when": None}
    assert clean(value) is value
    obj = Plain.__new__(Plain)
    obj.user = "bob"
    assert clean(obj) is obj


def test_filtered_copy_shares_untouched_branches_and_keeps_types() -> None:
    """Only the path to a filtered value is copied; sets, tuples, OrderedDicts keep their type."""
    untouched = [1, 2, 3]
    value = collections.OrderedDict(a=untouched, b=({"token": "t"}, frozenset({"x"})))
    result = clean(value)
    assert type(result) is collections.OrderedDict
    assert result["a"] is untouched
    assert result["b"] == ({"token": "[FILTERED: name:token]"}, frozenset({"x"}))
    assert value["b"][0] == {"token": "t"}


def test_cycles_never_lead_back_to_the_unfiltered_original() -> None:
    """A self-referencing structure is filtered into a self-referencing copy."""
    data: dict[str, Any] = {"password": "p"}
    data["self"] = data
    result = clean(data)
    assert result["self"] is result
    assert result is not data
    assert result["password"] == "[FILTERED: name:password]"
    obj = Plain()
    obj.me = obj  # type: ignore[attr-defined]
    copied = pickle.loads(pickle.dumps(clean(obj)))  # as stored, and loaded back
    assert copied.me is copied
    assert copied.secret == "[FILTERED: name:secret]"
    assert obj.secret == "s3"
    looped: list[Any] = ["4111111111111111"]
    looped.append((looped,))
    out = clean(looped)
    assert out[0] == "[FILTERED: pii]"
    assert b"4111" not in pickle.dumps(out)


def test_shared_references_are_filtered_once_and_stay_shared() -> None:
    """The same inner object twice in an argument is one filtered object twice."""
    inner = {"token": "t"}
    result = clean([inner, inner])
    assert result[0] is result[1]
    assert result[0]["token"] == "[FILTERED: name:token]"


def test_too_deep_values_are_redacted() -> None:
    """Beyond max_depth nothing is inspected, so nothing is stored (fail closed)."""
    value: Any = "bottom"
    for _ in range(10):
        value = [value]
    result = ArgumentFilter(max_depth=3).filter_value(value)[0]
    assert result == [[["[FILTERED: depth>3]"]]]


class Hostile:
    def __eq__(self, other: object) -> bool:
        raise RuntimeError("eq")

    def __hash__(self) -> int:
        raise RuntimeError("hash")

    def __repr__(self) -> str:
        raise RuntimeError("repr")

    def __getattr__(self, name: str) -> Any:
        raise RuntimeError("getattr")

    def __copy__(self) -> Any:
        raise RuntimeError("copy")

    def __reduce_ex__(self, protocol: Any) -> Any:
        raise RuntimeError("reduce")


def test_hostile_objects_never_crash_and_never_leak() -> None:
    """Raising dunders: the affected argument becomes a placeholder, the call is filtered."""
    hostile = Hostile()
    result = FLT.filter_call(["a", "b"], ([hostile, "password=hunter22"], {"secret": hostile}), {})
    assert b"hunter22" not in pickle.dumps(result.args)
    assert result.args[1] == {"secret": "[FILTERED: name:secret]"}
    assert all("hunter22" not in entry["path"] for entry in result.redactions)


def test_objects_pickled_by_reduce_are_inspected_through_it() -> None:
    """partial, bound methods, exceptions, deques: what pickle would store is checked."""
    values = [
        ValueError(f"card {VISA}"),
        collections.deque([VISA]),
    ]
    result = clean(values)
    assert all(item.startswith("[FILTERED: opaque:") for item in result)
    # A partial is its function, arguments and keywords, rebuilt in C: filtered part by part.
    partial = pickle.loads(pickle.dumps(clean(functools.partial(print, password="p"))))
    assert (partial.func, partial.args) == (print, ())
    assert partial.keywords == {"password": "[FILTERED: name:password]"}
    # A bound method is its object and a name: the method of the object's filtered copy.
    method = pickle.loads(pickle.dumps(clean(Plain().__init__)))
    assert method.__func__ is Plain.__init__
    assert vars(method.__self__) == {"user": "bob", "secret": "[FILTERED: name:secret]"}
    harmless = [functools.partial(print, 1), ValueError("boom"), collections.deque([1])]
    assert all(a is b for a, b in zip(clean(harmless), harmless, strict=False))


def test_functions_classes_and_modules() -> None:
    """Functions and classes are stored by name; modules are not stored."""
    assert clean(print) is print
    assert clean(Login) is Login
    assert clean(types) == "[FILTERED: unstorable:module]"


# --- placeholder, report, extension points -------------------------------------------------


def test_placeholder_is_a_str_that_pickles_and_survives_json() -> None:
    """Redacted is a str: replay binds it; pickle and JSONSerializer keep its reason."""
    placeholder = Redacted("name:password")
    assert placeholder == "[FILTERED: name:password]"
    assert isinstance(placeholder, str)
    again = pickle.loads(pickle.dumps(placeholder))
    assert type(again) is Redacted
    assert again.reason == "name:password"
    serializer = JSONSerializer()
    loaded = serializer.loads(serializer.dumps({"a": placeholder}))["a"]
    assert loaded == placeholder
    assert getattr(loaded, "reason", None) == "name:password"
    assert json.loads(json.dumps(placeholder)) == "[FILTERED: name:password]"


def test_redaction_report_names_paths_and_reasons_never_values(capture_dir: Path) -> None:
    """metadata['redactions'] lists path + reason per filtered value."""

    @capture_args()
    def charge(user: str, card: dict[str, Any], api_key: str) -> None:
        pass

    charge("bob", {"number": VISA, "cvv": "321"}, api_key="sk_live_" + "z" * 24)
    record = load_capture_dict("charge")
    assert record["metadata"]["redactions"] == [
        {"path": "card['number']", "reason": "pii"},
        {"path": "card['cvv']", "reason": "name:cvv"},
        {"path": "api_key", "reason": "name:api_key"},
    ]
    assert "321" not in json.dumps(record["metadata"])
    assert "1111" not in str(record)


def test_custom_filter_functions() -> None:
    """add_filter: return the value to keep it, a Redacted to drop it; others are refiltered."""
    flt = ArgumentFilter()

    @flt.add_filter
    def no_internal_hosts(path: str, name: str | None, value: Any) -> Any:
        if isinstance(value, str) and value.endswith(".internal"):
            return Redacted("internal host")
        if name == "notes":
            return f"{value} / token=abc12345"  # refiltered: the token gets masked
        return value

    result = flt.filter_call(["host", "notes", "n"], ("db.internal", "hi", 3), {})
    assert result.args == ("[FILTERED: internal host]", "hi / [FILTERED: pii]", 3)
    assert [entry["reason"] for entry in result.redactions] == ["custom", "custom", "pii"]


def test_arg_filter_per_decorator_and_globally(capture_dir: Path) -> None:
    """A filter given to the decorator or to the global config is used, plus config's names."""
    set_global_config(
        CaptureConfig(arg_filter=ArgumentFilter(ignore_args=["nickname"]), ignore_args=("city",))
    )

    @capture_args()
    def profile(nickname: str, city: str, age: int) -> None:
        pass

    @capture_args(arg_filter=ArgumentFilter(ignore_args=["age"]))
    def other(nickname: str, city: str, age: int) -> None:
        pass

    profile("bo", "Oslo", 40)
    other("bo", "Oslo", 40)
    assert list(load_capture("profile")[0]) == [
        "[FILTERED: name:nickname]",
        "[FILTERED: name:city]",
        40,
    ]
    assert list(load_capture("other")[0]) == ["bo", "[FILTERED: name:city]", "[FILTERED: name:age]"]


def make_filter() -> ArgumentFilter:
    """A factory named by a dotted path in tests below."""
    return ArgumentFilter(ignore_args=["nickname"])


def test_filter_specs_resolve_from_strings_and_mappings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """'pkg.mod:factory', 'pkg.mod:Class', 'pkg.mod.instance' and YAML-style mappings."""
    (tmp_path / "tgt_filters.py").write_text(
        "from snapy_capture import ArgumentFilter\n"
        "class Strict(ArgumentFilter):\n"
        "    def __init__(self):\n"
        "        super().__init__(ignore_args=['city'])\n"
        "INSTANCE = ArgumentFilter(ignore_args=['age'])\n"
        "def factory() -> ArgumentFilter:\n"
        "    return ArgumentFilter(ignore_args=['zip'])\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    assert resolve_filter_spec("tgt_filters:Strict").is_sensitive_name("city")
    assert resolve_filter_spec("tgt_filters.INSTANCE").is_sensitive_name("age")
    assert resolve_filter_spec("tgt_filters:factory").is_sensitive_name("zip")
    built = resolve_filter_spec({"ignore_args": ["iban"], "max_size": 10})
    assert built.is_sensitive_name("iban")
    assert built.max_size == 10
    for bad in ("tgt_filters:missing", "no_such_module_x:f", "not a path", {"bogus": 1}, 42):
        with pytest.raises(ConfigError):
            resolve_filter_spec(bad)


def test_arg_filter_string_in_config_is_loaded_on_first_call(
    capture_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A dotted path as arg_filter works; a broken one disables capture with one warning."""

    @capture_args(arg_filter=f"{__name__}:make_filter")
    def profile(nickname: str) -> None:
        pass

    @capture_args(arg_filter="no_such_module_x:make")
    def broken(nickname: str) -> str:
        return nickname

    profile("bo")
    assert list(load_capture("profile")[0]) == ["[FILTERED: name:nickname]"]
    assert broken("bo") == "bo"
    assert "no_such_module_x" in caplog.text
    with pytest.raises(ValueError, match="arg_filter"):
        capture_args(arg_filter="not a path")


def test_derive_copies_do_not_share_lists_with_the_original() -> None:
    """The per-function filter derived from a user's filter never changes the user's filter."""
    base = ArgumentFilter(ignore_args=["a"])
    derived = base.derive(ignore_args=[*base.ignore_args, "b"])
    derived.allow_args.append("password")
    assert base.ignore_args == ["a"]
    assert base.allow_args == []
    assert base.is_sensitive_name("password")
    assert not derived.is_sensitive_name("password")
    assert type(SecureArgumentFilter().derive(max_size=3)) is SecureArgumentFilter


def test_bad_options_raise_config_errors() -> None:
    """Malformed options are ValueErrors naming the option."""
    with pytest.raises(ValueError, match="max_size"):
        ArgumentFilter(max_size=-1)
    with pytest.raises(ValueError, match="max_depth"):
        ArgumentFilter(max_depth=0)
    with pytest.raises(ValueError, match="filter_types"):
        ArgumentFilter(filter_types=[3])  # type: ignore[list-item]


@pytest.mark.skipif(sys.version_info < (3, 11), reason="needs object.__getstate__")
def test_plain_objects_are_not_reduced() -> None:
    """An object with a secret attribute is stored with the attribute replaced, type kept."""
    result = pickle.loads(pickle.dumps(clean(Plain())))
    assert type(result) is Plain
    assert result.user == "bob"


def test_filter_result_is_a_frozen_dataclass() -> None:
    """Built per captured call without the generated __init__; still a frozen dataclass."""
    result = ArgumentFilter().filter_call(["a"], (1,), {"b": 2})
    assert result == FilterResult((1,), {"b": 2}, [])
    assert dataclasses.replace(result, redactions=[{"path": "a"}]).redactions == [{"path": "a"}]
    assert dataclasses.asdict(result) == {"args": (1,), "kwargs": {"b": 2}, "redactions": []}
    assert repr(result) == "FilterResult(args=(1,), kwargs={'b': 2}, redactions=[])"
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.args = ()  # type: ignore[misc]
    assert pickle.loads(pickle.dumps(result)) == result


# --- the layout of the filters and config layers (issue 16) ---------------------------------


def _imports_of(path: Path, module: str, modules: set[str]) -> set[str]:
    """The modules of ``modules`` that ``path`` imports, anywhere in it (functions and
    ``TYPE_CHECKING`` blocks included): a cycle hidden in those still ties the modules."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            for alias in node.names:
                # ``from package import submodule`` imports the submodule.
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base)
    return found & modules


@pytest.mark.parametrize("layer", ["filters", "config"])
def test_the_modules_of_a_layer_import_each_other_without_a_cycle(layer: str) -> None:
    """Each module of the layer can be read knowing only the ones below it."""
    root = Path(snapy_capture.__file__).parent / layer
    modules = {}
    for path in root.glob("*.py"):
        name = f"snapy_capture.{layer}" + ("" if path.stem == "__init__" else f".{path.stem}")
        modules[name] = path
    graph = {name: _imports_of(path, name, set(modules)) for name, path in modules.items()}
    done: set[str] = set()

    def visit(name: str, trail: tuple[str, ...]) -> None:
        assert name not in trail, f"import cycle: {' -> '.join((*trail, name))}"
        if name in done:
            return
        for imported in graph[name]:
            visit(imported, (*trail, name))
        done.add(name)

    for name in graph:
        visit(name, ())
