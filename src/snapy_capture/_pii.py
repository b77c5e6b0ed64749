"""Secret-shaped values: the default patterns, their fast gates, card checks, masking."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Final

__all__ = ["EMAIL_PATTERN", "MASK", "PII_PATTERNS", "Compiled", "is_card_int"]

# Both start with a plain digit (the look-behind comes after it) so the regex engine can skip
# ahead to the next digit instead of trying the look-behind at every position.
CARD: Final = r"[0-9](?<![0-9-][0-9])(?:[ -]?[0-9]){12,18}(?![0-9-])"
_SSN: Final = r"[0-9](?<![0-9][0-9])[0-9]{2}-[0-9]{2}-[0-9]{4}(?![0-9])"
# Names to look for in free text ("password=..."), not a password.
_SECRET_WORDS: Final = "|".join(
    (
        "password",
        "passwd",
        "pwd",
        "secret",
        "token",
        "api[_-]?key",
        "access[_-]?key",
        "private[_-]?key",
        "client[_-]?secret",
        "auth",
    )
)
_JWT: Final = r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*"
_PEM: Final = (
    r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY[A-Z ]*-----[\s\S]*?"
    r"(?:-----END [A-Z0-9 ]*PRIVATE KEY[A-Z ]*-----|$)"
)
_AWS: Final = r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA)[0-9A-Z]{16}\b"
_GITHUB: Final = r"\bgh[pousr]_[A-Za-z0-9]{30,}|\bgithub_pat_[A-Za-z0-9_]{22,}"
_GITLAB: Final = r"\bglpat-[A-Za-z0-9_-]{20,}"
_SLACK: Final = r"\bxox[abposre]-[A-Za-z0-9-]{10,}|hooks\.slack\.com/services/[A-Za-z0-9/]+"
_GOOGLE: Final = r"\bAIza[0-9A-Za-z_-]{35}"
_STRIPE: Final = r"\b(?:[sr]k|whsec)_(?:live_|test_)?[0-9A-Za-z]{16,}"
_SK: Final = r"\bsk-[A-Za-z0-9_-]{20,}"
_REGISTRY: Final = r"\bnpm_[A-Za-z0-9]{30,}|\bpypi-[A-Za-z0-9_-]{40,}"
_HEADER: Final = r"(?ai)\b(?:bearer|basic|token)\s+[A-Za-z0-9._~+/-]{12,}=*"
_URL: Final = r"(?<=://)[^/\s:@]{0,256}:[^/\s@]{1,256}(?=@)"
_ASSIGNED: Final = rf"(?ai)(?:{_SECRET_WORDS})[\w-]*[\"']?\s*[=:]\s*[\"']?[^\s\"'&;,]{{3,}}"
#: Default value patterns: secrets and payment data, not ordinary PII such as e-mail addresses
#: (masking those by default would break the replay of most user-facing functions; add
#: :data:`EMAIL_PATTERN` to ``pii_patterns`` to mask them too).
PII_PATTERNS: Final[list[str]] = [
    _SSN,  # US social security number
    CARD,  # payment card numbers, 13-19 digits, with or without spaces/dashes, Luhn-checked
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
    _ASSIGNED,  # password=..., "api_key": "...": the value after a secret-sounding name
]
# Cheap necessary conditions of the default patterns, so that most strings are cleared by a
# few substring tests instead of fifteen regex scans: (minimum ASCII digits, groups of needles
# of which one each must occur in the case-folded string). A pattern that can match a string
# must pass its gate (tests/test_filters.py checks this on generated strings).
_GATES: Final[dict[str, tuple[int, tuple[tuple[str, ...], ...]]]] = {
    _SSN: (9, (("-",),)),
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
    _ASSIGNED: (0, (("password", "passwd", "pwd", "secret", "token", "key", "auth"), ("=", ":"))),
}
_CLEAN_CACHE_SIZE: Final = 4096
_CLEAN_CACHE_LENGTH: Final = 256
#: An e-mail address; not in :data:`PII_PATTERNS` by default (see there).
EMAIL_PATTERN: Final = r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b"
MASK: Final = "[FILTERED: pii]"

# Card numbers as ints: issuer prefixes (IIN ranges) keep ids and ns timestamps from matching.
CARD_INT: Final = re.compile(
    r"^(?:4\d{12}(?:\d{3}){0,2}|5[1-5]\d{14}|2(?:2[2-9]|[3-6]\d|7[01])\d{13}|2720\d{12}"
    r"|3[47]\d{13}|3(?:0[0-5]|[68]\d)\d{11,16}|6(?:011|5\d\d|4[4-9]\d)\d{12,15}"
    r"|35(?:2[89]|[3-8]\d)\d{12,15}|62\d{14,17}|(?:5[06-9]|6\d)\d{10,17})$"
)


def _luhn(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        number = ord(char) - 48
        if position % 2:
            number = number * 2 - 9 if number > 4 else number * 2
        total += number
    return total % 10 == 0


def _valid_card(text: str) -> bool:
    """Whether a run of digit groups holds a Luhn-valid 13-19 digit number.

    Besides the whole run, every sub-run of whole groups is tried, so a card number next to
    a CVV or another number ("4111 1111 1111 1111 123") is still caught.
    """
    groups = re.findall(r"[0-9]+", text)
    for start in range(len(groups)):
        digits = ""
        for group in groups[start:]:
            digits += group
            if len(digits) > 19:
                break
            if len(digits) >= 13 and _luhn(digits):
                return True
    return False


_VALIDATORS: Final[dict[str, Callable[[str], bool]]] = {CARD: _valid_card}


def is_card_int(value: int) -> bool:
    """Whether an int is a payment card number (issuer prefix, length and Luhn check)."""
    digits = str(abs(value))
    return CARD_INT.match(digits) is not None and _luhn(digits)


class Compiled:
    """The compiled form of one ``pii_patterns`` list (a new list gets a new one, swapped in
    atomically); only its caches change."""

    __slots__ = ("clean", "each", "held", "key")

    def __init__(self, key: tuple[str, ...]) -> None:
        self.key = key
        self.each = [(re.compile(p), _VALIDATORS.get(p), _GATES.get(p)) for p in key]
        # Short strings found clean, so that values repeating from call to call cost one
        # lookup. Only clean strings are kept: nothing here that is not stored anyway.
        self.clean: dict[str, None] = {}
        # The spans of one string found dirty by :meth:`hold`, held only until the filtering
        # that follows releases them (never past the call), which then need no second scan.
        self.held: tuple[str, list[tuple[int, int]]] | None = None

    def hold(self, text: str) -> bool:
        """Whether ``text`` is clean; if not, its spans are held until :meth:`release`.

        Meanwhile :meth:`spans` of that very string (the same object) returns them unscanned.
        """
        found = self.spans(text)
        if found:
            self.held = (text, found)
        return not found

    def release(self) -> None:
        """Let go of the held spans (and of the string they were found in)."""
        self.held = None

    def spans(self, text: str) -> list[tuple[int, int]]:
        clean = self.clean
        if text in clean:
            return []
        held = self.held
        if held is not None and held[0] is text:  # the same object: the same spans
            return list(held[1])
        folded = text.casefold()
        digits = -1
        found: list[tuple[int, int]] = []
        for regex, valid, gate in self.each:
            if gate is not None:
                minimum, needles = gate
                if minimum:
                    if digits < 0:
                        # UTF-8 never uses the bytes of ASCII digits inside other characters.
                        data = text.encode("utf-8", "surrogatepass")
                        digits = len(data) - len(data.translate(None, b"0123456789"))
                    if digits < minimum:
                        continue
                passed = True
                for group in needles:  # plain loops: no generator per string and pattern
                    for needle in group:
                        if needle in folded:
                            break
                    else:
                        passed = False
                        break
                if not passed:
                    continue
            found.extend(
                match.span()
                for match in regex.finditer(text)
                if match.end() > match.start() and (valid is None or valid(match.group(0)))
            )
        if not found and len(text) <= _CLEAN_CACHE_LENGTH:
            if len(clean) >= _CLEAN_CACHE_SIZE:
                clean.clear()
            clean[text] = None
        return found
