"""What the walk and the fast path ask of a filter, as a type.

:class:`~snapy_capture.filters.ArgumentFilter` answers these questions; the traversal
(:mod:`._traverse`, :mod:`._objects`) and the fast path (:mod:`._quick`) are written against
this protocol rather than the class, which imports them.
"""

from __future__ import annotations

from collections.abc import Callable

from snapy_capture.filters._scan import Compiled

__all__ = ["CachedQuestions", "CustomFilter", "FilterQuestions"]

TYPE_CHECKING = False  # not typing's: see snapy_capture._stdtypes
if TYPE_CHECKING:  # the protocols and the alias: annotations only
    from typing import Any, Protocol, TypeAlias

    #: ``func(path, name, value)``: return ``value`` itself to keep it, anything else
    #: replaces it.
    CustomFilter: TypeAlias = Callable[[str, "str | None", Any], Any]

    class FilterQuestions(Protocol):
        """The settings and verdicts one walk over an argument reads."""

        custom_filters: list[CustomFilter]
        filter_pii: bool
        max_size: int | None
        max_depth: int

        def sensitive_pattern(self, name: str) -> str | None: ...

        def contains_pii(self, value: Any) -> bool: ...

        def mask_pii(self, value: str) -> str: ...

        def unstorable_reason(self, value: Any) -> str | None: ...

    class CachedQuestions(FilterQuestions, Protocol):
        """Also the settings and caches the fast path holds while they stay current."""

        patterns: list[str]
        ignore_args: list[str]
        allow_args: list[str]
        pii_patterns: list[str]
        filter_types: tuple[type | str, ...]

        def _name_verdicts(self) -> dict[str, str | None]: ...

        def _type_reasons(self) -> dict[type, str | None]: ...

        def _compiled_pii(self) -> Compiled: ...

        def _safe_keyword(self, key: str, report: list[dict[str, str]]) -> str: ...


def __getattr__(name: str) -> object:  # PEP 562
    # ``CustomFilter`` at run time (public: ``snapy_capture.filters.CustomFilter``), made
    # where first asked for: it names typing's ``Any``, and typing costs a capturing process
    # ~2.5 ms of start-up (issue 21).
    if name == "CustomFilter":
        from typing import Any  # noqa: PLC0415

        alias = globals()["CustomFilter"] = Callable[[str, "str | None", Any], Any]
        return alias
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
