"""@capture_args: what is recorded, on which callables, and that behaviour never changes."""

from __future__ import annotations

import asyncio
import inspect
import logging
import pickle
import re
import sys
import threading
import traceback
from pathlib import Path
from typing import Any

import pytest
import wrapt

from snapy_capture import (
    CaptureConfig,
    capture_args,
    load_capture,
    load_capture_dict,
    set_global_config,
)
from snapy_capture.capture import _proxies, call_depth, stats
from snapy_capture.replay.loader import CaptureLoader


def test_record_has_the_seed_format() -> None:
    """A capture is the seed's dict: names, ISO-8601 UTC timestamp, args, kwargs, metadata."""

    @capture_args()
    def user_authentication(username: str, password: str, remember_me: bool = False) -> str:
        return username

    user_authentication("john_doe", "hunter22", remember_me=True)
    record = load_capture_dict("user_authentication")
    assert record["function_name"] == "user_authentication"
    assert record["module"] == __name__
    assert record["qualname"].endswith("<locals>.user_authentication")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", record["timestamp"])
    assert record["args"] == ["john_doe", "[FILTERED: name:password]"]
    assert record["kwargs"] == {"remember_me": True}
    metadata = record["metadata"]
    assert metadata["call_depth"] == 0
    assert metadata["thread_id"] == "MainThread"
    assert re.fullmatch(r"3\.\d+\.\d+.*", metadata["python_version"])
    assert isinstance(metadata["pid"], int)
    assert "result" not in record


def test_positional_args_stay_positional_and_replay() -> None:
    """Arguments are recorded as called, and replaying them gives the same result."""

    @capture_args()
    def area(width: int, height: int = 1, *, unit: str = "m") -> str:
        return f"{width * height}{unit}"

    original = area(3, 4, unit="cm")
    args, kwargs = load_capture("area")
    assert (args, kwargs) == ((3, 4), {"unit": "cm"})
    assert area(*args, **kwargs) == original


def test_arguments_recorded_before_body_mutates_them() -> None:
    """The capture holds the arguments as they were at call time."""

    @capture_args()
    def consume(items: list[int]) -> None:
        items.clear()

    data = [1, 2, 3]
    consume(data)
    assert data == []
    assert load_capture("consume") == (([1, 2, 3],), {})


class Service:
    """A class with every kind of method."""

    @capture_args()
    def method(self, x: int) -> int:
        return x + 1

    @classmethod
    @capture_args()
    def inner_classmethod(cls, x: int) -> str:
        return f"{cls.__name__}{x}"

    @capture_args()
    @classmethod
    def outer_classmethod(cls, x: int) -> str:
        return f"{cls.__name__}{x}"

    @staticmethod
    @capture_args()
    def static(x: int) -> int:
        return x * 2

    class Nested:
        @capture_args()
        def deep(self, y: str) -> str:
            return y.upper()


@pytest.mark.parametrize(
    ("call", "name", "expected_result", "expected_args"),
    [
        (lambda: Service().method(1), "Service.method", 2, (1,)),
        (lambda: Service.method(Service(), 5), "Service.method", 6, (5,)),
        (lambda: Service.inner_classmethod(2), "inner_classmethod", "Service2", (2,)),
        (lambda: Service().outer_classmethod(3), "outer_classmethod", "Service3", (3,)),
        (lambda: Service.static(4), "Service.static", 8, (4,)),
        (lambda: Service.Nested().deep("a"), "Service.Nested.deep", "A", ("a",)),
    ],
)
def test_methods_do_not_store_self_or_cls(
    call: Any, name: str, expected_result: Any, expected_args: tuple[Any, ...]
) -> None:
    """self/cls are not stored, so a method capture replays as obj.method(*args, **kwargs)."""
    assert call() == expected_result
    assert load_capture(name) == (expected_args, {})


def test_plain_call_form_and_bare_decorator() -> None:
    """capture_args(...)(f) and bare @capture_args both capture."""

    def legacy_payment_processor(card_data: str, amount: int, merchant_id: str) -> int:
        return amount

    legacy_payment_processor = capture_args(ignore_args=["card_data"])(legacy_payment_processor)

    @capture_args
    def bare(x: int) -> int:
        return x

    assert legacy_payment_processor("4111", 10, "m1") == 10
    assert bare(7) == 7
    args, _ = load_capture("legacy_payment_processor")
    assert "4111" not in str(args)
    assert load_capture("bare") == ((7,), {})


