"""Name matching for :class:`~snapy_capture.filters.ArgumentFilter`: is this name sensitive?

Also the watched lists that hold the filter's name and PII patterns: they count their own
changes, so a filter's caches are validated by one integer compare instead of by rebuilding
tuples of patterns on every call.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from snapy_capture.errors import ConfigError
from snapy_capture.filters._inert import Inert
from snapy_capture.filters._redacted import Redacted

TYPE_CHECKING = False  # not typing's: see snapy_capture._stdtypes
if TYPE_CHECKING:
    from typing import Any, Final

__all__ = [
    "AMBIGUOUS",
    "CREDENTIAL_WORDS",
    "DESCRIBING",
    "LAST_WORD",
    "NAME_LENGTH",
    "NAMING_KEYS",
    "NOT_CREDENTIAL_TOKENS",
    "SENSITIVE_PATTERNS",
    "SUFFIXES",
    "VALUE_KEYS",
    "AmbiguousName",
    "Vocabulary",
    "Watched",
    "changed",
    "format_names",
    "generation",
    "match_name",
    "name_list",
    "names_key",
    "naming_entry",
    "own_fields",
    "pair_key",
    "structural_name",
    "version",
    "vocabulary",
]

_NORMALIZE: Final = re.compile(r"[^a-z0-9]")
#: The words of a name: runs of capitals (``HTTP`` in ``HTTPHeader``), capitalized or lower-case
#: runs, runs of digits; everything else (``_``, ``-``, ``.``, spaces) separates them. Linear:
#: the capitals' look-ahead gives back at most one letter.
_WORDS: Final = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")

#: The default sensitive names: the seed's list first (the contract's minimum), then the names
#: users expect to be caught too. How each is matched: see :func:`match_name`.
SENSITIVE_PATTERNS: Final[list[str]] = [
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
    "passwd",
    "pwd",
    "pw",
    "passphrase",
    "private_key",
    "secret_key",
    "auth_token",
    "id_token",
    "credential",
    "creds",
    "cookie",
    "authorization",
    "jwt",
    "bearer",
    "signature",
    "otp",
    "ssn",
    "cvv",
    "cvc",
    "pin_code",
    "pin_number",
    "card_number",
    "credit_card",
    "passcode",
    "mfa_code",
    "dsn",
    "conn_str",
    "connection_string",
    "database_url",
    "database_uri",
    "db_url",
    "csrfmiddlewaretoken",
    # Only as the last word of a name (see ``LAST_WORD``): "db_pass", not "pass_count".
    "pass",
    "pin",
    "sid",
    "session",
]

#: Names a secret only as the last word of a name (digits aside), never in the plural: ``pin``,
#: ``user_pin``, ``pin2``, ``basic_auth`` match; ``pin_memory``, ``pins``, ``auth_len``,
#: ``auth_method``, ``session_count``, ``first_pass_count`` do not. ``auth``, ``session`` and
#: ``pass`` first in a name usually qualify something else; last, they name what is held.
LAST_WORD: Final = frozenset({"pass", "pin", "sid", "session", "auth"})

#: Listed words that also name structure in ordinary code: a lexer's or parser's ``token``
#: (an object, a dict), a database or HTTP ``session`` object, ``inspect``'s ``signature``,
#: a GPIO ``pin``, a compiler ``pass``, a security identifier ``sid`` object. Matched by one of
#: these alone (not by a compound such as ``access_token``, ``session_id``, ``api_key``, nor a
#: user's ``ignore_args``), a name redacts only a scalar value (text, bytes, a number; see
#: ``_traverse.holds_scalar``): a container or object under it is walked like any other, its
#: own names and value shapes filtering its contents. The credential these words name is a
#: scalar; what is walked instead is a structure whose secret parts have names of their own.
AMBIGUOUS: Final = frozenset({"token", "session", "signature", "pin", "pass", "sid"})


class AmbiguousName(str):
    """A verdict of :func:`match_name` reached through a word of :data:`AMBIGUOUS` alone."""

    __slots__ = ()


#: ``key`` (and ``keys``) names a credential only after one of these: ``api_key``,
#: ``signingKey``, ``AWS_SECRET_ACCESS_KEY``; never alone or after anything else (``key``,
#: ``keys``, ``sort_key``, ``cache_key``, ``primary_key``, ``public_key``, ``key_func``).
CREDENTIAL_WORDS: Final = frozenset(
    {
        "api",
        "access",
        "secret",
        "private",
        "signing",
        "sign",
        "encryption",
        "decryption",
        "encrypt",
        "crypt",
        "cipher",
        "aes",
        "hmac",
        "master",
        "client",
        "consumer",
        "app",
        "shared",
        "ssh",
        "gpg",
        "pgp",
        "rsa",
        "jwt",
        "session",
        "auth",
        "license",
        "licence",
        "account",
        "storage",
        "service",
        "deploy",
        "webhook",
        "bot",
        "subscription",
        "root",
        # and, for ``tokens`` (see ``_PLURAL_AFTER_CREDENTIAL``)
        "refresh",
        "bearer",
        "oauth",
        "csrf",
        "xsrf",
        "id",
        "personal",
    }
)
#: Whose plural names a credential only after one of :data:`CREDENTIAL_WORDS`: ``tokens``
#: alone (a lexer's), ``max_tokens``, ``num_tokens`` are not secrets; ``access_tokens`` are.
_PLURAL_AFTER_CREDENTIAL: Final = frozenset({"token", "key"})
_NEEDS_CREDENTIAL_WORD: Final = frozenset({"key"})

#: ``token`` after one of these is a position in a text or a list, not a credential:
#: ``pageToken``, ``NextToken``, ``eos_token``, ``pad_token_id``.
NOT_CREDENTIAL_TOKENS: Final = frozenset(
    {
        "page",
        "next",
        "continuation",
        "sync",
        "cancel",
        "cancellation",
        "pagination",
        "resume",
        "cursor",
        "start",
        "end",
        "stop",
        "eos",
        "bos",
        "pad",
        "unk",
        "sep",
        "cls",
        "mask",
        "special",
        "prompt",
        "completion",
        "max",
        "num",
        "total",
    }
)

#: A name whose last word, after the sensitive word, is one of these describes a secret
#: instead of holding it: ``token_count``, ``password_length``, ``secret_name``, ``token_url``,
#: ``private_key_path``, ``SESSION_COOKIE_AGE``, ``PASSWORD_RESET_TIMEOUT``.
DESCRIBING: Final = frozenset(
    {
        "count",
        "counts",
        "num",
        "len",
        "length",
        "size",
        "type",
        "types",
        "kind",
        "class",
        "cls",
        "index",
        "idx",
        "pos",
        "position",
        "offset",
        "start",
        "end",
        "name",
        "names",
        "id",
        "ids",
        "field",
        "label",
        "prompt",
        "policy",
        "pattern",
        "regex",
        "format",
        "min",
        "max",
        "ttl",
        "expiry",
        "expires",
        "expiration",
        "lifetime",
        "timeout",
        "age",
        "url",
        "uri",
        "endpoint",
        "path",
        "file",
        "filename",
        "dir",
        "env",
        "var",
        "required",
        "enabled",
        "prefix",
        "stream",
        "version",
        "method",
        "algorithm",
        "alg",
        "scheme",
        "location",
        "secure",
        "httponly",
        "samesite",
        "domain",
        "hasher",
        "hashers",
        "validator",
        "validators",
    }
)

#: Also matched at the end of a word written without separators (``PGPASSWORD``,
#: ``mypassword``, ``csrftoken``, ``clientsecret``): long enough to mean only that there.
SUFFIXES: Final = ("password", "passwd", "passphrase", "secret", "token")

#: Bumped on every change to any watched list; a one-item list so importers share the counter.
generation = [0]


def name_list(value: str | Iterable[str] | None) -> list[str]:
    """Names from a list, or from a comma-separated string (as written in a config file)."""
    if value is None:
        return []
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    names = list(value)
    for name in names:
        if not isinstance(name, str):
            raise ConfigError(f"expected names (strings), got {name!r}")
    return names


def changed() -> None:
    """Invalidate every cache keyed on :data:`generation`."""
    generation[0] += 1


class Watched(list):  # type: ignore[type-arg]
    """A list that tells the filters' caches when it changes (see :func:`version`)."""

    __slots__ = ()


