"""Words that name a secret or a structure: ``token``, ``session``, ``signature``, ``pin``...

A lexer's ``token`` is a dict or an object, a parser's token types a tree; a database
``session`` is an object. Under such a word alone, a name redacts only a scalar (text, bytes,
a number: what a credential is); a container or object under it is walked like any other, so
its own secret-named fields and secret-shaped values are still filtered. Strong words
(``password``, ``secret``, ``api_key``, ``authorization``, ``cookie``...) and compounds
(``access_token``, ``session_id``) redact any value, as does a user's own ``ignore_args``.
"""

from __future__ import annotations

import decimal
import pickle
from collections import namedtuple
from pathlib import Path
from typing import Any

import pytest

from snapy_capture import ArgumentFilter, capture_args, flush, load_capture

FLT = ArgumentFilter()
#: Not shaped like any secret: only the names around it tell.
HIDDEN = "Zq8-unlikely-value-41"


class LexToken:
    """A lexer's token: a kind, a text, a position, and (for the test) a secret-named field."""

    def __init__(self, kind: str, text: str, **extra: Any) -> None:
        self.kind = kind
        self.text = text
        self.pos = 0
        self.__dict__.update(extra)


TokenPair = namedtuple("TokenPair", "kind text")


class Text(str):
    """A str subclass: still a scalar."""


def _files(root: Path) -> bytes:
    return b"".join(path.read_bytes() for path in root.rglob("*") if path.is_file())


@pytest.mark.parametrize("name", ["token", "session", "signature", "pin", "pass", "sid"])
@pytest.mark.parametrize(
    "value",
    [
        HIDDEN,
        HIDDEN.encode(),
        bytearray(HIDDEN.encode()),
        4711,
        47.11,
        decimal.Decimal("4711"),
        Text(HIDDEN),
    ],  # None and booleans hold no secret: kept (test_no_secret_in_none.py)
    ids=["str", "bytes", "bytearray", "int", "float", "decimal", "str-subclass"],
)
def test_a_scalar_under_an_ambiguous_word_is_redacted(name: str, value: Any) -> None:
    filtered, report = FLT.filter_value(value, name)
    assert filtered == f"[FILTERED: name:{name}]"
    assert report == [{"path": name, "reason": f"name:{name}"}]


def test_a_lexer_token_dict_is_kept_and_its_secret_fields_redacted() -> None:
    token = {"type": "heading", "raw": "Intro", "attrs": {"level": 2}, "password": HIDDEN}
    filtered, report = FLT.filter_value(token, "token")
    assert filtered == {
        "type": "heading",
        "raw": "Intro",
        "attrs": {"level": 2},
        "password": "[FILTERED: name:password]",
    }
    assert report == [{"path": "token['password']", "reason": "name:password"}]
    clean = {"type": "text", "raw": "hello"}
    assert FLT.filter_value(clean, "token") == (clean, [])


@pytest.mark.parametrize("name", ["token", "current_token", "session", "db_session", "signature"])
def test_an_object_under_an_ambiguous_word_is_walked(name: str) -> None:
    value = LexToken("KEYWORD", "SELECT", api_key=HIDDEN)
    filtered, report = FLT.filter_value(value, name)
    assert report == [{"path": f"{name}.api_key", "reason": "name:api_key"}]
    loaded = pickle.loads(pickle.dumps(filtered))
    assert (loaded.kind, loaded.text, loaded.pos) == ("KEYWORD", "SELECT", 0)
    assert loaded.api_key == "[FILTERED: name:api_key]"


def test_a_secret_shaped_value_inside_an_ambiguous_container_is_still_masked() -> None:
    pat = "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"
    filtered, _ = FLT.filter_value({"raw": pat, "kind": "plain"}, "token")
    assert pat not in repr(filtered)
    assert filtered["kind"] == "plain"
    assert FLT.filter_value(pat, "token")[0] == "[FILTERED: name:token]"


def test_the_items_of_a_plain_sequence_are_checked_by_its_ambiguous_name() -> None:
    """They have no names of their own: ``signature=[1, sig]`` hides the signature, while a
    token dict inside a list is still walked by its keys."""
    filtered, report = FLT.filter_value([1, HIDDEN, {"raw": "x"}], "signature")
    assert filtered == ["[FILTERED: name:signature]", "[FILTERED: name:signature]", {"raw": "x"}]
    assert [entry["path"] for entry in report] == ["signature[0]", "signature[1]"]
    assert FLT.filter_value((HIDDEN,), "token")[0] == ("[FILTERED: name:token]",)


@pytest.mark.parametrize(
    "name", ["password", "secret", "api_key", "authorization", "cookie", "credential"]
)
def test_strong_words_redact_containers_and_objects_too(name: str) -> None:
    for value in ({"value": HIDDEN}, [HIDDEN], LexToken("k", HIDDEN)):
        filtered, report = FLT.filter_value(value, name)
        assert filtered == f"[FILTERED: name:{name}]"
        assert report == [{"path": name, "reason": f"name:{name}"}]


@pytest.mark.parametrize("name", ["access_token", "session_id", "auth_token", "csrf_token"])
def test_compounds_of_ambiguous_words_redact_any_value(name: str) -> None:
    assert FLT.filter_value({"value": HIDDEN}, name)[0] == f"[FILTERED: name:{name}]"


