"""The storage contract: what :class:`~snapy_capture.storage.CaptureStorage` asks of the place
its captures live. Two backends implement it: a local directory (:mod:`._local`) and an
object store reached through fsspec (:mod:`._objectstore`); the path chooses
(:func:`open_backend`). Everything above (the codec, signing, the loader, the CLI, the
pytest plugin) goes through this contract and never asks which backend it has.

The promises every backend keeps (the contract tests in ``tests/storage/test_contract.py``
hold each backend to them):

- a written capture is whole or absent for every reader (no partial capture is ever read);
- :meth:`Backend.captures` lists a function's captures newest first, in the one order every
  reader agrees on, and finds the newest without listing them all;
- two writers never overwrite each other's capture; retention keeps the newest ``N`` (exactly
  ``N`` once writers stop);
- a signed capture carries its function and its place (a number, or a remote key's id), and
  verifies only there.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator

from snapy_capture.errors import CaptureFormatError
from snapy_capture.storage._envelope import Signer
from snapy_capture.storage._layout import CaptureRef, FunctionInfo

TYPE_CHECKING = False  # not typing's: see snapy_capture._stdtypes
if TYPE_CHECKING:
    from typing import Any

    from snapy_capture.storage._objpath import StoredPath
else:  # for typing.get_type_hints of the public names (see there)
    from snapy_capture._stdtypes import for_readers

    for_readers(
        globals(),
        {
            "Any": "typing:Any",
            "StoredPath": "snapy_capture.storage._objpath:StoredPath",
        },
    )

__all__ = ["Backend"]


class Backend(ABC):
    """Where one storage root's captures live (see the module)."""

    #: The storage root, as the layers above show it.
    root: StoredPath
    #: Writes go over a network: the capture layer always writes them in the background.
    remote: bool = False
    #: The lock of the backend's own bookkeeping: fork-safe (released in a fork child).
    _guard: Any

    @property
    def root_name(self) -> str:
        """The storage root as text (as ``written_roots()`` lists it)."""
        return str(self.root)

    @abstractmethod
    def write(
        self,
        module: str,
        qualname: str,
        data: bytes,
        *,
        signer: Signer | None,
        retention: int | None,
        max_age: float | None,
        dedupe: bool = False,
    ) -> str:
        """Store one capture's bytes (signed by ``signer`` for its place), then apply
        retention; returns where it was stored. ``dedupe``: a capture of content already
        kept counts on that one instead (where the backend can tell: see each backend)."""

    @abstractmethod
    def function(self, module: str, qualname: str) -> FunctionInfo:
        """The function ``module:qualname`` under this root (whether it has captures or not)."""

    @abstractmethod
    def functions(self) -> list[FunctionInfo]:
        """Every function with captures (or a capture directory) under this root."""

    @abstractmethod
    def captures(self, info: FunctionInfo) -> Iterator[CaptureRef]:
        """The captures of one function, newest first, found lazily."""

    @abstractmethod
    def read_bytes(
        self, path: Any, function: str | None
    ) -> tuple[bytes, str | None, int | str | None]:
        """The bytes of one capture, the function it belongs to (``function`` when given)
        and its place (what its signature binds), ``None`` for either when not known.

        Raises:
            CaptureFormatError: the capture cannot be read (one line saying why).
        """

    def calls(self, path: Any, data: bytes) -> tuple[int, float] | None:
        """``(calls, last seen)`` of a deduplicated capture (path, file bytes), or ``None``:
        not deduplicated (one call), or not known here."""
        del path, data
        return None

    @abstractmethod
    def stored_files(self, info: FunctionInfo) -> list[StoredPath]:
        """Captures and temporary files of one function, in no order."""

    @abstractmethod
    def prune(self, retention: int | None, max_age: float | None) -> int:
        """Apply retention and max-age to every function now; the number of files removed."""

    @abstractmethod
    def clear(self, info: FunctionInfo) -> int:
        """Delete every capture of one function; the number removed."""

    def replace_files(self, info: FunctionInfo, changes: list[tuple[StoredPath, bytes]]) -> None:
        """Replace the bytes of existing capture files of ``info``, each atomically
        (``snapy-capture migrate``). Not every backend can."""
        raise CaptureFormatError(f"captures in {type(self).__name__} cannot be rewritten in place")
