"""Secret-shaped values: the default patterns, their gates, card and SSN checks, odd digits.

:mod:`._scan` runs them over text.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable

TYPE_CHECKING = False  # not typing's: see snapy_capture._stdtypes
if TYPE_CHECKING:
    import decimal
    from typing import Final

__all__ = ["EMAIL_PATTERN", "MASK", "PII_PATTERNS", "is_card_decimal", "is_card_int"]

# Every default pattern runs in time linear in the text, in any ``re`` (3.10 has neither
# possessive quantifiers nor atomic groups): a quantifier is either bounded by a small constant
# or scans a run that no other attempt can scan again. That is why most patterns start with a
# literal and check what precedes it with a look-behind (the engine then jumps from one
# occurrence of the literal to the next, and a run is only entered at its start), and why
# ``_ASSIGNED`` and ``_URL`` stop at what would start another attempt.
# tests/test_secret_shapes.py times each one on adversarial text.

# Card separators: space, dot, dash, and the no-break spaces and Unicode dashes that word
# processors and web pages put between digit groups (at most two of them: "4111  1111").
# Unicode digits (fullwidth, Arabic-Indic...) are made ASCII first: see ``_unicode_digits``.
_CARD_SEPARATOR: Final = "[ .\\-\u00a0\u2007\u202f\u2010-\u2015\u2212]{1,2}"
# 13-19 digits in one run, or written in groups as cards are (4-4-4-4, 4-6-5, 8-8,
# 4-4-4-4-3...: groups of four to eight digits, then maybe a short last one); the exact count
# and the Luhn check are done in Python (``_valid_card``). It starts with a plain digit (the
# look-behind comes after it) so the engine skips ahead to the next digit, and an attempt is
# bounded (35 digits at most).
CARD: Final = (
    r"[0-9](?<![0-9-][0-9])(?:[0-9]{12,18}"
    rf"|[0-9]{{3,7}}(?:{_CARD_SEPARATOR}[0-9]{{4,8}}){{1,3}}(?:{_CARD_SEPARATOR}[0-9]{{1,3}})?)"
    r"(?![0-9-])"
)
_SSN: Final = (
    r"[0-9](?<![0-9][0-9])[0-9]{2}"
    r"(?:-[0-9]{2}-[0-9]{4}(?![0-9])"
    # With spaces only when not part of a longer list of numbers (checked further in Python).
    r"|(?<![0-9] [0-9]{3}) [0-9]{2} [0-9]{4}(?![0-9]| [0-9]))"
)
_JWT: Final = r"eyJ(?<![A-Za-z0-9_-]eyJ)[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*"
_PEM_LABEL: Final = r"[A-Z0-9 ]{0,32}PRIVATE KEY[A-Z ]{0,16}-----"
_PEM: Final = rf"-----BEGIN {_PEM_LABEL}[\s\S]*?(?:-----END {_PEM_LABEL}|$)"
_AWS: Final = r"A(?<!\wA)(?:KIA|SIA|GPA|IDA|ROA)[0-9A-Z]{16}\b"
_GITHUB: Final = r"g(?<!\wg)(?:h[pousr]_[A-Za-z0-9]{30,}|ithub_pat_[A-Za-z0-9_]{22,})"
_GITLAB: Final = r"glpat-(?<!\wglpat-)[A-Za-z0-9_-]{20,}"
_SLACK: Final = r"xox(?<!\wxox)[abposre]-[A-Za-z0-9-]{10,}|hooks\.slack\.com/services/[A-Za-z0-9/]+"
_GOOGLE: Final = r"AIza(?<!\wAIza)[0-9A-Za-z_-]{35}"
_STRIPE: Final = r"\b(?:[sr]k|whsec)_(?:live_|test_)?[0-9A-Za-z]{16,}"
_SK: Final = r"sk-(?<!\wsk-)[A-Za-z0-9_-]{20,}"
_REGISTRY: Final = r"npm_(?<!\wnpm_)[A-Za-z0-9]{30,}|pypi-(?<!\wpypi-)[A-Za-z0-9_-]{40,}"
_HEADER: Final = r"(?ai)\b(?:bearer|basic|token)\s+[A-Za-z0-9._~+/-]{12,}=*"
# user:password in a URL, the password up to the last "@" before the path; or, when it holds
# a "/" itself (``postgresql://admin:Ab3/x+Yz9Q@db/app``), up to the last "@" followed by a
# host name in the next 256 characters (never across another "://": attempts stay disjoint).
# Not "host:8080/..." : a port (digits, then the path, query or end) is not a password.
_URL: Final = (
    r"(?<=://)[^/\s:@\[]{0,256}:(?![0-9]*(?:[/?#\s]|$))"
    r"(?:[^/\s]{1,256}(?=@)"
    r"|(?:(?!://)[^\s\"'<>]){1,256}(?=@[\w.-]{1,253}(?::[0-9]{0,5})?(?:[/?#\s\"'<>]|$)))"
)
# A URL's network location alone, as a whole text (``urlsplit(url).netloc``, yarl's state,
# "admin:pw@db:5432"): its user and password. Not "mailto:bob@example.com" and the like, nor
# "nginx:1.25@sha256:..." (a host and an optional port must follow the "@", to the end).
# Anchored: the engine tries it at the start only, whatever the text's length.
_NETLOC: Final = (
    r"\A(?!(?i:mailto|sips?|xmpp|tel|im|pres):)[^/\s:@\[]{1,256}:"
    r"[^/\s]{1,256}(?=@[\w.-]{1,253}(?::[0-9]{1,5})?\Z)"
)
# Secret-sounding names in free text ("password=..."), by first letter. Each alternative of
# ``_ASSIGNED`` starts with a plain letter, in either case, so the engine skips from one
# candidate letter to the next and tries only the alternatives that start with it.
_NAMES_BY_LETTER: Final = {
    # "pass" only as a whole word that ends the key ("db_pass=", "PASS:"), not "bypass=".
    "p": r"ass(?:word|wd)|(?<![a-z0-9]p)ass(?=[\"']?\s*[=:])|wd|rivate[_-]?key",
    "s": "ecret",
    "t": "oken",
    "a": r"pi[_-]?key|ccess[_-]?key|uth",
    "c": r"lient[_-]?secret",
}
_SECRET_NAME: Final = "|".join(
    f"{letter}(?i:{rest})|{letter.upper()}(?i:{rest})" for letter, rest in _NAMES_BY_LETTER.items()
)
# A secret-sounding name, the rest of its key (at most 32 more characters: "password_hash"),
# then "=" or ":" and the value: a quoted one to its closing quote, or at least three
# characters of an unquoted one. ``(?=(...))\1`` scans the rest of the key once, as an atomic
# group would (3.10 has none), so a run of names ("authauth...") costs each at most 32 steps.
_ASSIGNED: Final = (
    rf"(?a)(?:{_SECRET_NAME})(?=([\w-]{{0,32}}))\1"
    r"(?i:[\"']?\s*[=:]\s*"
    r"(?:\"(?:[^\"\\\n]|\\.){1,64}\"|'(?:[^'\\\n]|\\.){1,64}'|[\"']?[^\s\"'&;,]{3,}))"
)
# A secret-sounding URL query parameter ("?pass=x", "&access_token=..."), however short its
# value; the "?" or "&" is masked with it.
_QUERY: Final = (
    r"(?ai)[?&](?=[\w.-]{0,32}?"
    r"(?:pass(?:word|wd)?=|pwd|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|auth))"
    r"[\w.-]{1,64}=[^\s&#]+"
)
#: Default value patterns: secrets and payment data, not ordinary PII such as e-mail addresses
#: (masking those by default would break the replay of most user-facing functions; add
#: :data:`EMAIL_PATTERN` to ``pii_patterns`` to mask them too).
PII_PATTERNS: Final[list[str]] = [
    _SSN,  # US social security number, with dashes or spaces
    CARD,  # payment card numbers, 13-19 digits, plain or in groups, Luhn-checked
    _JWT,  # JSON web token
    _PEM,  # PEM / OpenSSH / PGP private key, to its END line or the end of the string
    _AWS,  # AWS access key id
    _GITHUB,  # GitHub tokens
    _GITLAB,  # GitLab personal access token
    _SLACK,  # Slack tokens and webhook URLs
    _GOOGLE,  # Google API key
    _STRIPE,  # Stripe secret, restricted and webhook keys
    _SK,  # OpenAI / Anthropic style secret keys
    _REGISTRY,  # npm and PyPI tokens
    _HEADER,  # Authorization header values: "Bearer ...", "Basic ...", "token ..."
    _URL,  # user:password in a URL
    _NETLOC,  # user:password@host, a URL's network location alone
    _QUERY,  # ?password=..., &token=...: secret-sounding query parameters
    _ASSIGNED,  # password=..., "api_key": "...": the value after a secret-sounding name
]
# Cheap necessary conditions of the default patterns, so that most strings are cleared by a
# few substring tests instead of fifteen regex scans: (minimum ASCII digits, groups of needles
# of which one each must occur in the case-folded string). A pattern that can match a string
# must pass its gate (tests/test_filters.py checks this on generated strings).
_GATES: Final[dict[str, tuple[int, tuple[tuple[str, ...], ...]]]] = {
    _SSN: (9, (("-", " "),)),
    CARD: (13, ()),
    _JWT: (0, (("eyj",), (".",))),
    _PEM: (0, (("-----begin ",),)),
    _AWS: (0, (("akia", "asia", "agpa", "aida", "aroa"),)),
    _GITHUB: (0, (("gh", "github_pat_"),)),
    _GITLAB: (0, (("glpat-",),)),
    _SLACK: (0, (("xox", "hooks.slack.com/services/"),)),
    _GOOGLE: (0, (("aiza",),)),
    _STRIPE: (0, (("k_", "whsec_"),)),
    _SK: (0, (("sk-",),)),
    _REGISTRY: (0, (("npm_", "pypi-"),)),
    _HEADER: (0, (("bearer", "basic", "token"),)),
    _URL: (0, (("://",), ("@",))),
    _NETLOC: (0, ((":",), ("@",))),
    _QUERY: (0, (("?", "&"), ("=",), ("pass", "pwd", "secret", "token", "key", "auth"))),
    _ASSIGNED: (0, (("pass", "pwd", "secret", "token", "key", "auth"), ("=", ":"))),
}
# Long texts take another road (``Compiled._long_spans``): there a substring test scans the
# whole text (tens of microseconds per 100 KB each), so fewer are made, the cheapest first.
_LONG_TEXT: Final = 1024
# Gates on a long text, checked in order, each a necessary condition of its pattern as those
# of ``_GATES`` are: a group of one-character needles (found with ``memchr``, case does not
# matter for them) is tested against the text itself, any other against the case-folded text;
# results are shared by the patterns of one text. ``None``: no gate, the pattern starts with a
# literal, so the engine skips from one occurrence to the next faster than a substring test.
# SSN and CARD are gated on the shape of their digits instead (``_DIGIT_CLASSES``).
_LONG_GATES: Final[dict[str, tuple[tuple[str, ...], ...] | None]] = {
    _JWT: None,
    _PEM: None,
    _AWS: None,
    _GITHUB: None,
    _GITLAB: None,
    _GOOGLE: None,
    _SK: None,
    _SLACK: (("-", "/"), ("xox", "hooks.slack.com/services/")),
    _STRIPE: (("_",), ("k_", "whsec_")),
    _REGISTRY: (("_", "-"), ("npm_", "pypi-")),
    _HEADER: (("bearer", "basic", "token"),),
    _URL: (("@",), ("://",)),
    _NETLOC: None,
    _QUERY: (("=",), ("?", "&"), ("pass", "pwd", "secret", "token", "key", "auth")),
    _ASSIGNED: (("=", ":"), ("pass", "pwd", "secret", "token", "key", "auth")),
}
# Each byte of a text's UTF-8 form by what the digit patterns care about: "0" an ASCII digit,
# "s" an ASCII card or SSN separator, "u" a byte of a non-ASCII character (the other card
# separators among them), "x" anything else. One translation, then a few substring tests tell
# whether an SSN or a card can be there at all, so 100 KB of one kind of digit run does not
# also pay for the other pattern's scan.
_DIGIT_CLASSES: Final = bytes(
    ord("0")
    if 48 <= byte <= 57
    else ord("s")
    if byte in b" .-"
    else ord("u")
    if byte >= 128
    else ord("x")
    for byte in range(256)
)

# SSNs written with spaces or dashes, told apart in a text's bytes: ``_DIGIT_CLASSES`` would
# mix them with the other separators.
_SSN_CLASSES: Final = bytes(
    ord("0") if 48 <= byte <= 57 else byte if byte in b" -" else ord("x") for byte in range(256)
)
# The dashed form of ``_SSN`` alone, found from its first dash: in a long text without a spaced
# SSN, an attempt at each "-" rather than at each digit (an SSN-dense text is mostly digits, and
# an attempt costs the same whether it fails at once or not). A match starts at that dash; the
# SSN starts at group 1, the three digits before it, captured by the look-behind. Dashed SSNs
# need no check (``_valid_ssn``), and they never overlap one another, so these are exactly the
# dashed matches of ``_SSN``.
_SSN_DASHED: Final = r"-(?<=(?<![0-9])([0-9]{3})-)[0-9]{2}-[0-9]{4}(?![0-9])"

_CLEAN_CACHE_SIZE: Final = 4096
_CLEAN_CACHE_LENGTH: Final = 256
#: An e-mail address; not in :data:`PII_PATTERNS` by default (see there).
EMAIL_PATTERN: Final = r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b"
MASK: Final = "[FILTERED: pii]"

# Card numbers as ints: issuer prefixes (IIN ranges) keep ids and ns timestamps from matching.
# This and _ODD_DIGIT_CLASS are compiled on first use (``_card_int``, ``odd_digits``): compiling
# them costs a capturing process's start-up ~0.8 ms, and a process may never filter.
_CARD_INT: Final = (
    r"^(?:4\d{12}(?:\d{3}){0,2}|5[1-5]\d{14}|2(?:2[2-9]|[3-6]\d|7[01])\d{13}|2720\d{12}"
    r"|3[47]\d{13}|3(?:0[0-5]|[68]\d)\d{11,16}|6(?:011|5\d\d|4[4-9]\d)\d{12,15}"
    r"|35(?:2[89]|[3-8]\d)\d{12,15}|62\d{14,17}|(?:5[06-9]|6\d)\d{10,17})$"
)


@functools.cache
def _card_int() -> re.Pattern[str]:
    return re.compile(_CARD_INT)


# What doubling adds to a digit, mod 10 (2d or 2d - 9, minus d): the Luhn sum is the sum of
# all digits plus this for every second digit from the right.
_DOUBLING: Final = bytes.maketrans(b"0123456789", bytes([0, 1, 2, 3, 4, 6, 7, 8, 9, 0]))
_NOT_DIGITS: Final = re.compile(r"[^0-9]+")


def _luhn(digits: str) -> bool:
    # Bytes arithmetic instead of a loop per digit, and no reversed copy: the doubled digits are
    # those at an index of the length's parity. Each byte of ``data`` is 48 + its digit.
    data = digits.encode("ascii")
    size = len(data)
    return (sum(data) + sum(data[size & 1 :: 2].translate(_DOUBLING)) - 48 * size) % 10 == 0


def _valid_card(text: str) -> bool:
    """Whether a card-shaped run of digits (a ``CARD`` match) is a Luhn-valid card number.

    The run without its short last group is tried too, so a CVV written after the number
    ("4111 1111 1111 1111 123") does not hide it. Dots separate groups only when they separate
    them all (``4111.1111.1111.1111``), never next to spaces or dashes ("1.5 4111 1111").
    """
    digits = text.replace(" ", "")
    if digits.isdigit():  # the usual forms first, without a regex
        dots: list[bool] = []
    else:
        digits = _NOT_DIGITS.sub("", text)
        dots = ["." in part for part in _NOT_DIGITS.findall(text)] if "." in text else []
    if 13 <= len(digits) <= 19 and _luhn(digits) and _same(dots):
        return True
    last = len(text) - len(text.rstrip("0123456789"))  # the digits of the last group
    size = len(digits) - last
    return last <= 3 and 13 <= size <= 19 and _luhn(digits[:size]) and _same(dots[:-1])


def _same(flags: list[bool]) -> bool:
    return all(flags) or not any(flags)


def _valid_ssn(text: str) -> bool:
    """Whether an ``_SSN`` match is a possible SSN: with spaces, only one that could be issued."""
    if "-" in text:
        return True
    area, group, serial = text.split()
    return area not in ("000", "666") and area[0] != "9" and group != "00" and serial != "0000"


_VALIDATORS: Final[dict[str, Callable[[str], bool]]] = {CARD: _valid_card, _SSN: _valid_ssn}
# Gated on the shape of their digits in long texts (``Compiled._long_spans``).
_SSN_SHAPE: Final = 1
_CARD_SHAPE: Final = 2
_SHAPES: Final = {_SSN: _SSN_SHAPE, CARD: _CARD_SHAPE}


#: Card numbers have at most 19 digits: a larger int is none, and is never turned into digits
#: (which costs time quadratic in its size, or raises past ``sys.get_int_max_str_digits()``).
_CARD_INT_MAX: Final = 10**19


def is_card_int(value: int) -> bool:
    """Whether an int is a payment card number (issuer prefix, length and Luhn check)."""
    if not -_CARD_INT_MAX < value < _CARD_INT_MAX:
        return False
    digits = str(abs(value))
    return _card_int().match(digits) is not None and _luhn(digits)


def is_card_decimal(value: decimal.Decimal) -> bool:
    """Whether a ``Decimal`` holds a whole payment card number (``Decimal("4111111111111111")``)."""
    # adjusted() first: int() of Decimal("1E+999999") would build a million-digit int.
    return (
        value.is_finite()
        and 12 <= value.adjusted() <= 18
        and value == value.to_integral_value()
        and is_card_int(int(value))
    )


# The zero of every Unicode block of decimal digits beyond ASCII (each block is 0-9 in order;
# from unicodedata, category Nd). A card number typed in fullwidth (U+FF14 U+FF11...) or in
# Arabic-Indic digits is the same number: they are read as ASCII digits, one character for
# one, so the spans found still index the original text.
_DIGIT_ZEROS: Final = (
    0x660, 0x6F0, 0x7C0, 0x966, 0x9E6, 0xA66, 0xAE6, 0xB66, 0xBE6, 0xC66, 0xCE6, 0xD66, 0xDE6,
    0xE50, 0xED0, 0xF20, 0x1040, 0x1090, 0x17E0, 0x1810, 0x1946, 0x19D0, 0x1A80, 0x1A90,
    0x1B50, 0x1BB0, 0x1C40, 0x1C50, 0xA620, 0xA8D0, 0xA900, 0xA9D0, 0xA9F0, 0xAA50, 0xABF0,
    0xFF10, 0x104A0, 0x10D30, 0x11066, 0x110F0, 0x11136, 0x111D0, 0x112F0, 0x11450, 0x114D0,
    0x11650, 0x116C0, 0x11730, 0x118E0, 0x11950, 0x11C50, 0x11D50, 0x11DA0, 0x16A60, 0x16AC0,
    0x16B50, 0x1D7CE, 0x1D7D8, 0x1D7E2, 0x1D7EC, 0x1D7F6, 0x1E140, 0x1E2F0, 0x1E950, 0x1FBF0,
)  # fmt: skip
_DIGIT_TABLE: Final[dict[int, int | str]] = {
    **{zero + step: 48 + step for zero in _DIGIT_ZEROS for step in range(10)},
    0x3000: " ",  # ideographic space, fullwidth hyphen and full stop: card separators
    0xFF0D: "-",
    0xFF0E: ".",
}
# Whether a text has such digits: the BMP blocks exactly, and the astral ones as one range
# that leaves out emoji (a class of 65 ranges scans ten times slower than this one).
_ODD_DIGIT_CLASS: Final = (
    "["
    + "".join(f"{chr(zero)}-{chr(zero + 9)}" for zero in _DIGIT_ZEROS if zero < 0x10000)
    + "\U000104a0-\U0001e959\U0001fbf0-\U0001fbf9]"
)


@functools.cache
def odd_digits() -> re.Pattern[str]:
    """:data:`_ODD_DIGIT_CLASS` compiled (see ``_card_int``); a filter holds it from its start."""
    return re.compile(_ODD_DIGIT_CLASS)


# The zero of the block of each such digit; the separators the table maps too.
_ZERO_OF: Final = {zero + step: zero for zero in _DIGIT_ZEROS for step in range(10)}
_WIDE_SEPARATORS: Final = (("\u3000", " "), ("\uff0d", "-"), ("\uff0e", "."))
# Past this many blocks (or characters of the astral range that are not digits), one
# ``translate`` of the whole text is cheaper than going on block by block.
_MAX_BLOCKS: Final = 32


def _ascii_digits(text: str, first: re.Match[str]) -> str:
    """``text.translate(_DIGIT_TABLE)``, the same string, sooner.

    ``first`` is the first match of :func:`odd_digits`. ``str.translate`` with a dict costs about
    40 ns a character (4 ms for 100 KB); a text uses digits of one or two scripts, so ten
    ``str.replace`` per block found (a few microseconds each) do the same work.
    """
    position = first.start()
    for _ in range(_MAX_BLOCKS):
        zero = _ZERO_OF.get(ord(text[position]))
        if zero is not None:
            for step in range(10):
                text = text.replace(chr(zero + step), chr(48 + step))
        match = first.re.search(text, position + 1)
        if match is None:
            for wide, narrow in _WIDE_SEPARATORS:
                text = text.replace(wide, narrow)
            return text
        position = match.start()
    return text.translate(_DIGIT_TABLE)