def _watching(name: str) -> Callable[..., Any]:
    method = getattr(list, name)

    def mutate(self: list[Any], *args: Any) -> Any:
        result = method(self, *args)
        changed()
        return result

    mutate.__name__ = name
    return mutate


for _mutator in (
    "__setitem__",
    "__delitem__",
    "__iadd__",
    "__imul__",
    "append",
    "extend",
    "insert",
    "pop",
    "remove",
    "clear",
    "sort",
    "reverse",
):
    setattr(Watched, _mutator, _watching(_mutator))


def version(items: Any) -> Any:
    """A cache key for ``items`` that changes whenever its contents do."""
    # Watched lists are validated by the change counter; anything else (a list a subclass put
    # in place of the property) by its contents.
    if type(items) is Watched:
        return generation[0]
    return tuple(items)


def names_key(patterns: Any, ignore: Any, allow: Any) -> Any:
    """The cache key for name verdicts made with these three lists (see :func:`version`)."""
    if type(patterns) is Watched and type(ignore) is Watched and type(allow) is Watched:
        return generation[0]
    return (tuple(patterns), tuple(ignore), tuple(allow))


class _Entry:
    """How one listed name is matched (see :func:`match_name`)."""

    __slots__ = ("last", "listed", "needs", "plain", "plural_needs", "positional")

    def __init__(self, listed: str, text: str, *, plain: bool) -> None:
        # A user's own name is strong whatever its words (it was asked for).
        self.listed = AmbiguousName(listed) if not plain and text in AMBIGUOUS else listed
        self.plain = plain  # an extra name of the user's: whole words, no exceptions
        self.last = not plain and text in LAST_WORD
        self.needs = not plain and text in _NEEDS_CREDENTIAL_WORD
        self.plural_needs = not plain and text in _PLURAL_AFTER_CREDENTIAL
        self.positional = not plain and text == "token"  # see NOT_CREDENTIAL_TOKENS


