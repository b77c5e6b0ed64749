"""Differential check of the default secret filter: ``Compiled.spans`` against a reference.

The reference is what the filter is specified to find: every default pattern run with
``finditer`` over the whole text (Unicode digits made ASCII first), each card and SSN candidate
checked, no gate, no shortcut. ``Compiled`` skips patterns that cannot match and takes another
road for long texts; neither may change a single span. With ``--old DIR`` the spans are also
compared with those of another version's ``Compiled``: DIR holds its ``_pii.py`` and, since
the scanner has its own module, its ``_scan.py`` (e.g. ``git show REV:src/snapy_capture/
filters/_scan.py``), which is loaded against that ``_pii.py``. The older single-module layout
(a ``_pii.py`` defining ``Compiled``) is read as well.

    python -m benchmarks.pii_differential [count] [--old DIR]
"""

from __future__ import annotations

import importlib.util
import os
import random
import re
import sys
from collections.abc import Callable
from types import ModuleType

from snapy_capture.filters import ArgumentFilter, _pii
from snapy_capture.filters._pii import PII_PATTERNS
from snapy_capture.filters._scan import Compiled

#: What secrets, their look-alikes and the patterns' own pieces are made of.
PIECES = [
    *"aZ1409 -_.:=@/?&#\"'\n+",
    "  ",
    "://",
    "auth",
    "pass",
    "password",
    "Password",
    "token",
    "secret",
    "api_key",
    "bearer ",
    "Basic ",
    "eyJ",
    "AKIA",
    "ghp_",
    "github_pat_",
    "glpat-",
    "xoxb-",
    "AIza",
    "sk_live_",
    "whsec_",
    "sk-",
    "npm_",
    "pypi-",
    "-----BEGIN ",
    "PRIVATE KEY",
    "-----",
    "-----END ",
    "hooks.slack.com/services/",
    "4111",
    "1111",
    "4111 1111 1111 1111",
    "4111111111111111",
    "5500-0000-0000-0004",
    "123",
    "45",
    "6789",
    "219 09 9999",
    "123-45-6789",
    "abcdefghijklmnop",
    "A1b2C3d4E5f6G7h8I9j0",
    "\uff11",
    "\uff14\uff11\uff11\uff11",
    "\u0661",
    "\u3000",
    "\uff0d",
    "\u00a0",
    "\u2013",
    "\u00e9",
    "\u212a",
    "\U00010500",
    "\U0001d7ce",
    # Whole secrets, so that long texts hold matches of every pattern too.
    "postgresql://admin:Ab3/x+Yz9Q@db/app",
    "https://u:p@h/",
    "http://host:8080/x",
    "password=hunter22",
    '"api_key": "k 1"',
    "db_pass: x",
    "?pass=x&",
    "&access_token=t",
    "Bearer abcdefghijklmnop",
    "token abc.def.ghi.jkl",
    "eyJhbGciOi.eyJzdWIiOi.sig",
    "-----BEGIN RSA PRIVATE KEY-----\nMIIB\n-----END RSA PRIVATE KEY-----",
    "AKIAIOSFODNN7EXAMPLE",
    "ghp_A1b2C3d4E5A1b2C3d4E5A1b2C3d4E5",
    "sk_live_abcdefghijklmnop",
    "xoxb-123456789012-abc",
    "AIzaSyB" + "B" * 32,
    "4111  1111  1111  1111",
    "4111\u00a01111\u00a01111\u00a01111",
    "4111 \u20131111 1111 1111",
    "4111\u2013 1111 1111 1111",
    "4111.1111.1111.1111 123",
    "\uff14\uff11\uff11\uff11\u3000\uff11\uff11\uff11\uff11\u3000\uff11\uff11\uff11\uff11\u3000\uff11\uff11\uff11\uff11",
    # Dense secrets side by side (dashed and spaced SSNs, cards with a CVV), and masks: a
    # masked text is scanned again, where a mask's colon must not pass for an assignment's.
    "4111 1111 1111 1111 123-45-6789 ",
    "123-45-6789-",
    "0123-45-6789",
    "123-45-67890",
    "123 45 6789 ",
    "[FILTERED: pii]",
    "[FILTERED: pii]:",
    "token[FILTERED: pii]",
    "-----END RSA PRIVATE KEY-----4111111111111111",
]


