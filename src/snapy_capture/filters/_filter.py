"""The filter itself: :class:`ArgumentFilter`, its settings, caches and entry points.

The questions it answers (is this name sensitive, is this value secret-shaped, may this type
be stored) are asked by the traversal (:mod:`._traverse`) and the fast path (:mod:`._quick`),
which this module calls; name matching is in :mod:`._names`, the secret-shaped values in
:mod:`._pii`, the unstorable types in :mod:`._unstorable`.
"""

from __future__ import annotations

import dataclasses
import operator
import types
from collections.abc import Collection, Iterable, Mapping, Sequence

from snapy_capture._stdtypes import imported, settle_typing
from snapy_capture.errors import ConfigError
from snapy_capture.filters._inert import Inert, inert_loads
from snapy_capture.filters._names import (
    SENSITIVE_PATTERNS,
    Watched,
    generation,
    match_name,
    name_list,
    names_key,
    version,
)
from snapy_capture.filters._objects import Memo
from snapy_capture.filters._pii import (
    CARD,
    MASK,
    PII_PATTERNS,
    is_card_decimal,
    is_card_int,
)
from snapy_capture.filters._quick import Quick
from snapy_capture.filters._redacted import Redacted
from snapy_capture.filters._scan import Compiled
from snapy_capture.filters._traverse import CARD_INT_MIN, filter_argument
from snapy_capture.filters._unstorable import reference_reason, type_reason

TYPE_CHECKING = False  # not typing's: see snapy_capture._stdtypes
if TYPE_CHECKING:
    from typing import Any, Final

    from snapy_capture.filters._questions import CustomFilter
else:  # for typing.get_type_hints of the public names (see there)
    from snapy_capture._stdtypes import for_readers

    for_readers(
        globals(),
        {
            "Any": "typing:Any",
            "CustomFilter": "snapy_capture.filters._questions:CustomFilter",
        },
    )

__all__ = ["ArgumentFilter", "FilterResult"]

_FIRST: Final = operator.itemgetter(0)
_FUNCTION: Final = types.FunctionType
_SECOND: Final = operator.itemgetter(1)


settle_typing()  # dataclasses reads typing if loaded (see there)


@dataclasses.dataclass(frozen=True, init=False)
class FilterResult:
    """What :meth:`ArgumentFilter.filter_call` returns: filtered arguments and a report."""

    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    #: One ``{"path": ..., "reason": ...}`` per filtered value, never the value itself.
    redactions: list[dict[str, str]]

    def __init__(
        self, args: tuple[Any, ...], kwargs: dict[str, Any], redactions: list[dict[str, str]]
    ) -> None:
        # What the generated __init__ does through object.__setattr__, without a call per
        # field: one of these is made per captured call.
        fields = self.__dict__
        fields["args"] = args
        fields["kwargs"] = kwargs
        fields["redactions"] = redactions


#: Parameters whose argument is the name of a field, an attribute, a key or a header: the
#: value beside it is judged by that name (``setitem(key, value)``, ``set(key=..., value=...)``).
#: A leading underscore (``def add(self, _key, _value)``) is the same parameter.
_NAMING_WORDS: Final = (
    "key",
    "name",
    "attr",
    "attribute",
    "attr_name",
    "field",
    "field_name",
    "fieldname",
    "header",
    "option",
    "setting",
    "varname",
    "var",
)
_NAMING: Final = frozenset(_NAMING_WORDS + tuple("_" + word for word in _NAMING_WORDS))
#: Parameters that hold the value a naming argument names: preferred over the argument next to
#: it (``put(name, label, value)``: ``value`` is the named one, not ``label``).
_VALUE_WORDS: Final = ("value", "val", "v", "data", "content", "payload", "new_value", "secret")
_VALUES: Final = frozenset(_VALUE_WORDS + tuple("_" + word for word in _VALUE_WORDS))
#: Longer text is not a name.
_NAME_LENGTH: Final = 64
_UNSEEN: Final = object()


def _secret_scalar(value: Any) -> bool:
    """Whether ``value`` could be a secret stored whole: text, bytes or an int (exact types;
    ``None`` and booleans hold none)."""
    kind = type(value)
    return kind is str or kind is bytes or kind is bytearray or (kind is int)