class Vocabulary:
    """Listed names, compiled for :func:`match_name`: each by the text of its words."""

    __slots__ = ("endings", "entries", "prefixes", "suffixes")

    def __init__(self, patterns: tuple[str, ...], extra: tuple[str, ...]) -> None:
        self.entries: dict[str, _Entry] = {}
        for listed, plain in [*((p, False) for p in patterns), *((p, True) for p in extra)]:
            text = "".join(word.lower() for word in _WORDS.findall(listed))
            # A user's own name wins over a default one of the same words: it was asked for.
            if text and (plain or text not in self.entries):
                self.entries[text] = _Entry(listed, text, plain=plain)
        # Every beginning of a listed text (or of its plural): a run of words stops growing
        # as soon as it is none, so most words cost one set lookup.
        self.prefixes = {
            form[:size]
            for text in self.entries
            for form in (text, text + "s")
            for size in range(1, len(form) + 1)
        }
        # Of the listed defaults (a user's own name of the same words does not remove it).
        defaults = {
            "".join(word.lower() for word in _WORDS.findall(listed)): listed for listed in patterns
        }
        self.suffixes = tuple(
            (text, _Entry(defaults[text], text, plain=False))
            for text in SUFFIXES
            if text in defaults
        )
        self.endings = tuple(text for text, _ in self.suffixes)

    def match(self, words: list[str]) -> str | None:
        """The listed name that makes a name of these (lower-case) words sensitive."""
        count = len(words)
        last = count - 1
        while last > 0 and words[last].isdigit():
            last -= 1
        entries = self.entries
        for start in range(count):
            if words[start].isdigit():
                continue
            # Every run of words from here, the longest first: ``access_token`` is reported
            # as itself rather than as ``access`` then ``token``.
            runs = []
            text = ""
            for end in range(start, count):
                text += words[end]
                if text not in self.prefixes:
                    break
                runs.append((end, text))
            for end, text in reversed(runs):
                entry = entries.get(text)
                plural = False
                if entry is None and text.endswith("s"):
                    entry = entries.get(text[:-1])
                    plural = True
                if entry is not None:
                    found = self._accept(entry, words, start, end, last, plural=plural)
                    if found is not None:
                        return found
            word = words[start]
            if len(word) < 6 or not word.endswith(self.endings):
                continue
            for text, entry in self.suffixes:
                if len(word) > len(text) and word.endswith(text):
                    found = self._accept(entry, words, start, start, last, plural=False)
                    if found is not None:
                        return found
        return None

    @staticmethod
    def _accept(
        entry: _Entry, words: list[str], start: int, end: int, last: int, *, plural: bool
    ) -> str | None:
        if entry.plain:
            return entry.listed
        if end < last and words[last] in DESCRIBING:
            return None  # ``token_count``: about a secret, not one
        before = words[start - 1] if start > 0 else None
        if entry.last:
            return entry.listed if end == last and not plural else None
        if entry.needs or (plural and entry.plural_needs):
            if before in CREDENTIAL_WORDS:
                return f"{before}_{entry.listed}" if entry.needs else entry.listed
            return None
        if entry.positional and before in NOT_CREDENTIAL_TOKENS:
            return None  # ``pageToken``, ``eos_token``
        return entry.listed


