"""``Record``: the base of our named tuples, ``typing.NamedTuple`` without its cost at import.

``class X(typing.NamedTuple)`` checks every field's annotation as the class is made; under
``from __future__ import annotations`` each is a string, which typing compiles into a
``ForwardRef``: ~0.15 ms a class, ~1 ms of every capturing process's start-up for the eight
the capture layer loads. ``class X(Record)`` makes the same class (``collections.namedtuple``
with the fields, defaults, methods and docstring of the body, the annotations kept as the
strings they are), and type checkers read it as ``typing.NamedTuple`` itself.
"""

from __future__ import annotations

import collections

__all__ = ["Record"]

TYPE_CHECKING = False  # not typing's: see snapy_capture._stdtypes
if TYPE_CHECKING:
    from typing import NamedTuple as Record
else:
    # What typing.NamedTuple refuses to let a body define: the named tuple's own.
    _PROHIBITED = frozenset(
        {"__new__", "__init__", "__slots__", "__getnewargs__", "_fields", "_field_defaults"}
        | {"_make", "_replace", "_asdict", "_source"}
    )
    _SPECIAL = frozenset({"__module__", "__name__", "__annotations__"})

    class _RecordMeta(type):
        def __new__(cls, name: str, bases: tuple[type, ...], namespace: dict[str, object]):
            if not bases:  # Record itself
                return super().__new__(cls, name, bases, namespace)
            fields = dict(namespace.get("__annotations__", {}))
            defaults = [namespace[field] for field in fields if field in namespace]
            for field in list(fields)[: len(fields) - len(defaults)]:
                if field in namespace:
                    raise TypeError(f"Non-default namedtuple field cannot follow {field!r}")
            record = collections.namedtuple(
                name, fields, defaults=defaults, module=namespace["__module__"]
            )
            record.__annotations__ = fields
            for key, value in namespace.items():
                if key in _PROHIBITED:
                    raise AttributeError(f"Cannot overwrite NamedTuple attribute {key}")
                if key not in _SPECIAL and key not in fields:
                    setattr(record, key, value)
            return record

    class Record(metaclass=_RecordMeta):
        """Base of a named tuple declared as for ``typing.NamedTuple`` (module docstring)."""