def test_metadata_and_introspection_preserved() -> None:
    """__name__, __doc__, __wrapped__, signature and inspect behaviour are kept."""

    def original(a: int, b: str = "x") -> str:
        """Docstring."""
        return b * a

    wrapped = capture_args()(original)
    assert wrapped.__name__ == "original"
    assert wrapped.__doc__ == "Docstring."
    assert wrapped.__wrapped__ is original
    assert inspect.signature(wrapped) == inspect.signature(original)
    assert inspect.isfunction(wrapped) or callable(wrapped)

    @capture_args()
    async def coro(x: int) -> int:
        return x

    @capture_args()
    def gen(n: int) -> Any:
        yield from range(n)

    assert inspect.iscoroutinefunction(coro)
    assert inspect.isgeneratorfunction(gen)


def test_generators_record_arguments_at_call_time() -> None:
    """Generators and async generators are captured when called, before iteration."""

    @capture_args()
    def countdown(n: int) -> Any:
        while n:
            yield n
            n -= 1

    @capture_args()
    async def ticks(n: int) -> Any:
        for i in range(n):
            yield i

    generator = countdown(3)
    assert load_capture("countdown") == ((3,), {})
    assert list(generator) == [3, 2, 1]

    async def collect() -> list[int]:
        return [i async for i in ticks(2)]

    assert asyncio.run(collect()) == [0, 1]
    assert load_capture("ticks") == ((2,), {})


def test_exceptions_pass_through_with_same_origin() -> None:
    """The same exception object propagates, raised from the function's own frame."""
    error = ValueError("boom")

    @capture_args()
    def explode(x: int) -> None:
        raise error

    with pytest.raises(ValueError, match="boom") as info:
        explode(1)
    assert info.value is error
    assert traceback.extract_tb(info.value.__traceback__)[-1].name == "explode"
    assert load_capture("explode") == ((1,), {})


def test_unpicklable_argument_keeps_rest_and_call_succeeds() -> None:
    """An argument that cannot be stored becomes a placeholder; the call is unaffected."""

    @capture_args()
    def takes(callback: Any, n: int) -> int:
        return callback(n)

    assert takes(lambda v: v + 1, 41) == 42
    args, _ = load_capture("takes")
    assert args[1] == 41
    # Recognised by the filter (pickle cannot find a lambda by its name), before encoding.
    assert args[0].startswith("[FILTERED: unstorable:local function ")