_vocabularies: dict[tuple[tuple[str, ...], tuple[str, ...]], Vocabulary] = {}


def vocabulary(patterns: Iterable[str], extra: Iterable[str] = ()) -> Vocabulary:
    """The compiled form of these lists (kept for the few lists a process uses)."""
    key = (tuple(patterns), tuple(extra))
    found = _vocabularies.get(key)
    if found is None:
        found = Vocabulary(*key)
        if len(_vocabularies) >= 64:
            _vocabularies.clear()
        _vocabularies[key] = found
    return found


def match_name(
    name: str, patterns: Iterable[str], allow: Iterable[str], extra: Iterable[str] = ()
) -> str | None:
    """The listed name that makes ``name`` sensitive, or ``None``.

    A name is read as words: lower-cased, split at ``_``, ``-``, ``.``, spaces and any other
    sign, at camelCase and PascalCase boundaries and around digits (``X-Api-Key``, ``apiKey``
    and ``API_KEY`` are all ``api key``; ``AWS_SECRET_ACCESS_KEY`` is ``aws secret access
    key``). A listed name (one of ``patterns``) matches whole words of it, in order, written
    apart or together (``api_key`` matches ``apikey``, ``x-api-key`` and ``ApiKey``; ``secret``
    does not match ``secretary``), or their plural (``secrets``, ``api_keys``), except that:

    * ``password``, ``passwd``, ``passphrase``, ``secret`` and ``token`` also match the end of
      a word (``PGPASSWORD``, ``csrftoken``);
    * ``key`` names a credential only after a word of :data:`CREDENTIAL_WORDS` (``api_key``,
      ``signing_key``; not ``key``, ``keys``, ``sort_key``, ``primary_key``, ``public_key``);
      ``tokens`` likewise (``access_tokens``; not ``tokens`` or ``max_tokens``), and ``token``
      after a word of :data:`NOT_CREDENTIAL_TOKENS` is a position (``pageToken``);
    * :data:`LAST_WORD` (``auth``, ``pass``, ``pin``, ``sid``, ``session``) match only as the
      last word, never in the plural (``basic_auth``, ``user_pin``; not ``auth_len``,
      ``pin_memory``, ``sessions``);
    * a name that ends, after the match, with a word of :data:`DESCRIBING` describes a secret
      and does not hold one (``token_count``, ``password_length``, ``secret_name``).

    A verdict reached through a word of :data:`AMBIGUOUS` alone (``token``, ``session``...)
    is an :class:`AmbiguousName`: it redacts a scalar value, while a container or object under
    it is walked (a lexer's ``token`` dict, a database ``session``).

    ``extra`` (the user's ``ignore_args``) match as whole words too, or their plural, with none
    of these exceptions (``ignore_args=["key"]`` makes ``sort_key`` sensitive). A name equal
    to one of ``allow`` (compared lower-cased with signs removed) never matches.

    Returns:
        The listed name as written, or ``<word>_key`` for ``key`` after a credential word.
    """
    normalized = _NORMALIZE.sub("", name.lower())
    if not normalized:
        return None
    if normalized in {_NORMALIZE.sub("", allowed.lower()) for allowed in allow}:
        return None
    words = [word.lower() for word in _WORDS.findall(name)]
    return vocabulary(patterns, extra).match(words)


