"""BLAKE2b and SHA-256 for the capture layer, without importing :mod:`hashlib`.

``import hashlib`` initializes OpenSSL (its ``_hashlib`` module), ~2 ms of every capturing
process's start-up, though unsigned capturing only ever hashes with BLAKE2b (deduplication,
the snapshot cache) and SHA-256 over short names. ``hashlib.blake2b`` *is* ``_blake2.blake2b``
(hashlib never takes BLAKE2 from OpenSSL), and the built-in SHA-256 gives the same digests as
OpenSSL's; hashlib is the fallback where a build lacks them. Signing, which hashes payloads
and needs :mod:`hmac` (hence OpenSSL) anyway, imports those instead
(:func:`snapy_capture.storage._envelope.load_signing`).
"""

from __future__ import annotations

TYPE_CHECKING = False  # not typing's: this module is imported with the capture layer
if TYPE_CHECKING:
    from hashlib import blake2b, sha256
else:
    try:
        from _blake2 import blake2b
    except ImportError:  # a Python built without it: hashlib's is OpenSSL's
        from hashlib import blake2b
    import sys

    # Named by version: a module looked for and not found costs a search of sys.path.
    try:
        if sys.version_info >= (3, 12):
            from _sha2 import sha256
        else:
            from _sha256 import sha256
    except ImportError:
        from hashlib import sha256

__all__ = ["blake2b", "sha256"]
