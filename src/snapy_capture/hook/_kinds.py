"""What a name in a module is, and which names a target selects: the one rule.

The import hook applies it to the live module's namespace, ``snapy-capture check`` to the
names read from the module's source: both turn what they see into a qualname and a kind, and
:func:`selects` decides. So ``check`` lists exactly what the hook wraps.
"""

from __future__ import annotations

import types

from snapy_capture.hook._targets import Target

TYPE_CHECKING = False  # not typing's: see snapy_capture._stdtypes
if TYPE_CHECKING:
    from typing import Any, Final

__all__ = ["CALLABLE", "CLASS", "FUNCTION", "PROPERTY", "UNKNOWN", "VALUE", "kind_of", "selects"]

#: A function, or a method (plain, classmethod or staticmethod).
FUNCTION: Final = "function"
#: A property: its getter is what is captured.
PROPERTY: Final = "property"
#: A class: its methods are captured, not the class.
CLASS: Final = "class"
#: Callable, but not a function (a builtin, a functools.partial): captured when named exactly.
CALLABLE: Final = "callable"
#: Not callable (a constant, a module, a cached_property): never captured.
VALUE: Final = "value"
#: Only running the module would tell (an import, an assignment from a call).
UNKNOWN: Final = "unknown"

#: The kinds a pattern (``Service.*``) selects.
PATTERN_KINDS: Final = frozenset({FUNCTION, PROPERTY})
#: Dunder methods that patterns select; naming any other one exactly works too.
PATTERN_DUNDERS: Final = frozenset({"__init__", "__call__"})
#: The kinds a target naming one function exactly may name.
EXACT_KINDS: Final = frozenset({FUNCTION, PROPERTY, CALLABLE, UNKNOWN})


def selects(pattern: Target, qualname: str, kind: str) -> bool:
    """Whether the target ``pattern`` selects the name ``qualname`` of kind ``kind``.

    A pattern selects functions and properties whose qualname it matches, leaving out dunder
    methods other than ``__init__`` and ``__call__`` (``__repr__``, ``__eq__``: wrapping them
    would capture every comparison and log line). An exact target selects its own name.

    Args:
        pattern: the target (a pattern or one exact name).
        qualname: a qualified name in the target's module.
        kind: what the name is (one of this module's kinds).
    """
    if not pattern.is_pattern:
        return bool(qualname == pattern.qualname and kind in EXACT_KINDS)
    if kind not in PATTERN_KINDS or not pattern.matches(qualname):
        return False
    name = qualname.rpartition(".")[2]
    return not (name.startswith("__") and name.endswith("__")) or name in PATTERN_DUNDERS


def kind_of(raw: Any) -> str:
    """The kind of ``raw``, an object as stored in a module's or class's namespace."""
    if isinstance(raw, (types.FunctionType, classmethod, staticmethod)):
        return FUNCTION
    if isinstance(raw, property):
        return PROPERTY
    if isinstance(raw, type):
        return CLASS
    return CALLABLE if callable(raw) else VALUE
