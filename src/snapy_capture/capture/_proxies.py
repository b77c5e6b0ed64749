"""The wrapt proxies a captured function is replaced by: they pickle and copy like functions.

A plain wrapt proxy refuses to pickle, which would break code that hands a captured function
to multiprocessing; pickle stores functions by reference, and so do these.

:func:`proxy` also spares plain functions a cost wrapt adds to every call: a wrapper whose
binding is ``"function"`` looks up ``wrapped.__self__`` on each call made without an
instance (it supports wrapping a function that is already a bound method). A plain function
has no ``__self__``, so the lookup always fails, and a failed attribute lookup formats an
AttributeError: most of what a wrapt pass-through adds to a call, and a large part of the
caller's whole cost of an async capture. Functions that are not
defined in a class body are therefore wrapped, with wrapt's C extension, with a binding its
call does not probe. Everything else still sees ``"function"``: the ``_self_binding``
attribute that wrapt's Python code, outer wrappers (``wrapt.lru_cache`` of our proxy...) and
users read, and the bound proxy made when one is bound as a method (assigned to a class
attribute), which therefore binds and calls exactly as wrapt would have. (One difference is
left: wrapt passes a function's ``__self__`` attribute as the instance, these do not. A
function object is never given that attribute as an argument, so it is no receiver to capture:
networkx sets it on every algorithm, and the capture took the dispatcher for ``self``.)
"""

from __future__ import annotations

import functools
import linecache
import types
from collections.abc import Callable

from snapy_capture.filters._objects import reduces_to_getattr

TYPE_CHECKING = False  # not typing's: see snapy_capture._stdtypes
if TYPE_CHECKING:
    from typing import Any, Final, SupportsIndex, TypeVar

    import wrapt

    F = TypeVar("F", bound=Callable[..., Any])
else:  # the package, or its C extension alone (the import hook's start-up, issue 21)
    from snapy_capture._wrapt import wrapt_types

    wrapt = wrapt_types()

__all__ = ["CaptureWrapper", "hide_frame", "proxy"]

#: The binding of :class:`_PlainCaptureWrapper` in wrapt's C field: one that wrapt's call does
#: not probe for ``__self__`` and its ``__get__`` binds like any descriptor.
_UNPROBED: Final = "snapy_capture:function"

#: Whether the binding is a field of wrapt's C extension, which its call reads directly (the
#: pure-Python wrapt reads the attribute, which ``_PlainCaptureWrapper`` reports as "function").
_C_BINDING: Final = isinstance(
    vars(wrapt.FunctionWrapper.__base__).get("_self_binding"), types.GetSetDescriptorType
)

#: The initializer shared by wrapt's function wrappers, bound and unbound: ``(wrapped,
#: instance, wrapper, enabled, binding, parent=None, owner=None)``. ``Any``: wrapt's inferred
#: types stop at ObjectProxy's one-argument ``__init__``.
_init_function_wrapper: Any = vars(wrapt.FunctionWrapper.__base__)["__init__"]


class _BoundCaptureWrapper(wrapt.BoundFunctionWrapper):  # type: ignore[type-arg]
    """A captured method bound to its instance; pickles as ``getattr(instance, name)``."""

    def __reduce_ex__(self, protocol: SupportsIndex) -> tuple[Any, ...]:
        return (getattr, (self._self_instance, self.__name__))

    def __copy__(self) -> _BoundCaptureWrapper:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> _BoundCaptureWrapper:
        return self


class CaptureWrapper(wrapt.FunctionWrapper):  # type: ignore[type-arg]
    """A wrapt proxy that captures calls; pickles and copies like the function it wraps.

    (No annotated attribute in these class bodies: a class's own ``__annotations__`` would
    hide the proxy's, which are the function's: see :class:`_FunctionsAnnotations`.)
    """

    __bound_function_wrapper__ = _BoundCaptureWrapper  # type: type[_BoundCaptureWrapper]
    #: The ``_pipeline.CaptureSite`` (typed loosely: it lives in a module above this one).
    _self_capture_site = None  # type: object

    def __reduce_ex__(self, protocol: SupportsIndex) -> str:
        # A string means "the global of that name in __module__": resolves to this wrapper.
        return str(self.__qualname__)

    def __copy__(self) -> CaptureWrapper:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> CaptureWrapper:
        return self


class _RebindingCaptureWrapper(_BoundCaptureWrapper):
    """A plain function's proxy bound as a method: with the binding wrapt gives functions."""

    def __init__(self, wrapped: Any, instance: Any, wrapper: Any, *rest: Any) -> None:
        enabled, _binding, *parent_owner = rest
        _init_function_wrapper(self, wrapped, instance, wrapper, enabled, "function", *parent_owner)