def test_unwritable_directory_is_swallowed_logged_once_and_counted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A capture that cannot be written never breaks the call: one log line, then counted."""
    blocker = tmp_path / "not_a_dir"
    blocker.write_text("x")

    @capture_args(path=blocker / "captures")
    def work(x: int) -> int:
        return x * 3

    before = stats()["errors"]
    with caplog.at_level(logging.WARNING, logger="snapy_capture"):
        assert [work(i) for i in range(3)] == [0, 3, 6]
    messages = [r.getMessage() for r in caplog.records if r.name == "snapy_capture"]
    assert len(messages) == 1
    assert "work" in messages[0]
    assert stats()["errors"] - before == 3


def test_bad_global_config_object_rejected_in_code() -> None:
    """set_global_config only takes a CaptureConfig."""
    with pytest.raises(ValueError, match="CaptureConfig"):
        set_global_config({"enabled": False})  # type: ignore[arg-type]


def test_disabled_by_config_records_nothing(capture_dir: Path) -> None:
    """enabled=False (any level) turns capture off without changing the call."""
    set_global_config(CaptureConfig(enabled=False))

    @capture_args()
    def quiet(x: int) -> int:
        return x

    assert quiet(1) == 1
    assert not capture_dir.exists()

    set_global_config(None)  # takes effect for the already decorated function
    quiet(2)
    assert load_capture("quiet") == ((2,), {})


def test_recursion_and_nesting_count_call_depth() -> None:
    """The outermost captured call has depth 0; nested and recursive calls count up."""

    @capture_args(retention=None)
    def fact(n: int) -> int:
        return 1 if n <= 1 else n * fact(n - 1)

    assert fact(4) == 24
    depths = {r["args"][0]: r["metadata"]["call_depth"] for r in CaptureLoader().load_all("fact")}
    assert depths == {4: 0, 3: 1, 2: 2, 1: 3}
    assert call_depth() == 0


def test_call_depth_is_per_thread() -> None:
    """Each thread counts its own depth."""
    barrier = threading.Barrier(4)

    @capture_args(retention=None)
    def inner(tag: str) -> None:
        barrier.wait(timeout=10)

    @capture_args(retention=None)
    def outer(tag: str) -> None:
        inner(tag)

    threads = [threading.Thread(target=outer, args=(f"t{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    loader = CaptureLoader()
    assert {r["metadata"]["call_depth"] for r in loader.load_all("outer")} == {0}
    assert {r["metadata"]["call_depth"] for r in loader.load_all("inner")} == {1}
    assert len({r["metadata"]["thread_id"] for r in loader.load_all("inner")}) == 4


def test_call_depth_is_per_asyncio_task() -> None:
    """Concurrent tasks interleave, yet each counts depth from its own outermost call."""

    @capture_args(retention=None)
    async def leaf(tag: int) -> int:
        await asyncio.sleep(0)
        return tag

    @capture_args(retention=None)
    async def branch(tag: int) -> int:
        await asyncio.sleep(0)
        return await leaf(tag)

    async def main() -> list[int]:
        return await asyncio.gather(*(branch(i) for i in range(50)))

    assert asyncio.run(main()) == list(range(50))
    loader = CaptureLoader()
    assert {r["metadata"]["call_depth"] for r in loader.load_all("branch")} == {0}
    assert {r["metadata"]["call_depth"] for r in loader.load_all("leaf")} == {1}


def test_record_result_stores_value_and_exception() -> None:
    """record_result=True stores the return value, or the exception type and message."""

    @capture_args(record_result=True, retention=None)
    def divide(a: int, b: int) -> float:
        return a / b

    assert divide(6, 3) == 2
    with pytest.raises(ZeroDivisionError):
        divide(1, 0)
    newest, older = CaptureLoader().load_all("divide")
    assert newest["result"]["exception"]["type"] == "ZeroDivisionError"
    assert "division" in newest["result"]["exception"]["message"]
    assert older["result"] == {"value": 2.0}


def test_wrapped_function_pickles_by_reference() -> None:
    """A module-level captured function pickles like the function it wraps."""
    assert pickle.loads(pickle.dumps(module_level)) is module_level


@capture_args()
def module_level(x: int) -> int:
    """Used by the pickling test."""
    return x


class Pickled:
    """A class whose captured method is sent across pickle (as multiprocessing does)."""

    def __init__(self) -> None:
        self.offset = 10

    @capture_args()
    def shift(self, x: int) -> int:
        return x + self.offset


def test_bound_captured_method_pickles_and_copies() -> None:
    """obj.method of a captured method pickles, copies and deep-copies like a bound method."""
    import copy

    bound = Pickled().shift
    assert pickle.loads(pickle.dumps(bound))(1) == 11
    assert copy.copy(module_level)(2) == 2
    assert copy.deepcopy(bound)(3) == 13


@capture_args()
def module_helper(owner: Any, amount: int) -> tuple[Any, int]:
    """A module-level function that classes below also use as a method."""
    return owner, amount


class Borrower:
    """Uses captured module-level functions as methods, as legacy code sometimes does."""

    helper = module_helper
    as_classmethod = classmethod(module_helper)
    as_staticmethod = staticmethod(module_helper)


def test_module_function_used_as_a_method_binds_like_a_function() -> None:
    """A module-level function's proxy skips wrapt's per-call ``__self__`` lookup, yet bound
    as a method (via an instance, the class, classmethod or staticmethod) it gets and passes
    the same arguments as the function itself would."""
    plain = module_helper.__wrapped__
    obj = Borrower()
    if _proxies._C_BINDING:
        assert type(module_helper).__name__ == "_PlainCaptureWrapper"  # the unprobed binding
    assert module_helper._self_binding == "function"  # as every reader but wrapt's call sees it
    outer = wrapt.FunctionWrapper(module_helper, lambda w, i, a, k: w(*a, **k))
    assert outer._self_binding == "function"  # outer wrappers inherit it (wrapt.lru_cache...)
    assert module_helper(1, 2) == plain(1, 2) == (1, 2)
    assert load_capture("module_helper") == ((1, 2), {})
    assert obj.helper(3) == (obj, 3)
    assert load_capture("module_helper") == ((3,), {})  # self, bound by wrapt, not stored
    assert obj.helper._self_binding == "function"
    assert Borrower.helper(obj, 4) == (obj, 4)
    assert load_capture("module_helper") == ((4,), {})
    assert Borrower.as_staticmethod(5, 6) == (5, 6)
    assert load_capture("module_helper") == ((5, 6), {})
    if sys.version_info < (3, 13):  # classmethod wraps descriptors' __get__ until 3.13
        assert obj.as_classmethod(7) == (Borrower, 7)
    assert pickle.loads(pickle.dumps(module_helper)) is module_helper


def test_functions_defined_in_a_class_body_keep_wrapts_proxy() -> None:
    """Methods keep wrapt's own proxy; functions defined in a function body get ours."""
    assert type(Pickled.__dict__["shift"]).__name__ == "CaptureWrapper"

    def local(x: int) -> int:
        return x

    wrapped = capture_args()(local)
    if _proxies._C_BINDING:
        assert type(wrapped).__name__ == "_PlainCaptureWrapper"
    assert wrapped(3) == 3


