"""Renaming class references inside pickled captures without unpickling them, and naming the
class a capture can no longer find."""

from __future__ import annotations

import pickle
import sys
import types
from collections.abc import Iterator
from pathlib import Path

import pytest

from snapy_capture.errors import CaptureFormatError, ConfigError
from snapy_capture.storage import CaptureStorage
from snapy_capture.storage._migrate import (
    MissingClassError,
    class_references,
    migrate_captures,
    parse_rename,
    parse_renames,
    rename_classes,
)

MODULE = "snapy_migrate_shop"


def _classes() -> dict[str, type]:
    class Order:
        def __init__(self, n: int) -> None:
            self.n = n

    class Customer:
        pass

    class Line:
        pass

    found: dict[str, type] = {"Order": Order, "Customer": Customer}
    Order.Line = Line  # type: ignore[attr-defined]
    for name, cls in found.items():
        cls.__module__ = MODULE
        cls.__qualname__ = name
    Line.__module__, Line.__qualname__ = MODULE, "Order.Line"
    return found


@pytest.fixture
def shop() -> Iterator[types.ModuleType]:
    module = types.ModuleType(MODULE)
    for name, cls in _classes().items():
        setattr(module, name, cls)
    sys.modules[MODULE] = module
    yield module
    sys.modules.pop(MODULE, None)


def _rename(shop: types.ModuleType) -> None:
    """``Order`` becomes ``Purchase`` (``Customer`` stays)."""
    cls = shop.Order
    del shop.Order
    cls.__qualname__ = "Purchase"
    cls.Line.__qualname__ = "Purchase.Line"
    shop.Purchase = cls


def _record(*args: object) -> dict[str, object]:
    return {"module": "app", "qualname": "total", "args": list(args), "kwargs": {}}


RENAME = {(MODULE, "Order"): (MODULE, "Purchase")}


@pytest.mark.parametrize("protocol", [0, 2, 4, 5])
def test_rename_keeps_other_classes_of_the_module(shop: types.ModuleType, protocol: int) -> None:
    """Only the renamed class (and the class nested in it) changes; a class of the same module
    sharing the memoized module name keeps its reference; identity is kept."""
    order = shop.Order(3)
    order.line = shop.Order.Line()
    data = pickle.dumps([shop.Customer(), order, order, shop.Customer()], protocol=protocol)
    _rename(shop)
    with pytest.raises(AttributeError):
        pickle.loads(data)
    fresh, count = rename_classes(data, RENAME)
    assert count >= 1
    assert (MODULE, "Order") not in class_references(fresh)
    loaded = pickle.loads(fresh)
    names = [type(x).__qualname__ for x in loaded]
    assert names == ["Customer", "Purchase", "Purchase", "Customer"]
    assert loaded[1] is loaded[2]
    assert loaded[1].n == 3
    assert type(loaded[1].line).__qualname__ == "Purchase.Line"


def test_no_reference_leaves_the_bytes_alone(shop: types.ModuleType) -> None:
    data = pickle.dumps([shop.Customer()], protocol=5)
    assert rename_classes(data, RENAME) == (data, 0)


def test_loading_names_the_missing_class_and_the_command(
    shop: types.ModuleType, tmp_path: Path
) -> None:
    """A renamed class: the error names it, why, and the migrate command for this capture."""
    storage = CaptureStorage(tmp_path)
    storage.save(_record(shop.Order(1)))
    _rename(shop)
    (path,) = storage.capture_files("app", "total")
    with pytest.raises(MissingClassError) as caught:
        storage.read(path)
    message = str(caught.value)
    assert f"class {MODULE}.Order not found" in message
    assert f"AttributeError: module '{MODULE}' has no attribute 'Order'" in message
    assert "renamed or moved" in message
    assert f"snapy-capture migrate app:total --path {tmp_path}" in message
    assert f"--rename {MODULE}:Order=NEW.MODULE:Order" in message


def test_loading_names_a_module_that_is_gone(shop: types.ModuleType, tmp_path: Path) -> None:
    storage = CaptureStorage(tmp_path)
    storage.save(_record(shop.Order(1)))
    sys.modules.pop(MODULE)
    (path,) = storage.capture_files("app", "total")
    with pytest.raises(CaptureFormatError, match=f"class {MODULE}.Order not found .*No module"):
        storage.read(path)


def test_signed_captures_are_signed_again(shop: types.ModuleType, tmp_path: Path) -> None:
    """With the key, a signed capture verifies after the rewrite; without it, it is refused
    and left byte for byte as it was."""
    key = b"k" * 32
    signed = CaptureStorage(tmp_path, signing_key=key)
    signed.save(_record(shop.Order(2)))
    _rename(shop)
    (path,) = signed.capture_files("app", "total")
    before = path.read_bytes()
    (info,) = signed.functions()

    keyless = CaptureStorage(tmp_path)
    report = migrate_captures(keyless, info, RENAME)
    assert report.rewritten == 0
    assert "set the signing key" in report.refused[0][1]
    assert path.read_bytes() == before

    report = migrate_captures(signed, info, RENAME)
    assert (report.rewritten, report.refused) == (1, [])
    record = signed.read(path)
    assert type(record["args"][0]).__qualname__ == "Purchase"
    assert record["args"][0].n == 2


def test_parse_rename() -> None:
    assert parse_rename("a.b:C.D=e:F") == (("a.b", "C.D"), ("e", "F"))
    for bad in ("a:B", "a=B", "a:B=c", "a b:C=d:E", "a:B=:C"):
        with pytest.raises(ConfigError, match=r"expected old\.module:OldClass"):
            parse_rename(bad)


def test_a_class_given_two_new_names_is_refused() -> None:
    """Which of two names its captures should get cannot be guessed: one line names both."""
    assert parse_renames(["a:B=c:D", "a:B=c:D", "x:Y=c:D"]) == {
        ("a", "B"): ("c", "D"),
        ("x", "Y"): ("c", "D"),
    }
    with pytest.raises(ConfigError, match=r"a:B is already renamed to c:D \(one new name"):
        parse_renames(["a:B=c:D", "a:B=e:F"])
