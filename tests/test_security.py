"""No secret reaches the disk: property-based proofs through real captures, every serializer.

Hypothesis builds nested arguments (dicts, lists, tuples, dataclasses, plain objects) with
secrets planted under sensitive names (many spellings), in secret-shaped values (cards, SSNs,
cloud keys, tokens...) and in dict keys; a real ``@capture_args`` capture writes them
synchronously; then the raw bytes of every file under the capture directory are searched for
every secret (as text, and as the bytes each serializer would write for it).
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import pickle
import string
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from snapy_capture import capture_args

SERIALIZERS = ["pickle", "json", "jsonpickle"]

SENSITIVE_SPELLINGS = [
    "password",
    "Password",
    "PASSWORD",
    "user_password",
    "userPassword",
    "X-Api-Key",
    "api_key",
    "apiKey",
    "AUTH_TOKEN",
    "access-token",
    "refreshToken",
    "client_secret",
    "db_passwd",
    "pwd",
    "user_pw",
    "session_id",
    "Authorization",
    "set-cookie",
    "private_key",
    "ssn",
    "cvv",
    "mfa_otp",
    "jwt",
    "credentials",
    "signature",
    "oauth_token",
    "csrfToken",
]
NORMAL_NAMES = ["user", "name", "items", "amount", "note", "city", "payload", "config", "data"]
WORDS = ["hello", "order", "ok", "a", "ship to", "ref", ""]
ALNUM = string.ascii_letters + string.digits


@dataclasses.dataclass
class Box:
    """A dataclass argument: one ordinary field, one sensitive field, one payload."""

    label: str
    api_key: Any
    payload: Any


class Bag:
    """A plain object whose attributes are set by the test."""


@dataclasses.dataclass
class Planted:
    """A generated argument and every secret planted in it (with the forms to search for)."""

    value: Any
    secrets: list[bytes]


def _text(alphabet: str, size: int) -> st.SearchStrategy[str]:
    """High-entropy text even when Hypothesis shrinks the seed to 0: a search is meaningful."""

    def expand(seed: int) -> str:
        stream = hashlib.sha256(f"{seed}:{alphabet}:{size}".encode()).digest()
        while len(stream) < size:
            stream += hashlib.sha256(stream).digest()
        return "".join(alphabet[byte % len(alphabet)] for byte in stream[:size])

    return st.integers(0, 2**32 - 1).map(expand)


def _luhn_complete(body: str) -> str:
    total = 0
    for position, char in enumerate(reversed(body + "0")):
        digit = int(char)
        if position % 2:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return body + str((10 - total % 10) % 10)


@st.composite
def card_numbers(draw: st.DrawFn) -> tuple[str, list[str]]:
    number = _luhn_complete("4" + draw(_text(string.digits, 14)))
    sep = draw(st.sampled_from(["", " ", "-"]))
    shown = sep.join(number[i : i + 4] for i in range(0, 16, 4))
    return shown, [shown, number]


@st.composite
def pii_secrets(draw: st.DrawFn) -> tuple[str, list[str]]:
    """A secret-shaped string and the cores that must not be stored."""
    kind = draw(
        st.sampled_from(
            ["card", "ssn", "aws", "github", "jwt", "stripe", "bearer", "pem", "url", "assigned"]
        )
    )
    rand = draw(_text(ALNUM, 24))
    if kind == "card":
        return draw(card_numbers())
    if kind == "ssn":
        ssn = (
            f"{draw(st.integers(100, 899))}-{draw(st.integers(10, 99))}-"
            f"{draw(st.integers(1000, 9999))}"
        )
        return ssn, [ssn]
    if kind == "aws":
        key = "AKIA" + draw(_text(string.ascii_uppercase + string.digits, 16))
        return key, [key]
    if kind == "github":
        token = "ghp_" + draw(_text(ALNUM, 36))
        return token, [token[4:]]
    if kind == "jwt":
        parts = [draw(_text(ALNUM + "-_", 20)) for _ in range(3)]
        token = "eyJ" + ".".join(parts)
        return token, [token, parts[1], parts[2]]
    if kind == "stripe":
        return f"sk_live_{rand}", [rand]
    if kind == "bearer":
        return f"Authorization: Bearer {rand}", [rand]
    if kind == "pem":
        body = draw(_text(ALNUM + "+/", 40))
        return (f"-----BEGIN PRIVATE KEY-----\n{body}\n-----END PRIVATE KEY-----", [body])
    if kind == "url":
        return f"postgres://admin:{rand}@db.example:5432/app", [rand]
    return f'password="{rand}"', [rand]


@st.composite
def named_secret(draw: st.DrawFn) -> tuple[Any, list[str]]:
    """Anything stored under a sensitive name: a unique marker, maybe nested or as bytes."""
    marker = "mk" + draw(_text(ALNUM, 30))
    shape = draw(st.sampled_from(["str", "bytes", "list", "dict"]))
    value: Any = {
        "str": marker,
        "bytes": marker.encode(),
        "list": [1, marker],
        "dict": {"v": marker},
    }[shape]
    return value, [marker]


def _forms(core: str) -> list[bytes]:
    return [core.encode()]


def _bytes_forms(data: bytes) -> list[bytes]:
    # JSON serializers write bytes as base64: search for the whole value's encoding too.
    return [base64.b64encode(data), base64.b64encode(data).rstrip(b"=")]


@st.composite
def leaves(draw: st.DrawFn) -> Planted:
    choice = draw(st.sampled_from(["int", "word", "pii", "pii-bytes", "card-int", "float"]))
    if choice == "int":
        return Planted(draw(st.integers(-(10**6), 10**6)), [])
    if choice == "float":
        return Planted(draw(st.floats(allow_nan=False)), [])
    if choice == "word":
        return Planted(draw(st.sampled_from(WORDS)), [])
    if choice == "card-int":
        number = int(_luhn_complete("4" + draw(_text(string.digits, 14))))
        return Planted(number, [str(number).encode(), pickle.encode_long(number)])  # type: ignore[attr-defined]
    text, cores = draw(pii_secrets())
    embedded = f"{draw(st.sampled_from(WORDS))} {text} {draw(st.sampled_from(WORDS))}"
    forms = [form for core in cores for form in _forms(core)]
    if choice == "pii-bytes":
        data = embedded.encode()
        return Planted(data, forms + _bytes_forms(data))
    return Planted(embedded, forms)


def _key_and_value(draw: st.DrawFn, child: Planted) -> tuple[Any, Planted]:
    """A dict key for ``child``: ordinary, sensitive (plants a secret), or secret-shaped."""
    kind = draw(st.sampled_from(["normal", "normal", "sensitive", "sensitive-bytes", "pii"]))
    if kind == "normal":
        return draw(st.sampled_from(NORMAL_NAMES)) + str(draw(st.integers(0, 99))), child
    if kind == "pii":
        text, cores = draw(pii_secrets())
        return text, Planted(child.value, child.secrets + [c.encode() for c in cores])
    value, markers = draw(named_secret())
    name = draw(st.sampled_from(SENSITIVE_SPELLINGS))
    key = name.encode() if kind == "sensitive-bytes" else name
    return key, Planted(value, [m.encode() for m in markers])


def containers(children: st.SearchStrategy[Planted]) -> st.SearchStrategy[Planted]:
    @st.composite
    def build(draw: st.DrawFn) -> Planted:
        kind = draw(st.sampled_from(["dict", "list", "tuple", "box", "bag"]))
        items = draw(st.lists(children, max_size=4))
        secrets = [secret for item in items for secret in item.secrets]
        if kind == "list":
            return Planted([item.value for item in items], secrets)
        if kind == "tuple":
            return Planted(tuple(item.value for item in items), secrets)
        if kind == "box":
            value, markers = draw(named_secret())
            payload = [item.value for item in items]
            return Planted(Box("box", value, payload), secrets + [m.encode() for m in markers])
        pairs = [_key_and_value(draw, item) for item in items]
        secrets = [secret for _, planted in pairs for secret in planted.secrets]
        if kind == "dict":
            return Planted({key: planted.value for key, planted in pairs}, secrets)
        bag = Bag()
        for key, planted in pairs:
            setattr(bag, key.decode() if isinstance(key, bytes) else key, planted.value)
        return Planted(bag, secrets)

    return build()


arguments = st.recursive(leaves(), containers, max_leaves=12)


def _structure(value: Any, seen: set[int] | None = None) -> Iterator[tuple[int, str]]:
    """(id, type) of every object reachable from ``value``, in a fixed order."""
    seen = set() if seen is None else seen
    if id(value) in seen:
        return
    seen.add(id(value))
    yield id(value), type(value).__name__
    if isinstance(value, dict):
        children: list[Any] = [*value.keys(), *value.values()]
    elif isinstance(value, (list, tuple)):
        children = list(value)
    elif dataclasses.is_dataclass(value) or isinstance(value, Bag):
        children = list(vars(value).values())
    else:
        children = []
    for child in children:
        yield from _structure(child, seen)


def _stored_bytes(root: Path) -> bytes:
    return b"\n".join(path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file())


@pytest.mark.parametrize("serializer", SERIALIZERS)
@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    positional=st.lists(arguments, min_size=1, max_size=2),
    keyword=st.lists(st.tuples(st.sampled_from(NORMAL_NAMES), arguments), max_size=2),
    password=named_secret(),
    extra_sensitive=st.tuples(st.sampled_from(SENSITIVE_SPELLINGS), named_secret()),
)
def test_no_secret_byte_reaches_the_disk(
    serializer: str,
    tmp_path: Path,
    positional: list[Planted],
    keyword: list[tuple[str, Planted]],
    password: tuple[Any, list[str]],
    extra_sensitive: tuple[str, tuple[Any, list[str]]],
) -> None:
    """Whatever the nesting, the serializer or the spelling: no planted secret is stored."""
    root = Path(tempfile.mkdtemp(dir=tmp_path))
    received: list[Any] = []

    @capture_args(path=str(root), serializer=serializer)
    def target(user: Any, password: Any, *rest: Any, **extra: Any) -> str:
        received.append((user, password, rest, extra))
        return "done"

    secret_name, (secret_value, secret_markers) = extra_sensitive
    args = [positional[0].value, password[0], *(p.value for p in positional[1:])]
    kwargs = {f"{name}_{i}": planted.value for i, (name, planted) in enumerate(keyword)}
    kwargs["extra_" + secret_name if secret_name == "password" else secret_name] = secret_value
    secrets = [s for p in positional for s in p.secrets]
    secrets += [s for _, p in keyword for s in p.secrets]
    secrets += [m.encode() for m in [*password[1], *secret_markers]]

    call = (args, kwargs)
    before_structure = list(_structure(call))
    before_pickle = pickle.dumps(call)

    assert target(*args, **kwargs) == "done"

    # The function got the very objects it was called with, and none was changed.
    user, got_password, rest, extra = received[0]
    assert user is args[0]
    assert got_password is args[1]
    assert all(a is b for a, b in zip(rest, args[2:], strict=False))
    assert all(extra[key] is value for key, value in kwargs.items())
    assert list(_structure(call)) == before_structure
    assert pickle.dumps(call) == before_pickle

    stored = _stored_bytes(root)
    assert list(root.rglob("*.cap")), "the capture was written"
    for secret in secrets:
        assert secret not in stored, f"{secret!r} leaked with {serializer}"


@pytest.mark.parametrize("serializer", SERIALIZERS)
def test_secrets_in_results_and_exceptions_are_filtered(tmp_path: Path, serializer: str) -> None:
    """With record_result on, a returned secret and an exception message are filtered too."""
    key = "sk_live_" + "Q" * 24

    @capture_args(path=str(tmp_path), serializer=serializer, record_result=True)
    def issue(user: str) -> dict[str, str]:
        return {"user": user, "token": "tok-" + "R" * 20, "note": f"key {key}"}

    @capture_args(path=str(tmp_path), serializer=serializer, record_result=True)
    def fail(user: str) -> None:
        raise ValueError(f"bad card 4111 1111 1111 1111 for {user}")

    issue("bob")
    with pytest.raises(ValueError, match="bad card"):
        fail("bob")
    stored = _stored_bytes(tmp_path)
    assert b"Q" * 24 not in stored
    assert b"R" * 20 not in stored
    assert b"1111 1111" not in stored
    assert b"bob" in stored
