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
import io
import json
import os
import pickle
import shutil
import stat
import string
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from snapy_capture import CaptureStorage, SnapyCaptureWarning, capture_args, cli, load_capture
from snapy_capture.errors import UnsafeStorageError
from snapy_capture.storage import function_dirname

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


#: Words that also name structures (a lexer's token dict, a DB session): under them alone
#: only a scalar, or the items of a plain list, is a secret; a dict is walked by its own keys.
AMBIGUOUS_SPELLINGS = frozenset({"signature"})


@st.composite
def named_secret(draw: st.DrawFn, name: str = "password") -> tuple[Any, list[str]]:
    """Anything stored under a sensitive name: a unique marker, maybe nested or as bytes."""
    marker = "mk" + draw(_text(ALNUM, 30))
    shapes = ["str", "bytes", "list"] if name in AMBIGUOUS_SPELLINGS else []
    shape = draw(st.sampled_from(shapes or ["str", "bytes", "list", "dict"]))
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
    name = draw(st.sampled_from(SENSITIVE_SPELLINGS))
    value, markers = draw(named_secret(name))
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
    extra_sensitive=st.sampled_from(SENSITIVE_SPELLINGS).flatmap(
        lambda name: st.tuples(st.just(name), named_secret(name))
    ),
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


# --- symbolic links and pre-existing roots (issue 15, item 8) -------------------------------

posix = pytest.mark.skipif(not hasattr(os, "O_NOFOLLOW"), reason="POSIX links and modes")
RECORD = {"module": "app", "qualname": "pay", "args": [1], "kwargs": {}}


def _function_dir(root: Path) -> Path:
    directory = root / function_dirname("app", "pay")
    directory.mkdir(parents=True, mode=0o700)
    os.chmod(root, 0o700)
    return directory


def _host_call_is_unchanged(root: Path, caplog: pytest.LogCaptureFixture, why: str) -> None:
    """A decorated call through the planted tree: same result, one warning naming the
    problem, no traceback, no capture."""

    @capture_args(path=str(root))
    def pay(amount: int) -> int:
        return amount + 1

    with caplog.at_level("WARNING", logger="snapy_capture"):
        assert [pay(1), pay(2)] == [2, 3]
    warned = [r.getMessage() for r in caplog.records if r.name == "snapy_capture"]
    assert len(warned) == 1, warned
    assert why in warned[0]
    assert not any(r.exc_info for r in caplog.records if r.levelname == "WARNING")


@pytest.fixture
def victim(tmp_path: Path) -> Path:
    path = tmp_path / "victim.txt"
    path.write_bytes(b"precious bytes outside the capture root\n")
    return path


@posix
def test_seq_symlink_does_not_overwrite_its_target(tmp_path: Path, victim: Path) -> None:
    """A planted .seq link is refused before anything is written through it."""
    root = tmp_path / "caps"
    directory = _function_dir(root)
    (directory / ".seq").symlink_to(victim)
    with pytest.raises(UnsafeStorageError, match=r"\.seq is a symbolic link"):
        CaptureStorage(root).save(RECORD)
    assert victim.read_bytes() == b"precious bytes outside the capture root\n"
    assert list(directory.glob("*.cap")) == []


@posix
def test_seq_swapped_for_a_symlink_after_first_write(tmp_path: Path, victim: Path) -> None:
    """Swapped while a process writes (its .seq already open): still never written through."""
    root = tmp_path / "caps"
    storage = CaptureStorage(root)
    first = storage.save(RECORD)
    (first.parent / ".seq").unlink()
    (first.parent / ".seq").symlink_to(victim)
    with pytest.raises(OSError, match="symbolic links"):  # ELOOP: the capture is dropped
        storage.save(RECORD)
    assert victim.read_bytes() == b"precious bytes outside the capture root\n"


@posix
def test_dangling_lock_symlink_creates_nothing(tmp_path: Path) -> None:
    """A dangling .lock link: its target is not created, by a write nor by prune/clear."""
    root = tmp_path / "caps"
    directory = _function_dir(root)
    target = tmp_path / "created-by-capture"
    (directory / ".lock").symlink_to(target)
    with pytest.raises(UnsafeStorageError, match=r"\.lock is a symbolic link"):
        CaptureStorage(root).save(RECORD)
    for maintenance in (CaptureStorage(root).prune, CaptureStorage(root).clear):
        with pytest.raises(OSError, match="symbolic links"):
            maintenance()
    assert not target.exists()