def test_var_keyword_named_sensitively_filters_every_extra_keyword(capture_dir: Path) -> None:
    """def f(user, **credentials): every keyword collected by **credentials is redacted."""

    @capture_args()
    def login(user: str, **credentials: str) -> str:
        return user

    login(user="bob", mfa="991-204-ZZ", pin_hint="dog-name")
    _, kwargs = load_capture("login")
    assert kwargs["user"] == "bob"
    assert kwargs["mfa"].startswith("[FILTERED")
    assert kwargs["pin_hint"].startswith("[FILTERED")
    for file in capture_dir.rglob("*.cap"):
        assert b"991-204-ZZ" not in file.read_bytes()


def test_masked_exception_message_is_in_the_redaction_report() -> None:
    """A secret-shaped exception message is masked and reported (record_result=True)."""

    @capture_args(record_result=True)
    def charge(amount: int) -> None:
        raise ValueError("card 4111 1111 1111 1111 declined")

    with pytest.raises(ValueError, match="declined"):
        charge(5)
    record = load_capture_dict("charge")
    assert "4111" not in record["result"]["exception"]["message"]
    assert {"path": "result.exception", "reason": "pii"} in record["metadata"]["redactions"]


@pytest.mark.parametrize("async_storage", [False, True])
def test_secret_argument_echoed_in_result_or_exception_is_masked(
    capture_dir: Path, async_storage: bool
) -> None:
    """A password given by name never reaches the disk through the recorded result/exception."""
    from snapy_capture import flush

    @capture_args(record_result=True, serializer="json", async_storage=async_storage)
    def login(user: str, password: str) -> None:
        raise ValueError(f"bad credentials for {user}: {password!r}")

    @capture_args(record_result=True, serializer="json", async_storage=async_storage)
    def echo(user: str, password: str) -> dict[str, str]:
        return {"user": user, "echo": password}

    with pytest.raises(ValueError, match="Tr0ub4dor"):
        login("bob", "Tr0ub4dor&3")
    assert echo("bob", password="Tr0ub4dor&3")["echo"] == "Tr0ub4dor&3"
    assert flush(timeout=30)
    files = list(capture_dir.rglob("*.cap"))
    assert len(files) == 2
    assert all(b"Tr0ub4dor" not in file.read_bytes() for file in files)
    assert load_capture_dict("echo")["result"]["value"]["echo"] == "[FILTERED: name:password]"


def test_coroutine_resumed_in_another_context_keeps_its_result() -> None:
    """A scheduler stepping a captured coroutine in different Contexts gets its own result."""
    import contextvars

    @capture_args()
    async def compute(x: int) -> int:
        await asyncio.sleep(0)
        return x + 1

    async def outer() -> int:
        return await compute(1)

    coroutine = outer()
    contextvars.copy_context().run(coroutine.send, None)
    with pytest.raises(StopIteration) as done:
        contextvars.copy_context().run(coroutine.send, None)
    assert done.value.value == 2
