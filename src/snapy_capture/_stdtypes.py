"""Standard types the capture layer recognises, loaded without more than defines them.

``datetime``: the C module ``_datetime`` defines its classes. ``datetime.py`` first defines a
pure-Python fallback of each (~2,500 lines: ~1 ms of every capturing process's start-up),
then replaces them all with ``_datetime``'s, so a program's ``datetime.date`` is the very
class read here (``datetime.date is _datetime.date``), whether it imports ``datetime``
before capture loads or after. Values of these classes pickle by their ``datetime`` names
as always (a program holding one has imported ``datetime``: the C API imports it too).
"""

from __future__ import annotations

__all__ = ["datetime"]

TYPE_CHECKING = False  # not typing's: typing costs a capturing process's start-up ~1.5 ms
if TYPE_CHECKING:
    import datetime
else:
    try:
        import _datetime as datetime
    except ImportError:  # an interpreter without the C module: the module itself
        import datetime