def reference(text: str) -> list[tuple[int, int]]:
    """Every default pattern over the whole text, its candidates checked: the specification."""
    if not text.isascii() and _pii.odd_digits().search(text) is not None:
        text = text.translate(_pii._DIGIT_TABLE)
    found: list[tuple[int, int]] = []
    for pattern in PII_PATTERNS:
        valid = _pii._VALIDATORS.get(pattern)
        found.extend(
            match.span()
            for match in re.finditer(pattern, text)
            if match.end() > match.start() and (valid is None or valid(match.group(0)))
        )
    return found


def reference_mask(text: str) -> str:
    """The text with the reference spans masked, overlapping or touching ones as one mask."""
    parts = []
    position = -1
    for start, end in sorted(reference(text)):
        if start <= position:
            position = max(position, end)
            continue
        parts.append(text[max(position, 0) : start])
        parts.append(_pii.MASK)
        position = end
    parts.append(text[position:])
    return "".join(parts) if position >= 0 else text


def generate(rng: random.Random) -> str:
    """A text of pieces; one in three padded past the long-text threshold."""
    text = "".join(rng.choice(PIECES) for _ in range(rng.randint(0, 40)))
    if rng.random() < 0.34:
        filler = "".join(rng.choice(PIECES) for _ in range(rng.randint(1, 6)))
        size = rng.randint(_pii._LONG_TEXT, 3 * _pii._LONG_TEXT)
        head = rng.randint(0, size)
        text = filler * (head // len(filler)) + text + filler * ((size - head) // len(filler))
    return text


def _load(path: str, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_old(directory: str) -> ModuleType:
    """The module holding the other version's ``Compiled`` and ``PII_PATTERNS``."""
    old_pii = _load(os.path.join(directory, "_pii.py"), "_pii_other")
    scan = os.path.join(directory, "_scan.py")
    if hasattr(old_pii, "Compiled") or not os.path.exists(scan):
        return old_pii
    # The old scanner imports the patterns by their package name: it gets the old ones.
    key = "snapy_capture.filters._pii"
    current = sys.modules[key]
    sys.modules[key] = old_pii
    try:
        old_scan = _load(scan, "_scan_other")
    finally:
        sys.modules[key] = current
    old_scan.PII_PATTERNS = old_pii.PII_PATTERNS  # type: ignore[attr-defined]
    return old_scan


def differences(
    count: int, seed: int = 0, other: Callable[[str], list[tuple[int, int]]] | None = None
) -> list[str]:
    """Texts on which ``Compiled.spans`` (and ``other``, if given) disagree with the reference,
    or ``ArgumentFilter.mask_pii`` with the reference spans masked."""
    rng = random.Random(seed)
    compiled = Compiled(tuple(PII_PATTERNS))
    flt = ArgumentFilter()
    found = []
    for _ in range(count):
        text = generate(rng)
        expected = sorted(reference(text))
        ours = sorted(compiled.spans(text))
        theirs = expected if other is None else sorted(other(text))
        if ours != expected or theirs != expected or flt.mask_pii(text) != reference_mask(text):
            found.append(text)
    return found


def main(argv: list[str]) -> int:
    count = int(argv[0]) if argv and not argv[0].startswith("-") else 200_000
    other = None
    if "--old" in argv:
        old = load_old(argv[argv.index("--old") + 1])
        other = old.Compiled(tuple(old.PII_PATTERNS)).spans
    bad = differences(count, other=other)
    for text in bad[:10]:
        print(repr(text[:300]))
    print(f"{count} texts, {len(bad)} differences")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