_MRO: Final = vars(type)["__mro__"].__get__
_CLASS_DICT: Final = vars(type)["__dict__"].__get__


def own_fields(kind: type) -> Any:
    """A namedtuple class's ``_fields`` (``None`` if none), read from its classes' own dicts:
    ``getattr`` asks a metaclass's ``__getattr__`` for a missing name (host code)."""
    for klass in _MRO(kind):
        fields = _CLASS_DICT(klass).get("_fields")
        if fields is not None:
            return fields
    return None


def pair_key(value: Any, items: list[Any]) -> str | None:
    """The key of a ``(key, value)`` pair, else ``None``.

    A pair is a list or a plain tuple (not a namedtuple: its fields name its items) of two
    items whose first is text: ``("password", pw)``, an HTTP header ``("Authorization", ...)``.
    Its second item is then checked by that name, as a dict value is by its key.
    """
    kind = type(value)  # not isinstance(): an object's own ``__class__`` is host code
    if (
        len(items) != 2
        or not issubclass(kind, (list, tuple))
        or (kind is not tuple and kind is not list and own_fields(kind) is not None)
    ):
        return None
    key = items[0]
    if type(key) is Inert:
        # An async snapshot's copy of a str subclass claims the class but is no text: its
        # text is read from its parts (reading it as a str raised, and lost the argument).
        return key.text()
    if type(key) is bytes:
        # A header as an ASGI scope or a raw HTTP client holds it: (b"x-api-key", b"...").
        return key.decode("ascii") if len(key) <= NAME_LENGTH and key.isascii() else None
    if not isinstance(key, str) or type(key) is Redacted:
        return None
    return str.__str__(key)  # a plain str: no __hash__ or __eq__ of a subclass runs on it


#: Last words of an attribute or key naming what describes or locates a credential, never the
#: credential itself: an ``auth`` object's ``username``, a cookie's ``domain`` and ``path``, a
#: field's ``name`` and ``error_messages`` (:data:`DESCRIBING` and these). Not ``id``, ``var``,
#: ``env``, ``stream``: a cookie called ``id``, a variable, a stream can hold the secret itself.
_STRUCTURE: Final = (DESCRIBING - {"id", "ids", "var", "env", "stream"}) | frozenset(
    {
        "user",
        "username",
        "login",
        "host",
        "hostname",
        "port",
        "realm",
        "message",
        "messages",
        "error",
        "errors",
        "comment",
        "description",
        "title",
        "help",
    }
)
_structural: dict[str, bool] = {}


def structural_name(name: str) -> bool:
    """Whether an attribute or a dict key called ``name`` holds what describes a credential
    (``username``, ``domain``, ``name``, ``error_messages``), judged by its last word: found
    below a sensitive name, its value is no secret (its own parts still are, by their names).
    A sensitive name is never structural: ask :func:`match_name` first."""
    known = _structural.get(name)
    if known is None:
        words = _WORDS.findall(name[:128])
        known = bool(words) and words[-1].lower() in _STRUCTURE
        if len(_structural) >= 4096:
            _structural.clear()
        _structural[name] = known
    return known


