"""One replayed call: what it runs on, with which values, under which clock, and its outcome.

- **The instance.** A method passed unbound (``Owner.method``) runs on a fresh copy of the
  instance captured with the call (``record["self"]``); a bound method passed explicitly
  (``Owner(cfg).method``) runs as given; classmethods and staticmethods run on the class.
  A capture without its instance, or whose instance could not be stored (a placeholder),
  cannot be replayed through an unbound method: :class:`CannotReplayError` says why.
- **Filtered values.** A capture whose inputs had secrets filtered out cannot be replayed
  unless a substitute is given for each (see :mod:`._substitutes`). Parts that could not be
  stored (``unstorable: ...``: a lock, a local function in a method table) do not stop it:
  the call runs with their placeholders, and only if it then raises is the case skipped,
  naming them (:func:`check_unstored`) -- unless the capture recorded that very exception.
- **Constructors.** A capture of ``Owner.__init__`` replays by calling the class given
  (``Owner``): the outcome is the instance built.
- **The outcome.** Coroutines run to completion; generators and async generators, and the
  generators and iterators a plain function returns, are drained into a list (at most
  :data:`MAX_ITEMS` items); an exception, raised at once or mid-way through a generator, is
  part of the outcome rather than an error of the test.
- **Determinism.** See :mod:`._determinism`.
"""

from __future__ import annotations

import asyncio
import copy
import inspect
import io
import itertools
import pickle
import sys
import types
from collections.abc import Callable, Iterator, Mapping, Sequence, Set
from dataclasses import dataclass, field
from typing import Any, Final

from snapy_capture._text import qualified_name, safe_str
from snapy_capture.errors import SnapyCaptureError
from snapy_capture.replay._state import snapshot_state
from snapy_capture.replay._substitutes import (
    covered,
    input_redactions,
    merged,
    parse_path,
    parse_steps,
    place,
    split_filtered,
)

__all__ = [
    "CannotReplayError",
    "Outcome",
    "captured_instance",
    "label",
    "prepare",
    "recorded_items",
]

NO_INSTANCE = "captured without its instance (capture_self off or an old capture)"
#: Items drained from a returned generator or iterator before the replay stops reading it
#: (an endless one would hang the test run).
MAX_ITEMS = 10_000


