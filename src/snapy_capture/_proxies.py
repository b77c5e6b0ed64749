"""The wrapt proxies a captured function is replaced by: they pickle and copy like functions.

A plain wrapt proxy refuses to pickle, which would break code that hands a captured function
to multiprocessing; pickle stores functions by reference, and so do these.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, SupportsIndex

import wrapt

if TYPE_CHECKING:
    from ._pipeline import CaptureSite

__all__ = ["CaptureWrapper"]


class _BoundCaptureWrapper(wrapt.BoundFunctionWrapper):  # type: ignore[type-arg]
    """A captured method bound to its instance; pickles as ``getattr(instance, name)``."""

    def __reduce_ex__(self, protocol: SupportsIndex) -> tuple[Any, ...]:
        return (getattr, (self._self_instance, self.__name__))

    def __copy__(self) -> _BoundCaptureWrapper:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> _BoundCaptureWrapper:
        return self


class CaptureWrapper(wrapt.FunctionWrapper):  # type: ignore[type-arg]
    """A wrapt proxy that captures calls; pickles and copies like the function it wraps."""

    __bound_function_wrapper__ = _BoundCaptureWrapper
    _self_capture_site: CaptureSite

    def __reduce_ex__(self, protocol: SupportsIndex) -> str:
        # A string means "the global of that name in __module__": resolves to this wrapper.
        return str(self.__qualname__)

    def __copy__(self) -> CaptureWrapper:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> CaptureWrapper:
        return self