def test_a_users_own_name_redacts_any_value() -> None:
    strict = ArgumentFilter(ignore_args=["token"])
    assert strict.filter_value({"raw": HIDDEN}, "token")[0] == "[FILTERED: name:token]"


def test_the_fast_path_agrees_with_the_walk() -> None:
    """filter_call takes the fast path for plain containers: same verdicts."""
    result = FLT.filter_call(
        ["token", "session", "pin"], ({"raw": "x"}, ["a", "b"], HIDDEN), {"token2": (1, 2)}
    )
    assert result.args == (
        {"raw": "x"},
        ["[FILTERED: name:session]", "[FILTERED: name:session]"],
        "[FILTERED: name:pin]",
    )
    assert result.kwargs == {"token2": ("[FILTERED: name:token]", "[FILTERED: name:token]")}
    assert [entry["path"] for entry in result.redactions] == [
        "session[0]",
        "session[1]",
        "pin",
        "token2[0]",
        "token2[1]",
    ]


def test_pairs_of_tokens_are_not_key_value_pairs() -> None:
    """Only a pair whose first item is text naming a credential has its second redacted."""
    values = [
        ("Keyword", "Constant"),
        ("Name", "SELECT"),
        TokenPair("Keyword", "SELECT"),
        ["Operator", "="],
    ]
    filtered, report = FLT.filter_value(values)
    assert filtered is values
    assert report == []
    assert FLT.filter_value(("password", HIDDEN))[0] == ("password", "[FILTERED: name:password]")


def test_pygments_token_types_filter_with_no_redactions() -> None:
    token = pytest.importorskip("pygments.token")
    from pygments.formatters import HtmlFormatter

    for value, name in [
        (token.Keyword, "ttype"),
        (token.Keyword, "token"),
        (token.Token, None),
        ((token.Keyword, "SELECT"), None),
        ([(token.Name.Builtin, "print"), (token.Text, " ")], "tokens"),
    ]:
        filtered, report = FLT.filter_value(value, name)
        assert report == [], value
        assert filtered is value
    formatter = HtmlFormatter(style="default")
    filtered, report = FLT.filter_value(formatter, "self")
    assert report == []
    assert filtered is formatter


def test_sqlparse_token_types_filter_with_no_redactions() -> None:
    tokens = pytest.importorskip("sqlparse.tokens")
    import sqlparse

    statement = sqlparse.parse("select a, b as token from t where session = 1")[0]
    for value, name in [
        (tokens.Keyword, "ttype"),
        (tokens.Keyword, "token"),
        (tokens.Token, None),
        (statement, "stmt"),
        (statement.tokens[0], "token"),
    ]:
        filtered, report = FLT.filter_value(value, name)
        assert report == [], (value, report)
        assert filtered is value


def test_a_lexer_token_argument_reaches_the_disk_whole_and_its_secret_does_not(
    capture_dir: Path,
) -> None:
    """Through capture: ``render_token(token)`` keeps the token; ``login(token=...)`` does not."""

    @capture_args(path=capture_dir)
    def render_token(token: Any) -> None:
        return None

    @capture_args(path=capture_dir)
    def login(token: str) -> None:
        return None

    render_token({"type": "text", "raw": "hello world", "secret": HIDDEN})
    login(HIDDEN + "-2")
    assert flush(timeout=30)
    (token,), _ = load_capture("render_token", path=capture_dir)
    assert token == {"type": "text", "raw": "hello world", "secret": "[FILTERED: name:secret]"}
    (given,), _ = load_capture("login", path=capture_dir)
    assert given == "[FILTERED: name:token]"
    assert HIDDEN.encode() not in _files(capture_dir)


def test_an_object_stored_elsewhere_is_not_hidden_by_one_secret_name() -> None:
    """sqlparse's keyword tables map ``AUTHORIZATION`` (a strong word) to the very token type
    a hundred other keywords map to: redacting that one reference would hide nothing."""
    keyword = LexToken("Keyword", "")
    table = {"SELECT": keyword, "FROM": keyword, "AUTHORIZATION": keyword}
    filtered, report = FLT.filter_value(table, "keywords")
    assert filtered is table
    assert report == []
    result = FLT.filter_call(["first", "password"], (keyword, keyword), {})
    assert result.args == (keyword, keyword)
    assert result.redactions == []
    # Met first under the secret name, it is redacted there (and stored where it is met next,
    # as before); a scalar is never "the same object".
    first = {"AUTHORIZATION": keyword, "SELECT": keyword}
    assert FLT.filter_value(first)[0] == {
        "AUTHORIZATION": "[FILTERED: name:authorization]",
        "SELECT": keyword,
    }
    assert FLT.filter_call(["a", "password"], (HIDDEN, HIDDEN), {}).args[1] == (
        "[FILTERED: name:password]"
    )


def test_the_sqlparse_lexer_filters_with_no_redactions() -> None:
    lexer = pytest.importorskip("sqlparse.lexer")
    instance = lexer.Lexer.get_default_instance()
    filtered, report = FLT.filter_value(instance, "self")
    assert report == []
    assert filtered is instance
