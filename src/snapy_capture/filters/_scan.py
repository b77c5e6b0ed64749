"""Scanning text for secret shapes: the default patterns' gates, the long-text fast paths.

A :class:`Compiled` holds one filter's patterns compiled, with the caches that make repeated
values cheap; :mod:`._pii` defines the patterns and checks it runs.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from itertools import compress, repeat

from snapy_capture.filters._pii import (
    _ASSIGNED,
    _CLEAN_CACHE_LENGTH,
    _CLEAN_CACHE_SIZE,
    _DIGIT_CLASSES,
    _GATES,
    _LONG_GATES,
    _LONG_TEXT,
    _SHAPES,
    _SSN_CLASSES,
    _SSN_DASHED,
    _SSN_SHAPE,
    _VALIDATORS,
    MASK,
    _ascii_digits,
    odd_digits,
)

TYPE_CHECKING = False  # not typing's: see snapy_capture._stdtypes
if TYPE_CHECKING:
    from typing import Final

__all__ = ["Compiled"]

# Called through ``map``: a loop in C rather than bytecode per match (thousands of them in a
# text dense with secrets).
_GROUP: Final = re.Match.group
_SPAN: Final = re.Match.span
_START: Final = re.Match.start
_END: Final = re.Match.end
_SSN_DASHED_RE: Final = re.compile(_SSN_DASHED)


class Compiled:
    """The compiled form of one ``pii_patterns`` list (a new list gets a new one, swapped in
    atomically); only its caches change."""

    __slots__ = ("clean", "each", "held", "key", "long", "odd")

    def __init__(self, key: tuple[str, ...]) -> None:
        self.key = key
        self.each = [(re.compile(p), _VALIDATORS.get(p), _GATES.get(p)) for p in key]
        self.odd = odd_digits()
        self.long = [
            (regex, valid, _SHAPES.get(pattern, 0), _LONG_GATES.get(pattern))
            for pattern, (regex, valid, _gate) in zip(key, self.each, strict=True)
        ]
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
        if type(text) is not str:
            # A subclass's own __hash__ and __eq__ would answer the lookups below (one equal
            # to a clean string would pass unscanned): its text, as an exact str, is scanned.
            text = str.__str__(text)
        clean = self.clean
        if text in clean:
            return []
        held = self.held
        if held is not None and held[0] is text:  # the same object: the same spans
            return list(held[1])
        original = text
        if not text.isascii():
            odd = self.odd.search(text)
            if odd is not None:
                text = _ascii_digits(text, odd)  # one character for one: same offsets
        if len(text) >= _LONG_TEXT:  # longer than the cache's strings: nothing to cache
            return self._long_spans(text)
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
        if not found and len(original) <= _CLEAN_CACHE_LENGTH:
            if len(clean) >= _CLEAN_CACHE_SIZE:
                clean.clear()
            clean[original] = None
        return found

    def _long_spans(self, text: str) -> list[tuple[int, int]]:
        """What the loop of :meth:`spans` finds, for a long text: the same spans, with fewer
        whole-text scans (see ``_LONG_GATES``), SSNs found from their dashes when none is
        written with spaces (``_SSN_DASHED``), and each distinct card candidate checked once
        however often it repeats."""
        folded: str | None = None
        seen: dict[str, bool] = {}
        data = b""
        classes = b""
        digits = -1
        found: list[tuple[int, int]] = []
        for regex, valid, shape, gate in self.long:
            if shape:
                if digits < 0:
                    data = text.encode("utf-8", "surrogatepass")
                    classes = data.translate(_DIGIT_CLASSES)
                    digits = classes.count(b"0")
                if shape == _SSN_SHAPE:
                    if digits < 9 or b"000s00s0000" not in classes:
                        continue
                    separators = data.translate(_SSN_CLASSES)
                    if b"000 00 0000" not in separators:
                        if b"000-00-0000" in separators:
                            found.extend(_dashed_ssns(text))
                        continue
                elif digits < 13 or not (
                    b"0000s0000" in classes
                    or b"0000ss0000" in classes
                    or b"0000000000000" in classes
                    # Only a non-ASCII text has "u" bytes (each test scans the whole text).
                    or (len(data) != len(text) and (b"0000u" in classes or b"u0000" in classes))
                ):
                    continue
            elif gate is not None:
                passed = True
                for group in gate:
                    for needle in group:
                        hit = seen.get(needle)
                        if hit is None:
                            if len(needle) == 1:  # punctuation: the same in the folded text
                                hit = needle in text
                                if needle == ":" and hit and regex.pattern == _ASSIGNED:
                                    hit = _colon_outside_masks(text)
                                else:
                                    seen[needle] = hit
                            else:
                                if folded is None:
                                    folded = text.casefold()
                                hit = seen[needle] = needle in folded
                        if hit:
                            break
                    else:
                        passed = False
                        break
                if not passed:
                    continue
            if valid is None:
                found.extend(
                    match.span() for match in regex.finditer(text) if match.end() > match.start()
                )
                continue
            found.extend(_checked(regex, valid, text))
        return found


def _dashed_ssns(text: str) -> list[tuple[int, int]]:
    """The spans of ``_SSN`` in a text without spaced SSNs (see ``_SSN_DASHED``)."""
    # From the start of the digits before the dash (group 1); no check needed.
    matches = list(_SSN_DASHED_RE.finditer(text))
    return list(zip(map(_START, matches, repeat(1)), map(_END, matches), strict=True))


def _checked(
    regex: re.Pattern[str], valid: Callable[[str], bool], text: str
) -> Iterable[tuple[int, int]]:
    """The spans of the matches ``valid`` accepts (card and SSN candidates, never empty).

    Each distinct candidate is checked once per text (the dict dies with the call: no secret
    is kept), and the spans are taken in C loops: a text dense with secrets has thousands.
    """
    matches = list(regex.finditer(text))
    if not matches:
        return ()
    candidates = list(map(_GROUP, matches))
    verdicts = {candidate: valid(candidate) for candidate in set(candidates)}
    if all(verdicts.values()):
        return map(_SPAN, matches)
    return compress(map(_SPAN, matches), map(verdicts.__getitem__, candidates))


def _colon_outside_masks(text: str) -> bool:
    """Whether ``text`` has a ":" that is not the one inside a :data:`MASK`.

    ``_ASSIGNED`` needs a "=" or ":" after a secret-sounding name and the rest of its key; the
    colon of a mask follows "[FILTERED", which holds no such name and is cut from anything
    before it by the "[". So a text masked already (the fail-closed check of every masked
    value scans it again) skips ``_ASSIGNED``'s name search unless it has another colon.
    """
    return text.count(":") > text.count(MASK)