class CannotReplayError(SnapyCaptureError):
    """A capture cannot be replayed as asked; ``reason`` says why (a test skips with it)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason

    def __reduce__(self) -> tuple[Any, ...]:
        return type(self), (self.reason,)


def label(record: Mapping[str, Any]) -> str:
    """``capture of module:qualname from <timestamp>``: how messages name a capture."""
    name = f"{record.get('module', '?')}:{record.get('qualname', record.get('function_name', '?'))}"
    return f"capture of {name} from {record.get('timestamp', 'an unknown time')}"


@dataclass
class Prepared:
    """A call ready to run: the callable, its arguments, and the captured instance it runs on
    (``None`` when it runs on none of the capture's: a function, or a bound method given)."""

    func: Callable[..., Any]
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    instance: Any = None
    on_captured_instance: bool = False
    #: Input paths that could not be stored at capture time (path -> reason): the call runs
    #: with their placeholders.
    unstored: dict[str, str] = field(default_factory=dict)
    #: An ``__init__`` capture replayed by calling the class: the value is the instance built.
    constructs: bool = False
    #: Keys of the substitutes put in place of filtered inputs: the call runs with test
    #: values, so a result that differs from production's may be theirs.
    substituted: list[str] = field(default_factory=list)

    def value_instance(self, outcome: Outcome) -> Any:
        """The instance the replay ran on, or built (``__init__``); ``None`` if neither."""
        if self.constructs:
            return outcome.value if outcome.raised is None else None
        return self.instance


@dataclass
class Outcome:
    """What a replayed call did: its value (generators: the items), or what it raised."""

    value: Any = None
    raised: BaseException | None = None
    items: list[Any] | None = field(default=None)
    #: The items were cut at :data:`MAX_ITEMS` (the generator was not exhausted).
    truncated: bool = False

    def snapshot(self) -> Any:
        """A snapshot-stable value: the value's state view, or the exception's type and
        message (with the items a generator yielded before it raised)."""
        if self.raised is None and not self.truncated:
            return snapshot_state(self.value)
        outcome: dict[str, Any] = {}
        if self.items is not None:
            outcome["items"] = snapshot_state(self.items)
        if self.truncated:
            outcome["truncated"] = f"stopped reading after {MAX_ITEMS} items"
        if self.raised is not None:
            outcome["raised"] = qualified_name(type(self.raised))
            outcome["message"] = safe_str(self.raised)
        return outcome


def check_record(record: object) -> None:
    """Refuse, naming it, what is not a capture record (rather than an AttributeError from
    deep inside the replay)."""
    args, kwargs = (
        (record.get("args", ()), record.get("kwargs", {}))
        if isinstance(record, Mapping)
        else (None, None)
    )
    if not isinstance(args, (list, tuple)) or not isinstance(kwargs, Mapping):
        got = (
            f"a mapping whose 'args' is {type(args).__name__} and 'kwargs' {type(kwargs).__name__}"
            if isinstance(record, Mapping)
            else type(record).__name__
        )
        raise TypeError(
            "record must be a capture record (a mapping with an 'args' list and a 'kwargs' "
            f"dict, as load_capture_dict or replay_records give), got {got}"
        )


def prepare(
    func: Callable[..., Any],
    record: Mapping[str, Any],
    substitutes: Mapping[str, Any] | None = None,
) -> Prepared:
    """The call of ``func`` that replays ``record``.

    Raises:
        CannotReplayError: filtered inputs without substitutes, or an unbound method and
            no usable captured instance.
        TypeError: ``record`` is not a capture record.
    """
    check_record(record)
    given: Any = func  # typed as a callable, but ``Owner.prop`` (a property) is not one
    if isinstance(given, property) and given.fget is not None:
        func = given.fget  # its getter is what was captured
    values = merged(substitutes, record)
    constructs = is_init(record)
    if constructs and not isinstance(func, type):
        owner = str(record.get("qualname", "")).rpartition(".")[0] or "the class"
        raise CannotReplayError(
            f"{label(record)}: a capture of __init__ replays by building the instance: "
            f"pass the class ({owner}), not {getattr(func, '__qualname__', func)!r}"
        )
    on_instance = not constructs and not _is_bound(func) and wants_instance(func, record)
    blocking, unstored = split_filtered(record, values)

    def concerns_call(path: str) -> bool:
        # The captured instance's filtered parts matter only when the call runs on it.
        return on_instance or not covered(path, ("self",))

    missing = [path for path in blocking if concerns_call(path)]
    if missing:
        raise CannotReplayError(filtered_reason(record, missing))
    args = list(copied(record.get("args", [])))
    kwargs = dict(copied(record.get("kwargs", {})))
    prepared = Prepared(func, (), {}, constructs=constructs)
    prepared.unstored = {path: why for path, why in unstored.items() if concerns_call(path)}
    filtered = [path for path in input_redactions(record) if concerns_call(path)]
    prepared.substituted = sorted(
        key for key in values if any(covered(path, (key,)) for path in filtered)
    )
    if on_instance:
        prepared.instance = captured_instance(record, values)
        prepared.on_captured_instance = True
        prepared.func = _on(func, prepared.instance)
    prepared.args, prepared.kwargs = substituted(
        func, record, values, args, kwargs, skip_first=prepared.on_captured_instance
    )
    return prepared


def substituted(
    func: Any,
    record: Mapping[str, Any],
    values: Mapping[str, Any],
    args: list[Any],
    kwargs: dict[str, Any],
    *,
    skip_first: bool = False,
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """The arguments with each substitute for a filtered argument put in place.

    ``func`` (``None`` if unknown) tells which positional argument a parameter name is.

    Raises:
        CannotReplayError: a substitute's path cannot be placed in the arguments.
    """
    filtered = input_redactions(record)
    names: tuple[list[str], str | None] | None = None
    for key in sorted(values):
        if key == "self" or key.startswith(("self.", "self[")):
            continue  # the instance's: see captured_instance
        if not any(covered(path, (key,)) for path in filtered):
            continue  # nothing filtered there: the captured value stands
        root, _ = parse_path(key)
        tail = key[len(root) :]
        if root in kwargs:
            kwargs[root] = place(kwargs[root], tail, values[key])
            continue
        if names is None:
            names = positional_names(func, skip_first=skip_first) if func else ([], None)
        positions = _positions(root, *names, len(args))
        if not positions and not names[0]:
            positions = _holding_placeholder(record, key, args, tail)
        if not positions:
            raise CannotReplayError(
                f"{label(record)}: cannot tell which argument the substitute {key!r} is for"
            )
        for index in positions:
            args[index] = place(args[index], tail, values[key])
    return tuple(args), kwargs


def _holding_placeholder(
    record: Mapping[str, Any], key: str, args: list[Any], tail: str
) -> list[int]:
    """Without the signature: the one positional argument holding, at ``tail``, the
    placeholder the filters left for ``key`` (``[FILTERED: <reason>]``)."""
    metadata = record.get("metadata")
    report = metadata.get("redactions") if isinstance(metadata, Mapping) else None
    wanted = {
        f"[FILTERED: {entry.get('reason')}]"
        for entry in report or []
        if isinstance(entry, Mapping) and entry.get("path") == key
    }
    steps = parse_steps(tail)
    found = [index for index, value in enumerate(args) if _value_at(value, steps) in wanted]
    return found if len(found) == 1 else []


def _value_at(value: Any, steps: list[tuple[str, Any]]) -> Any:
    try:
        for how, key in steps:
            value = getattr(value, key) if how == "." else value[key]
    except Exception:  # noqa: BLE001 - not there: not the argument sought
        return None
    return value if isinstance(value, str) else None


def is_init(record: Mapping[str, Any]) -> bool:
    """Whether ``record`` is a capture of a class's ``__init__`` (it holds no ``self``: the
    instance was half-built; ``self_after`` is the instance it built)."""
    qualname = str(record.get("qualname", ""))
    return qualname.endswith(".__init__") and "self" not in record


def check_unstored(prepared: Prepared, record: Mapping[str, Any], outcome: Outcome) -> None:
    """Skip a replay that ran without parts that could not be stored and then raised: the
    failure says nothing about the code -- unless the capture recorded that the call raised
    the same type of exception.

    Raises:
        CannotReplayError: naming the parts and the exception.
    """
    if not prepared.unstored or outcome.raised is None:
        return
    result = record.get("result")
    recorded = result.get("exception") if isinstance(result, Mapping) else None
    if isinstance(recorded, Mapping):
        kind = type(outcome.raised)
        if (recorded.get("type"), recorded.get("module")) == (kind.__qualname__, kind.__module__):
            return
    raise CannotReplayError(
        f"{label(record)}: could not be stored at capture time: "
        f"{unstored_list(prepared.unstored)}; the call failed without them: "
        f"{qualified_name(type(outcome.raised))}: {safe_str(outcome.raised)}"
    )


def unstored_list(unstored: Mapping[str, str]) -> str:
    """``path (reason), ...``: the parts a replay ran without (the first few: a method table
    can lose dozens)."""
    shown = [f"{path} ({why})" for path, why in list(unstored.items())[:_SHOWN]]
    more = len(unstored) - _SHOWN
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")


_SHOWN = 5


def filtered_reason(record: Mapping[str, Any], missing: list[str]) -> str:
    """Why a capture with filtered inputs is skipped, naming the paths (never values)."""
    instance = record.get("self")
    if missing == ["self"] and isinstance(instance, str):
        return f"{label(record)}: the instance could not be stored ({instance.strip('[]')})"
    return (
        f"{label(record)} had values filtered at capture time ({', '.join(missing)}); "
        "give substitutes for these paths to replay it"
    )


def captured_instance(record: Mapping[str, Any], substitutes: Mapping[str, Any]) -> Any:
    """A fresh copy of the instance captured with ``record``, substitutes put in place.

    Raises:
        CannotReplayError: no instance was captured, or it could not be stored.
    """
    if "self" in substitutes:
        instance = copy.deepcopy(substitutes["self"])
    elif "self" not in record:
        raise CannotReplayError(f"{label(record)}: {NO_INSTANCE}")
    else:
        instance = copied(record["self"])
        if isinstance(instance, str) and instance.startswith("[FILTERED: "):
            raise CannotReplayError(filtered_reason(record, ["self"]))
    filtered = input_redactions(record)
    for key in sorted(substitutes):
        # Only where something was filtered: elsewhere the captured value stands.
        if key.startswith(("self.", "self[")) and any(covered(p, (key,)) for p in filtered):
            instance = place(instance, key[len("self") :], substitutes[key])
    return instance


#: What a replayed call may raise as its outcome: ``SystemExit`` too (a command-line entry
#: point, argparse's usage error: capture records it as the call's exception). Not
#: KeyboardInterrupt: a Ctrl-C stops the test run.
_OUTCOMES: Final = (Exception, SystemExit)


def run(prepared: Prepared) -> Outcome:
    """Run the call; its value, or the exception it raised (drained if a generator)."""
    try:
        value = prepared.func(*prepared.args, **prepared.kwargs)
    except _OUTCOMES as exc:
        return Outcome(raised=exc)
    if inspect.iscoroutine(value):
        return _awaited(value)
    if _consumable(value):
        # A generator function's generator, or one a plain function returns (a lexer's
        # get_tokens): its items are the outcome, in both modes.
        items: list[Any] = []
        try:
            items.extend(itertools.islice(value, MAX_ITEMS + 1))
        except _OUTCOMES as exc:
            return Outcome(items, exc, items)
        if len(items) > MAX_ITEMS:
            del items[MAX_ITEMS:]
            return Outcome(items, None, items, truncated=True)
        return Outcome(items, None, items)
    if inspect.isasyncgen(value):
        return _drained(value)
    return Outcome(value)


def _consumable(value: Any) -> bool:
    """A generator or a one-shot iterator (``map``, ``iter(...)``, an iterator class), not a
    container (lists, dicts, strings are values) nor a file (read by the caller, not here)."""
    if inspect.isgenerator(value):
        return True
    if isinstance(value, (str, bytes, bytearray, Mapping, Sequence, Set, io.IOBase)):
        return False
    return isinstance(value, Iterator)


def recorded_items(value: Any) -> list[Any] | None:
    """The items of a recorded result that is a one-shot iterator (``iter(("abc",))``, a
    ``map``: pickled as they stood when the call returned, unconsumed), read from a copy as
    a replayed one is drained (at most :data:`MAX_ITEMS`); ``None`` for any other value, or
    when reading it fails."""
    if not _consumable(value):
        return None
    try:
        return list(itertools.islice(copied(value), MAX_ITEMS))
    except Exception:  # noqa: BLE001 - compared as it was loaded
        return None


def _awaited(coroutine: Any) -> Outcome:
    _no_running_loop(coroutine)
    try:
        return Outcome(asyncio.run(coroutine))
    except _OUTCOMES as exc:
        return Outcome(raised=exc)


def _drained(generator: Any) -> Outcome:
    items: list[Any] = []

    async def drain() -> None:
        async for item in generator:
            items.append(item)  # noqa: PERF401 - the items before an exception are kept

    _no_running_loop(drain_coroutine := drain())
    try:
        asyncio.run(drain_coroutine)
    except _OUTCOMES as exc:
        return Outcome(items, exc, items)
    return Outcome(items, None, items)


def _no_running_loop(coroutine: Any) -> None:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return
    coroutine.close()
    raise SnapyCaptureError(
        "cannot replay a coroutine function inside a running event loop; "
        "await it yourself and compare with record['result']"
    )


# --- binding --------------------------------------------------------------------------------


def _is_bound(func: Any) -> bool:
    owner = getattr(func, "__self__", None)
    return owner is not None and not isinstance(owner, types.ModuleType)


def wants_instance(func: Any, record: Mapping[str, Any] | None = None) -> bool:
    """Whether ``func`` is an instance method taken from its class (``Owner.method``).

    Decided by where ``func`` is defined, or else by where it is now: the captured
    instance's class holding ``func`` under the captured method's name (a method patched
    in from elsewhere, a wrapper without ``functools.wraps``).
    """
    if record is not None and _stored_on_captured_class(func, record):
        return True
    if isinstance(func, (types.MethodDescriptorType, types.WrapperDescriptorType)):
        return True  # a C type's method taken from the type (OrderedDict.move_to_end)
    raw = inspect.unwrap(func) if callable(func) else func
    qualname = getattr(raw, "__qualname__", "")
    parts = qualname.split(".")
    if not isinstance(raw, types.FunctionType) or len(parts) < 2 or parts[-2] == "<locals>":
        return False
    owner: Any = sys.modules.get(raw.__module__)
    for part in parts[:-1]:
        owner = None if part == "<locals>" else getattr(owner, part, None)
        if owner is None:
            break
    if isinstance(owner, type):
        found = inspect.getattr_static(owner, parts[-1], None)
        if isinstance(found, property):
            # A getter's capture holds its instance as its one argument, unless stored apart.
            return record is not None and "self" in record
        declared = getattr(found, "__wrapped__", found)
        return not isinstance(found, (staticmethod, classmethod)) and not isinstance(
            declared, (staticmethod, classmethod)
        )
    # A class defined in a function cannot be looked up: its methods name their receiver.
    try:
        params = list(inspect.signature(raw).parameters)
    except (TypeError, ValueError):
        return False
    return bool(params) and params[0] == "self"


def _stored_on_captured_class(func: Any, record: Mapping[str, Any]) -> bool:
    instance = record.get("self")
    name = str(record.get("qualname", "")).rpartition(".")[2]
    if instance is None or isinstance(instance, str) or not name:
        return False
    found = inspect.getattr_static(type(instance), name, None)
    return found is not None and found is func and isinstance(func, types.FunctionType)


def _on(func: Callable[..., Any], instance: Any) -> Callable[..., Any]:
    def call(*args: Any, **kwargs: Any) -> Any:
        return func(instance, *args, **kwargs)

    return call


def positional_names(func: Any, *, skip_first: bool) -> tuple[list[str], str | None]:
    """The parameter names positional arguments bind to, and the ``*args`` parameter's."""
    try:
        parameters = list(inspect.signature(func).parameters.values())
    except (TypeError, ValueError):
        return [], None
    if skip_first and parameters:
        parameters = parameters[1:]
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    names = [param.name for param in parameters if param.kind in kinds]
    rest = [p.name for p in parameters if p.kind is inspect.Parameter.VAR_POSITIONAL]
    return names, (rest[0] if rest else None)


def _positions(root: str, names: list[str], rest: str | None, count: int) -> list[int]:
    if root.startswith("args["):
        index = int(root[len("args[") : -1])
        return [index] if index < count else []
    found = [index for index, name in enumerate(names[:count]) if name == root]
    if found:
        return found
    # The overflow of *args is reported under the var-positional parameter's name.
    return list(range(len(names), count)) if root == rest else []


def copied(value: Any) -> Any:
    """A deep copy, so that a replay that mutates its inputs leaves the record as it was.

    Made as loading the capture again would make it (pickled and unpickled), not by
    ``copy.deepcopy``, which runs a class's own ``__deepcopy__``: marshmallow's fields copy
    themselves shallowly, so a deep-copied schema's fields still point at the original schema
    (``field.parent``), and the replayed call saw another object than the one captured.
    """
    try:
        return pickle.loads(pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))
    except Exception:  # noqa: BLE001, S110 - e.g. a JSON capture's value pickle cannot store
        pass
    try:
        return copy.deepcopy(value)
    except Exception:  # noqa: BLE001 - an object that cannot be copied is used as loaded
        return value
