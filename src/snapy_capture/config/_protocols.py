"""The object forms of two options, as protocols: :class:`Serializer` and :class:`Filter`.

Public (``snapy_capture.config.Serializer``, ``isinstance`` works on it), but named by our
own modules in annotations only: a capturing process never imports this module, nor typing
with it (~2.5 ms of its start-up, issue 21). ``snapy_capture.config`` and
``snapy_capture.storage.serializers`` import it where first asked for either name.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

__all__ = ["Filter", "Serializer"]


@runtime_checkable
class Serializer(Protocol):
    """What storage needs from a serializer (the ``serializer`` option's object form)."""

    name: str

    def dumps(self, obj: Any) -> bytes: ...

    def loads(self, data: bytes) -> Any: ...


class Filter(Protocol):
    """The ``arg_filter`` option's object form (an ``ArgumentFilter``, of the filters layer)."""

    def filter_call(self, *args: Any, **kwargs: Any) -> Any: ...