# The attributes held in watched lists (see ``__setattr__``).
_WATCHED: Final = frozenset({"patterns", "ignore_args", "allow_args", "pii_patterns"})
# The questions the traversal asks the filter, which the fast path (``_quick``) answers from
# the same caches: only while they are the built-in ones.
_QUICK_METHODS: Final = ("sensitive_pattern", "contains_pii", "unstorable_reason", "_compiled_pii")


class ArgumentFilter:
    """Replaces sensitive, unstorable and oversized values in call arguments by placeholders.

    Args:
        ignore_args: extra sensitive names, added to ``patterns`` (a list, or a comma string):
            they match as whole words of a name, or their plural (``"iban"`` matches
            ``user_iban`` and ``IBANs``, not ``ibanez``), with none of the default names'
            exceptions (see :meth:`sensitive_pattern`).
        allow_args: names kept even though a pattern matches them (e.g. ``"session_key"``);
            compared whole, case- and separator-insensitively. Values kept this way are still
            checked for secret-shaped content.
        patterns: the sensitive name patterns; :data:`SENSITIVE_PATTERNS` by default.
        pii_patterns: regular expressions for secret-shaped values; :data:`PII_PATTERNS`.
            They run over every captured string, in the host's thread: the default ones run
            in time linear in the text (tested on adversarial input), but patterns you supply
            are your responsibility: one with nested or overlapping quantifiers
            (``(a+)+$``) can take seconds on a long string and stall the host.
        filter_pii: whether values are checked at all.
        filter_types: more types to replace by a placeholder naming the type: classes, or
            ``"module.QualName"`` strings (matched anywhere in the MRO, nothing is imported).
        max_size: strings, bytes and collections longer than this are replaced (``None``: no
            limit).
        max_depth: values nested deeper are replaced, since they are not inspected.

    Raises:
        ConfigError: (a ``ValueError``) for a malformed option.
    """

    #: Set when one of the methods the fast path relies on is replaced on the instance.
    _own_methods = False

    def __init__(
        self,
        ignore_args: str | Iterable[str] | None = (),
        *,
        allow_args: str | Iterable[str] | None = (),
        patterns: Iterable[str] | None = None,
        pii_patterns: Iterable[str] | None = None,
        filter_pii: bool = True,
        filter_types: Iterable[type | str] = (),
        max_size: int | None = None,
        max_depth: int = 32,
    ) -> None:
        self._reset_caches()
        self.patterns: list[str] = name_list(SENSITIVE_PATTERNS if patterns is None else patterns)
        self.ignore_args: list[str] = name_list(ignore_args)
        self.allow_args: list[str] = name_list(allow_args)
        self.pii_patterns: list[str] = list(PII_PATTERNS if pii_patterns is None else pii_patterns)
        self.filter_pii = bool(filter_pii)
        self.filter_types: tuple[type | str, ...] = tuple(filter_types)
        for kind in self.filter_types:
            if not isinstance(kind, (type, str)):
                raise ConfigError(f"filter_types expects classes or 'module.Name', got {kind!r}")
        if max_size is not None and (
            isinstance(max_size, bool) or not isinstance(max_size, int) or max_size < 0
        ):
            raise ConfigError(f"max_size expects a non-negative integer or None, got {max_size!r}")
        if isinstance(max_depth, bool) or not isinstance(max_depth, int) or max_depth < 1:
            raise ConfigError(f"max_depth expects a positive integer, got {max_depth!r}")
        self.max_size = max_size
        self.max_depth = max_depth
        self.custom_filters: list[CustomFilter] = []

    # The lists are watched: changing them in place (``flt.ignore_args.append("pin")``) or
    # assigning new ones takes effect at once, while the caches stay cheap to validate.
    def __setattr__(self, name: str, value: Any) -> None:
        if name in _WATCHED:
            if isinstance(value, str) and name == "pii_patterns":
                raise ConfigError("pii_patterns expects a list of regular expressions")
            value = Watched(list(value) if name == "pii_patterns" else name_list(value))
            object.__setattr__(self, name, value)
            # A new list is this filter's own (never shared), so only its caches are stale:
            # bumping the change counter would also flush every other filter's, and ``derive``
            # runs once per call that records the result of a call given a secret.
            self._reset_caches()
            return
        if name in _QUICK_METHODS:
            object.__setattr__(self, "_own_methods", True)  # replaced on the instance
        object.__setattr__(self, name, value)

    def _reset_caches(self) -> None:
        # Each cache is one object swapped in whole, so threads never see half an update.
        self._names: tuple[Any, dict[str, str | None]] = (None, {})
        # (the list compiled, its version, the compiled patterns)
        self._pii: tuple[Any, Any, Compiled | None] = (None, None, None)
        self._types: tuple[tuple[Any, ...], dict[type, str | None]] = ((), {})
        self._quick_cache: Quick | None = None
        self._labels: dict[str, str] = {}

    def derive(self, **changes: Any) -> ArgumentFilter:
        """A copy (same class, same custom filters) with ``changes`` applied to its attributes."""
        derived = object.__new__(type(self))
        derived.__dict__.update(self.__dict__)
        derived.custom_filters = list(self.custom_filters)
        for attr in ("patterns", "ignore_args", "allow_args", "pii_patterns"):
            if attr not in changes:
                setattr(derived, attr, list(getattr(self, attr)))  # not shared with self
        for attr, value in changes.items():
            setattr(derived, attr, value)
        derived._reset_caches()
        return derived

    # --- extension points -------------------------------------------------------------

    def add_filter(self, func: CustomFilter) -> CustomFilter:
        """Register ``func(path, name, value)``, called for every value before the built-ins.

        Return ``value`` itself to keep it (the built-in filters still apply), or a
        replacement: a :class:`Redacted` is stored as is, anything else is filtered further.
        ``name`` is the parameter, key or attribute name, or ``None``. Usable as a decorator.
        """
        self.custom_filters.append(func)
        return func

    def sensitive_pattern(self, name: str) -> str | None:
        """Return the listed name that makes ``name`` sensitive, or ``None``.

        Names are matched by words, not substrings: ``password`` matches ``db_password`` and
        ``userPassword`` but ``secret`` does not match ``secretary`` nor ``token`` ``tokens``
        (a lexer's); ``key`` and ``auth`` count only where they name a credential
        (``api_key``, ``basic_auth``; not ``sort_key``, ``author``, ``auth_len``). The rules
        are those of :func:`~snapy_capture.filters._names.match_name`. ``ignore_args`` match
        as whole words (or their plural) with no exception; names in ``allow_args`` never
        match. The result is what the redaction reason names (``name:api_key``).
        """
        cache = self._name_verdicts()
        if name in cache:
            return cache[name]
        verdict = self._match_name(name)
        if len(cache) < 20_000:
            cache[name] = verdict
        return verdict

    def _name_verdicts(self) -> dict[str, str | None]:
        """The cache of :meth:`sensitive_pattern` verdicts for the current name lists."""
        key = names_key(self.patterns, self.ignore_args, self.allow_args)
        cached_key, cache = self._names
        if cached_key != key:
            cache = {}
            self._names = (key, cache)
        return cache

    def _match_name(self, name: str) -> str | None:
        return match_name(name, self.patterns, self.allow_args, self.ignore_args)

    def is_sensitive_name(self, name: str) -> bool:
        """Whether a parameter, key or attribute called ``name`` must not be stored."""
        return self.sensitive_pattern(name) is not None

    def contains_pii(self, value: Any) -> bool:
        """Whether ``value`` holds something shaped like a secret.

        Strings are searched with ``pii_patterns``; ints and ``Decimal`` values that are valid
        payment card numbers count too (when the card pattern is in ``pii_patterns``).
        """
        if isinstance(value, str):
            return bool(self._compiled_pii().spans(value))
        if type(value) is int and not -CARD_INT_MIN < value < CARD_INT_MIN:
            return CARD in self.pii_patterns and is_card_int(value)
        if type(value) is imported("decimal", "Decimal"):
            return CARD in self.pii_patterns and is_card_decimal(value)
        return False

    def mask_pii(self, value: str) -> str:
        """Return ``value`` with every span matching ``pii_patterns`` masked, the rest kept."""
        if type(value) is not str:
            value = str.__str__(value)  # a subclass's own slicing is not run
        spans = self._compiled_pii().spans(value)
        if not spans:
            return value
        spans.sort()
        starts = list(map(_FIRST, spans))
        ends = list(map(_SECOND, spans))
        following = starts[1:]
        if all(map(operator.lt, ends, following)):
            # The usual case, spans apart: the text between them, joined by masks, in C loops
            # (a text dense with secrets has thousands of spans).
            kept = list(map(value.__getitem__, map(slice, ends, following)))
            return MASK.join([value[: starts[0]], *kept, value[ends[-1] :]])
        parts = []
        position = -1
        for start, end in spans:
            if start <= position:  # overlaps (or touches) the span masked last: one mask
                position = max(position, end)
                continue
            parts.append(value[max(position, 0) : start])
            parts.append(MASK)
            position = end
        parts.append(value[position:])
        return "".join(parts)

    def unstorable_reason(self, value: Any) -> str | None:
        """A placeholder reason when ``value`` must not or cannot be stored, else ``None``.

        By its type (locks, sockets, generators, code objects, weak references...), and for
        a function or class, which pickle stores by name, by that name: a lambda, a local
        function or class, a decorated function's original (see
        :func:`~snapy_capture.filters._unstorable.reference_reason`).
        """
        kind = type(value)
        if kind is Inert:  # an async snapshot's copy: judged by the class it copies
            kind = value.cls or Inert
        cache = self._type_reasons()
        if kind in cache:
            reason = cache[kind]
        else:
            reason = self._type_reason(kind)
            if len(cache) < 4096:
                cache[kind] = reason
        if reason is None and (kind is _FUNCTION or issubclass(kind, type)):
            # Stored by reference: whether pickle can find it again depends on the object.
            return reference_reason(value)
        return reason

    def _type_reasons(self) -> dict[type, str | None]:
        """The cache of :meth:`unstorable_reason` results for the current ``filter_types``."""
        key = self.filter_types
        cached_key, cache = self._types
        if cached_key is not key:
            cache = {}
            self._types = (key, cache)
        return cache

    def _type_reason(self, kind: type) -> str | None:
        return type_reason(kind, self.filter_types)

    # --- filtering ----------------------------------------------------------------------

    def filter_call(
        self,
        param_names: Sequence[str],
        args: Sequence[Any],
        kwargs: Mapping[str, Any],
        *,
        var_keyword: str | None = None,
        keyword_params: Collection[str] = (),
        budget: int | None = None,
        budget_reason: str = "budget",
    ) -> FilterResult:
        """Filter one call's arguments.

        Args:
            param_names: the parameter name of each positional argument, as bound through the
                signature (``*args`` overflow is named after the var-positional parameter).
            args: positional arguments as called (without ``self``/``cls``).
            kwargs: keyword arguments as called.
            var_keyword: the name of the ``**kwargs`` parameter, if any: keyword arguments
                that are not in ``keyword_params`` belong to it, so a sensitive name there
                (``**credentials``) filters them all.
            keyword_params: the parameters that can be passed by keyword.
            budget: about how many bytes the arguments may take, stored, together
                (``None``: no limit). Each argument's size is estimated as it is walked (text
                and bytes by length, containers by items, objects by attributes), before its
                parts are read; one that would pass what the arguments before it left is
                replaced by ``[FILTERED: too large (over <budget> bytes): <what>]`` and
                reported with ``budget_reason``, after a walk that stopped there: what it
                costs grows with the budget, never with the argument beyond it.
            budget_reason: the reason reported for such an argument.

        Returns:
            The filtered arguments (same positions and keys) and the redaction report.
        """
        quick = self._quick()
        report: list[dict[str, str]] = []
        # One memo for the whole call: an object passed twice, or reached from two arguments,
        # is stored once and loads back as one object.
        memo: Memo = {}
        limit = None if budget is None else [budget, budget, budget_reason]  # _traverse.Budget
        new_args = []
        named = len(param_names)
        # ``setitem("password", pw)``, ``set(key="password", value=pw)``: a parameter that
        # names a field (``key``, ``attr``...) gives the scalar beside it that name.
        given = (
            None
            if _NAMING.isdisjoint(param_names) and (not kwargs or _NAMING.isdisjoint(kwargs))
            else self.named_by(param_names, args, kwargs, quick)
        )
        for index, value in enumerate(args):
            name = param_names[index] if index < named else None
            path = name if name is not None else f"args[{index}]"
            if given is not None:
                name = given.get(index, name)
            if quick is not None:
                new_args.append(quick.filter(path, name, value, report, memo=memo, budget=limit))
            else:
                new_args.append(
                    filter_argument(self, path, name, value, report, memo=memo, budget=limit)
                )
        group = None
        if var_keyword is not None and self.sensitive_pattern(var_keyword) is not None:
            group = var_keyword
        new_kwargs: dict[str, Any] = {}
        for key, value in kwargs.items():
            name = group if group is not None and key not in keyword_params else key
            if given is not None and type(key) is str:
                name = given.get(key, name)
            path = key if isinstance(key, str) and len(key) <= 64 else "kwargs[...]"
            if quick is not None and type(key) is str:
                new = quick.filter(path, name, value, report, memo=memo, budget=limit)
            else:
                new = filter_argument(self, path, name, value, report, memo=memo, budget=limit)
            if quick is not None:
                new_kwargs[quick.keyword(key, report)] = new
            else:
                new_kwargs[self._safe_keyword(key, report)] = new
        return FilterResult(tuple(new_args), new_kwargs, report)

    def named_by(
        self,
        param_names: Sequence[str],
        args: Sequence[Any],
        kwargs: Mapping[str, Any],
        quick: Quick | None = None,
    ) -> dict[int | str, str] | None:
        """The arguments named by a naming argument beside them (``key``, ``attr``...), by
        position or keyword: ``{2: "password"}``, ``{"value": "api_key"}``; ``None`` if none.

        A naming argument whose text is a sensitive name gives that name to one scalar sibling
        (text, bytes, an int): when the call has parameters holding values (``value``,
        ``val``, ``data``...), the first of them holding one; else the next argument, else the
        one before (marshmallow's ``_deserialize(value, attr, data)``), keywords following the
        positional arguments in the order they were passed. A sibling with a sensitive name of
        its own keeps it.
        """
        count = len(args)
        # The naming arguments whose text is a sensitive name, found first: usually none
        # (``d.get(key="colour")``), and nothing more is done.
        # Plain loops: a comprehension is a function call of its own (3.10/3.11).
        naming: list[tuple[int | str, Any]] = []
        if count and not _NAMING.isdisjoint(param_names):
            for index, param in enumerate(param_names[:count]):
                if param in _NAMING:
                    naming.append((index, args[index]))
        if kwargs and not _NAMING.isdisjoint(kwargs):
            for key in _NAMING.intersection(kwargs):
                naming.append((key, kwargs[key]))  # noqa: PERF401 - see above
        if not naming:
            return None
        verdicts = self._name_verdicts() if quick is None else quick.verdicts
        found: list[tuple[int | str, str]] = []
        for slot, label in naming:
            if type(label) is str and len(label) <= _NAME_LENGTH:
                pattern = verdicts.get(label, _UNSEEN)
                if pattern is _UNSEEN:
                    pattern = self.sensitive_pattern(label)
                if pattern is not None:
                    found.append((slot, label))
        if not found:
            return None
        params: list[str | None] = list(param_names[:count])
        params += [None] * (count - len(params))
        values = list(args)
        slots: dict[int | str, int] = {}
        if kwargs:
            for key, value in kwargs.items():
                slots[key] = len(params)
                params.append(key if type(key) is str else None)
                values.append(value)
        given: dict[int | str, str] = {}
        total = len(values)
        for slot, label in found:
            index = slot if type(slot) is int else slots[slot]
            holders = [
                other for other, own in enumerate(params) if own in _VALUES and other != index
            ]
            if not holders:
                holders = [other for other in (index + 1, index - 1) if 0 <= other < total]
            # The first that holds a scalar (a value parameter holding None names nothing,
            # and then no other argument is taken for it).
            near = next((other for other in holders if _secret_scalar(values[other])), None)
            if near is None:
                continue
            own = params[near]
            if near < count:
                if own is None or self.sensitive_pattern(own) is None:
                    given[near] = label
            elif own is not None and self.sensitive_pattern(own) is None:
                given[own] = label
        return given or None

    def _quick(self) -> Quick | None:
        """The fast path for this call, or ``None`` when every value must take the full walk."""
        cls = type(self)
        methods = (
            cls.sensitive_pattern,
            cls.contains_pii,
            cls.unstorable_reason,
            cls._compiled_pii,
        )
        if self.custom_filters or self._own_methods or methods != _BUILTIN_METHODS:
            return None
        now = generation[0]
        quick = self._quick_cache
        if quick is not None and quick.current(self, now):
            return quick
        try:
            quick = Quick(self, now)
        except Exception:  # noqa: BLE001 - e.g. a bad pii pattern: the walk reports it
            return None
        # Kept only while the caches it holds are validated by the change counter: lists that
        # are not watched (a subclass's properties) are compared by content on every call.
        watched = (self.patterns, self.ignore_args, self.allow_args, self.pii_patterns)
        if all(type(items) is Watched for items in watched):
            self._quick_cache = quick
        return quick

    def _safe_keyword(self, key: str, report: list[dict[str, str]]) -> str:
        # A ``**kwargs`` key is data too: a secret-shaped one is masked like a dict key.
        if self.filter_pii and isinstance(key, str) and self.contains_pii(key):
            report.append({"path": "kwargs", "reason": "pii:key"})
            masked = self.mask_pii(key)
            return masked if masked != key and not self.contains_pii(masked) else Redacted("pii")
        return key

    def filter_value(self, value: Any, name: str | None = None) -> tuple[Any, list[dict[str, str]]]:
        """Filter one value (e.g. a recorded return value); returns it and the report."""
        report: list[dict[str, str]] = []
        quick = self._quick()
        if quick is not None:
            return quick.filter(name or "value", name, value, report), report
        return filter_argument(self, name or "value", name, value, report), report

    def _filter_snapshot(self, data: bytes, name: str) -> tuple[Any, list[dict[str, str]]]:
        """:meth:`filter_value` of the inert copy ``data`` loads as (``_inert.inert_loads``;
        raises if it does not load), remembered by the fast path (see ``Quick.snapshot``)."""
        quick = self._quick()
        if quick is not None:
            return quick.snapshot(data, name)
        return self.filter_value(inert_loads(data), name)

    def _compiled_pii(self) -> Compiled:
        patterns = self.pii_patterns
        source, cached_version, compiled = self._pii
        # The list itself is part of the key: a list assigned by another thread while this
        # one compiled the old list must not find the old patterns cached under its version.
        if (
            source is patterns
            and compiled is not None
            and cached_version == generation[0]
            and type(patterns) is Watched
        ):
            return compiled
        current = version(patterns)
        if compiled is None or source is not patterns or cached_version != current:
            compiled = Compiled(tuple(patterns))
            self._pii = (patterns, current, compiled)
            self._labels = {}
        return compiled

    def thread_label(self, name: str) -> str:
        """A thread's ``name`` as a capture's metadata stores it: what ``pii_patterns``
        match masked, as in a value (a thread named after the DSN or the token it serves).
        Remembered per name: one dict lookup per capture."""
        labels = self.__dict__.get("_labels")
        if labels is None:  # a subclass that set itself up without ArgumentFilter.__init__
            labels = self._labels = {}
        label = labels.get(name)
        if label is None:
            label = self.mask_pii(name) if self.filter_pii else name
            if len(labels) < _MAX_LABELS:  # thread names numbered per task need no memory
                labels[name] = label
        return label


#: Thread names a filter remembers the stored form of (see ``thread_label``).
_MAX_LABELS: Final = 256

# Compared by identity in ``_quick``: a subclass's or a patched method turns the fast path off.
_BUILTIN_METHODS: Final = tuple(ArgumentFilter.__dict__[name] for name in _QUICK_METHODS)