@posix
def test_dangling_lock_symlink_in_the_host(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    root = tmp_path / "caps"
    CaptureStorage(root)  # nothing yet
    target = tmp_path / "created-by-capture"

    @capture_args(path=str(root))
    def pay(amount: int) -> int:
        return amount + 1

    # The directory this function's captures go to, planted before its first call.
    module = pay.__module__
    directory = root / function_dirname(module, pay.__qualname__)
    directory.mkdir(parents=True, mode=0o700)
    (directory / ".lock").symlink_to(target)
    with caplog.at_level("WARNING", logger="snapy_capture"):
        assert pay(1) == 2
    assert not target.exists()
    assert list(root.rglob("*.cap")) == []
    assert any(".lock is a symbolic link" in r.getMessage() for r in caplog.records)


@posix
def test_function_directory_symlink_gets_no_capture(tmp_path: Path) -> None:
    """A function directory replaced by a link to a directory outside the root."""
    root = tmp_path / "caps"
    outside = tmp_path / "outside"
    outside.mkdir(mode=0o700)
    root.mkdir(mode=0o700)
    (root / function_dirname("app", "pay")).symlink_to(outside)
    with pytest.raises(UnsafeStorageError, match="symbolic link"):
        CaptureStorage(root).save(RECORD)
    assert list(outside.iterdir()) == []


@posix
def test_function_directory_swapped_for_a_symlink_after_first_write(tmp_path: Path) -> None:
    """Swapped under a process that already wrote there: the next capture is dropped."""
    root = tmp_path / "caps"
    outside = tmp_path / "outside"
    outside.mkdir(mode=0o700)
    storage = CaptureStorage(root)
    directory = storage.save(RECORD).parent
    shutil.rmtree(directory)
    directory.symlink_to(outside)
    with pytest.raises(UnsafeStorageError, match="symbolic link"):
        storage.save(RECORD)
    assert list(outside.iterdir()) == []


@posix
def test_root_symlink_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir(mode=0o700)
    (tmp_path / "caps").symlink_to(outside)
    with pytest.raises(UnsafeStorageError, match=r"root .* symbolic link"):
        CaptureStorage(tmp_path / "caps").save(RECORD)
    assert list(outside.iterdir()) == []


@posix
@pytest.mark.parametrize("mode", [0o777, 0o1777, 0o703])
def test_world_writable_root_is_refused(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, mode: int
) -> None:
    """A pre-existing root anybody can write to: one warning, nothing written."""
    root = tmp_path / "caps"
    root.mkdir()
    os.chmod(root, mode)
    _host_call_is_unchanged(root, caplog, "writable by every user")
    assert list(root.iterdir()) == []
    with pytest.raises(UnsafeStorageError, match=f"mode {mode:04o}"):
        CaptureStorage(root).save(RECORD)


@posix
@pytest.mark.skipif(
    getattr(os, "geteuid", lambda: -1)() != 0, reason="needs root to give the directory away"
)
def test_group_writable_root_of_another_user_is_refused(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    root = tmp_path / "caps"
    root.mkdir()
    os.chmod(root, 0o770)  # noqa: S103 - the attack
    os.chown(root, 54321, -1)
    _host_call_is_unchanged(root, caplog, "owned by another user")
    assert list(root.iterdir()) == []


@posix
def test_own_group_writable_root_is_used(tmp_path: Path) -> None:
    """A umask-002 user's own 0775 directory stays usable."""
    root = tmp_path / "caps"
    root.mkdir()
    os.chmod(root, 0o775)  # noqa: S103 - the case under test
    assert CaptureStorage(root).save(RECORD).exists()


@posix
def test_new_root_is_created_private(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        path = CaptureStorage(tmp_path / "a" / "caps").save(RECORD)
    finally:
        os.umask(old)
    for directory in (tmp_path / "a", tmp_path / "a" / "caps", path.parent):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700


@posix
def test_cap_symlink_is_neither_loaded_nor_shown(tmp_path: Path) -> None:
    """A .cap linked to a file outside the root (here a readable capture holding a secret,
    standing for /etc/shadow) is refused by the loader and by `snapy-capture show`."""
    root = tmp_path / "caps"
    storage = CaptureStorage(root)
    genuine = storage.save(RECORD)
    elsewhere = CaptureStorage(tmp_path / "elsewhere").save({**RECORD, "args": ["TOPSECRET"]})
    link = genuine.with_name(f"{int(genuine.name[:12]) + 1:012d}.cap")
    link.symlink_to(elsewhere)
    with pytest.warns(SnapyCaptureWarning, match="symbolic link"):
        assert load_capture("app:pay", root) == ((1,), {})
    out, err = io.StringIO(), io.StringIO()
    assert cli.main(["show", "app:pay", "--path", str(root)], stdout=out, stderr=err) == 0
    assert "TOPSECRET" not in out.getvalue() + err.getvalue()
    assert "symbolic link" in err.getvalue()
    out = io.StringIO()
    assert cli.main(["export", "app:pay", "--path", str(root)], stdout=out, stderr=err) == 0
    assert "TOPSECRET" not in out.getvalue()


@posix
def test_cap_fifo_does_not_hang_the_loader(tmp_path: Path) -> None:
    root = tmp_path / "caps"
    genuine = CaptureStorage(root).save(RECORD)
    os.mkfifo(genuine.with_name(f"{int(genuine.name[:12]) + 1:012d}.cap"))
    with pytest.warns(SnapyCaptureWarning, match="not a regular file"):
        assert load_capture("app:pay", root) == ((1,), {})


# --- exported files are private (issue 15, item 13) -----------------------------------------


@posix
@pytest.mark.parametrize("existing", [False, True])
def test_export_output_is_private(tmp_path: Path, existing: bool) -> None:
    root = tmp_path / "caps"
    CaptureStorage(root).save(RECORD)
    output = tmp_path / "out.json"
    if existing:
        output.write_text("old")
        os.chmod(output, 0o644)
    old = os.umask(0o022)
    try:
        code = cli.main(
            ["export", "app:pay", "--path", str(root), "--output", str(output)],
            stdout=io.StringIO(),
            stderr=io.StringIO(),
        )
    finally:
        os.umask(old)
    assert code == 0
    assert stat.S_IMODE(output.stat().st_mode) == 0o600
    assert json.loads(output.read_text())[0]["args"] == [1]