# Both pickle as getattr(instance, name): the filters walk them as bound methods.
reduces_to_getattr(_BoundCaptureWrapper)
reduces_to_getattr(_RebindingCaptureWrapper)


class _PlainCaptureWrapper(CaptureWrapper):
    """The proxy of a function defined outside a class body (see the module's docstring)."""

    __bound_function_wrapper__ = _RebindingCaptureWrapper

    def __init__(self, wrapped: Any, wrapper: Any, enabled: Any) -> None:
        # What FunctionWrapper.__init__ does once it has chosen a binding.
        _init_function_wrapper(self, wrapped, None, wrapper, enabled, _UNPROBED)

    @property
    def _self_binding(self) -> str:
        # For every reader but wrapt's C call, which reads its field: the binding wrapt chose.
        return "function"

    @_self_binding.setter
    def _self_binding(self, value: str) -> None:
        raise AttributeError("_self_binding is read-only")  # as wrapt's own


class _FunctionsAnnotations(dict[str, object]):
    """``__annotations__`` of a proxy: the function's, as wrapt's proxies give them; of the
    proxy class itself: none (an empty dict).

    Set in each proxy class's own dict. Without it, a class body with an annotation, or
    Python the first time a class's ``__annotations__`` is read (it stores an empty dict in
    the class then), gives the class a dict that answers for every proxy of the class:
    ``typing.get_type_hints(f)`` failed on our own names, and frameworks reading a function's
    annotations (validation, dependency injection, CLI parsers) saw none. A dict, so that what
    reads a class's annotations from its ``__dict__`` (``inspect.get_annotations``,
    ``typing.get_type_hints``) finds an empty one; a data descriptor, so that a proxy's are
    the function's.
    """

    __slots__ = ()

    def __get__(self, proxy: Any, owner: Any = None) -> Any:
        return self if proxy is None else proxy.__wrapped__.__annotations__

    def __set__(self, proxy: Any, value: Any) -> None:
        proxy.__wrapped__.__annotations__ = value

    def __delete__(self, proxy: Any) -> None:
        del proxy.__wrapped__.__annotations__


for _kind in (_BoundCaptureWrapper, CaptureWrapper, _RebindingCaptureWrapper, _PlainCaptureWrapper):
    _kind.__annotations__ = _FunctionsAnnotations()
del _kind


def proxy(func: Any, wrapper: Any, switch: list[bool]) -> CaptureWrapper:
    """The wrapt proxy calling ``wrapper(wrapped, instance, args, kwargs)`` for ``func``.

    ``switch`` is wrapt's ``enabled`` flag: while the list is empty, wrapt's C code calls the
    function itself, with no frame or call of ours in between (a disabled capture costs a
    recursive function half its depth instead of two thirds).
    """
    if _C_BINDING and type(func) is types.FunctionType:
        outer, _, _ = func.__qualname__.rpartition(".")
        if not outer or outer.endswith("<locals>") or "__self__" in func.__dict__:
            # Not defined in a class body: almost always called as a plain function. A
            # ``__self__`` attribute (networkx's algorithms carry their dispatcher) is never
            # passed to a function object: the capture must not take it for a receiver.
            return _PlainCaptureWrapper(func, wrapper, switch)
    return CaptureWrapper(func, wrapper, enabled=switch)  # type: ignore[arg-type]


#: What our call frames' code says its file is. ``warnings`` (``stacklevel``) and
#: ``logging`` (``stacklevel``, ``%(filename)s``) skip a frame whose file name contains both
#: "importlib" and "_bootstrap", as they skip the import system's: so a captured function's
#: ``warnings.warn(..., stacklevel=2)`` still names its caller, not our wrapper.
_HIDDEN_SUFFIX: Final = " (a snapy_capture call frame, skipped like importlib._bootstrap)"
_hidden: dict[types.CodeType, types.CodeType] = {}


def hide_frame(func: F) -> F:
    """Give ``func`` (a function on the captured call's path) a file name that the standard
    library's frame walkers skip (see ``_HIDDEN_SUFFIX``); returns ``func``."""
    code: types.CodeType = func.__code__
    hidden = _hidden.get(code)
    if hidden is None:
        name = code.co_filename + _HIDDEN_SUFFIX
        hidden = code.replace(co_filename=name)
        _hidden[code] = hidden
        if name not in linecache.cache:
            # Tracebacks still show our source lines: the name is not a file linecache
            # could read, so give it the real file's lines. A lazy entry (a 1-tuple holding
            # what returns the text): linecache reads them when first asked for, and keeps
            # them without an mtime, never checked against the disk. Read here, two files
            # would cost every capturing process's start-up ~0.25 ms.
            linecache.cache[name] = (functools.partial(_source, code.co_filename),)
    func.__code__ = hidden
    return func


def _source(filename: str) -> str:
    return "".join(linecache.getlines(filename))
