"""A captured function has its own annotations, as it has without capture.

The proxy classes had an annotated attribute in their bodies, which gave each class an
``__annotations__`` dict of its own; Python looks an instance's ``__annotations__`` up on its
class first, so every captured function answered with ours:
``{'__bound_function_wrapper__': 'type[_BoundCaptureWrapper]', '_self_capture_site': 'object'}``,
and ``typing.get_type_hints(f)`` raised ``NameError: name '_BoundCaptureWrapper' is not
defined``. Frameworks that read a function's annotations (pydantic's ``validate_call``,
FastAPI's dependencies, typer, ``functools.singledispatch.register``) broke on a captured
function. Reading a class's ``__annotations__`` once (``inspect.get_annotations(type(f))``)
would have done the same to a class without any.
"""

from __future__ import annotations

import functools
import inspect
import typing
from pathlib import Path

import pytest

from snapy_capture import capture_args
from snapy_capture.hook import install_import_hook, uninstall_import_hook


def plain(x: int, y: str = "a") -> float:
    return 1.0


class Service:
    def method(self, z: float) -> int:
        return 0

    @staticmethod
    def static(n: int) -> int:
        return n

    @classmethod
    def klass(cls, n: bytes) -> bytes:
        return n


async def coroutine(q: list[int]) -> dict[str, int]:
    return {}


HINTS = {
    "plain": {"x": int, "y": str, "return": float},
    "method": {"z": float, "return": int},
    "static": {"n": int, "return": int},
    "klass": {"n": bytes, "return": bytes},
    "coroutine": {"q": list[int], "return": dict[str, int]},
}


def _captured() -> dict[str, typing.Any]:
    class Captured:
        method = capture_args(Service.method)
        static = staticmethod(capture_args(Service.static))
        klass = classmethod(capture_args(Service.__dict__["klass"].__func__))

    return {
        "plain": capture_args(plain),
        "method": Captured().method,
        "static": Captured.static,
        "klass": Captured.klass,
        "coroutine": capture_args(coroutine),
        "unbound method": Captured.method,
    }


@pytest.mark.parametrize("read_class_first", [False, True])
def test_a_captured_function_has_the_functions_annotations(read_class_first: bool) -> None:
    functions = _captured()
    if read_class_first:  # a class's __annotations__ read once (docs tools, pydantic...)
        for function in functions.values():
            inspect.get_annotations(type(function))
    for name, function in functions.items():
        expected = HINTS[name.replace("unbound ", "")]
        assert typing.get_type_hints(function) == expected, name
        assert set(function.__annotations__) == set(expected), name
        assert inspect.get_annotations(function, eval_str=True) == expected, name


def test_frameworks_reading_annotations_work_on_a_captured_function() -> None:
    @functools.singledispatch
    def describe(value: object) -> str:
        return "object"

    @describe.register
    @capture_args
    def _(value: int) -> str:  # registered by its annotation
        return "int"

    assert describe(3) == "int"
    assert describe("x") == "object"


def test_the_import_hook_s_proxies_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capture_dir: Path
) -> None:
    (tmp_path / "tgt_annotated.py").write_text(
        "def handle(order: int, note: str = '') -> bool:\n    return True\n", encoding="utf-8"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    install_import_hook({"targets": ["tgt_annotated:handle"]})
    try:
        import tgt_annotated  # type: ignore[import-not-found]

        assert type(tgt_annotated.handle).__module__ == "snapy_capture.capture._proxies"
        expected = {"order": int, "note": str, "return": bool}
        assert typing.get_type_hints(tgt_annotated.handle) == expected
    finally:
        uninstall_import_hook()