#: A ``%`` conversion of a format string formatting a tuple (``%s``, ``%-8.3f``, ``%*d``);
#: ``%(name)s`` formats a mapping, whose keys name its values already.
_CONVERSION: Final = re.compile(r"%[#0 +-]{0,8}(\*|[0-9]{0,8})(?:\.(\*|[0-9]{0,8}))?[hlL]?[a-zA-Z]")
#: What names the value a conversion formats: ``password=%s``, ``token: %r``, ``"key": '%s'``,
#: ``Authorization: Bearer %s`` (an HTTP auth scheme between the name and the value), at the
#: end of the text before it; read from its last 80 characters only.
_LABEL: Final = re.compile(
    r"([A-Za-z_][A-Za-z0-9_.-]{0,63})[\"']?\s{0,4}[=:]\s{0,4}[\"'(\[]?"
    r"(?:(?:[Bb]earer|[Bb]asic|[Tt]oken|[Dd]igest|BEARER|BASIC|TOKEN)\s{1,4})?\Z"
)


#: ``format_names`` answers by (format string, count): a program logs with a few constant
#: format strings; longer ones are not kept (nor hashed whole for the lookup).
_FORMATS: dict[tuple[str, int], tuple[str | None, ...] | None] = {}
_FORMAT_LENGTH: Final = 512


def format_names(text: str, count: int) -> tuple[str | None, ...] | None:
    """:func:`_format_names`, remembered for the short format strings met before."""
    if len(text) > _FORMAT_LENGTH:
        return _format_names(text, count)
    key = (text, count)
    known = _FORMATS.get(key, _FORMATS)
    if known is not _FORMATS:
        return known  # type: ignore[return-value]
    names = _format_names(text, count)
    if len(_FORMATS) >= 1024:
        _FORMATS.clear()
    _FORMATS[key] = names
    return names


def _format_names(text: str, count: int) -> tuple[str | None, ...] | None:
    """The name each of ``count`` arguments of the ``%`` format string ``text`` is written
    under (``"login %s password=%s"`` -> ``(None, "password")``), ``None`` for none named.

    logging keeps a message and its arguments apart (``LogRecord.msg``, ``.args``): a secret
    passed as ``log.info("password=%s", pw)`` is an unnamed item of a tuple. Linear: one
    scan for conversions, stopped after ``count``; each name is looked for in the 80
    characters before its own."""
    names: list[str | None] = []
    start = 0
    # "%%" formats nothing: gone first (in C), so each conversion met below is an argument's
    # and the loop stops after ``count`` of them.
    text = text.replace("%%", "")
    for match in _CONVERSION.finditer(text):
        # A "*" width or precision takes an argument of its own, before the value.
        names.extend([None] * ((match.group(1) == "*") + (match.group(2) == "*")))
        label = _LABEL.search(text, max(start, match.start() - 80), match.start())
        names.append(label.group(1) if label is not None else None)
        start = match.end()
        if len(names) >= count:
            break
    if not any(names):
        return None
    return tuple(names[:count])


def _spellings(*words: str) -> frozenset[str]:
    return frozenset(spelling for word in words for spelling in (word, word.title(), word.upper()))


#: Dict keys whose value names another entry's: ``{"name": "DB_PASSWORD", "value": pw}`` (a
#: Kubernetes env var, an HTML input's attributes, an SSM parameter, a HAR header).
NAMING_KEYS: Final = _spellings("name", "key", "field", "header", "param", "parameter", "var")
#: The entries such a name names (``content``: an HTML ``<meta name=... content=...>``).
VALUE_KEYS: Final = _spellings("value", "content", "val", "data")
#: Longer text is not a name.
NAME_LENGTH: Final = 64


def naming_entry(
    pairs: Iterable[tuple[Any, Any]], sensitive: Callable[[str], object]
) -> str | None:
    """The text of a dict's naming entry that ``sensitive`` (a name's verdict) finds
    sensitive (``"DB_PASSWORD"`` in ``{"name": "DB_PASSWORD", "value": pw}``), by which its
    :data:`VALUE_KEYS` entries are judged; ``None`` if it has none. Every naming entry is
    asked, not the first only: ``{"key": "db", "name": "DB_PASSWORD", "value": pw}`` stored
    the password. Exact str keys and values only: no subclass's ``__eq__`` or ``__hash__``
    runs."""
    for key, item in pairs:
        if (
            type(key) is str
            and key in NAMING_KEYS
            and type(item) is str
            and len(item) <= NAME_LENGTH
            and sensitive(item) is not None
        ):
            return item
    return None
