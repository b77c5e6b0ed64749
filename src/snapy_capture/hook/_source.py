"""What a module defines, read from its source (its syntax tree) without running it.

``snapy-capture check`` must not run the modules it checks: a legacy script without an
``if __name__ == "__main__"`` guard would run when imported. So the names are read from the
syntax tree, and each is given the kind :mod:`snapy_capture.hook._resolve` would give the live
object, for the same rule to select among them. What only running can tell (what an unknown
decorator returns, which branch of an ``if`` defines a name) is guessed: a decorated ``def`` is
taken for a function, a name defined in any branch is taken as defined, and a class decorated
by ``dataclass`` or attrs (``define``, ``frozen``, ``attr.s``...) has the ``__init__`` they write.
"""

from __future__ import annotations

import ast
import os
from dataclasses import dataclass, field
from typing import Final

from snapy_capture.hook._kinds import CLASS, FUNCTION, PROPERTY, UNKNOWN, VALUE

__all__ = ["SourceNames", "read_source"]

#: Decorators that make a ``def`` a property (the getter, or a setter/deleter of one).
_PROPERTY_DECORATORS: Final = frozenset({"property", "abc.abstractproperty"})
_ACCESSOR_SUFFIXES: Final = (".setter", ".getter", ".deleter")
#: Decorators whose result is neither a function nor a property: not captured.
_VALUE_DECORATORS: Final = frozenset({"cached_property", "functools.cached_property"})
_LITERALS: Final = (ast.Constant, ast.List, ast.Tuple, ast.Dict, ast.Set, ast.JoinedStr)
#: Class decorators that give the class an ``__init__`` of their own making (dataclasses and
#: the attrs family, as written after ``import``/``from ... import``): not in the source,
#: yet the hook finds it on the class and a ``Cls.*`` pattern selects it.
_INIT_MAKERS: Final = frozenset(
    {
        "dataclass",
        "dataclasses.dataclass",
        "pydantic.dataclasses.dataclass",
        "attr.s",
        "attr.attrs",
        "attrs",
        "attr.dataclass",
        "define",
        "frozen",
        "mutable",
        "attr.define",
        "attr.frozen",
        "attr.mutable",
        "attrs.define",
        "attrs.frozen",
        "attrs.mutable",
    }
)


@dataclass
class SourceNames:
    """The qualnames a module's source defines, each with its kind, and each class's bases."""

    kinds: dict[str, str] = field(default_factory=dict)
    #: class qualname -> its bases as written (``Base``, ``abc.ABC``).
    bases: dict[str, list[str]] = field(default_factory=dict)
    #: The modules of its ``from X import *`` lines, as written (``.tz``, ``pkg.mod``).
    stars: list[str] = field(default_factory=list)
    #: Its ``__all__`` when a literal list of names (what ``import *`` of it brings in).
    exports: list[str] | None = None
    #: Whether it is a package's ``__init__`` (relative imports are relative to itself).
    package: bool = False
    #: Names bound by ``from X import N [as A]``: A -> (X as written, ``.base``, N).
    imported: dict[str, tuple[str, str]] = field(default_factory=dict)
    #: Names bound by ``import a.b [as A]``: A (else ``a``) -> the module it names.
    modules: dict[str, str] = field(default_factory=dict)

    def lookup(self, qualname: str) -> tuple[str | None, list[str]]:
        """The kind of ``qualname``, looked up along the base classes defined in this source
        (as the hook looks along the MRO); else ``None`` and the bases defined elsewhere."""
        owner, _, name = qualname.rpartition(".")
        if not owner:
            return self.kinds.get(name), []
        elsewhere: list[str] = []
        seen: set[str] = set()
        pending = [owner]
        while pending:
            klass = pending.pop(0)
            if klass in seen:
                continue
            seen.add(klass)
            kind = self.kinds.get(f"{klass}.{name}")
            if kind is not None:
                return kind, []
            for base in self.bases.get(klass, ()):
                if self.kinds.get(base) == CLASS:
                    pending.append(base)
                elif base != "object":
                    elsewhere.append(base)
        return None, elsewhere


def read_source(source: bytes, filename: str) -> SourceNames:
    """The names defined in ``source`` (see :class:`SourceNames`).

    Raises:
        SyntaxError: the source does not parse.
    """
    names = SourceNames(package=os.path.basename(filename) == "__init__.py")
    _walk(ast.parse(source, filename=filename).body, "", names)
    return names


def _walk(body: list[ast.stmt], prefix: str, names: SourceNames) -> None:
    kinds = names.kinds
    for node in body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            kinds.setdefault(prefix + node.name, _def_kind(node))
        elif isinstance(node, ast.ClassDef):
            qualname = prefix + node.name
            kinds[qualname] = CLASS
            names.bases[qualname] = [_base(base, prefix, kinds) for base in node.bases]
            _walk(node.body, f"{qualname}.", names)
            if any(_makes_init(decorator) for decorator in node.decorator_list):
                kinds.setdefault(f"{qualname}.__init__", FUNCTION)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            kind = _value_kind(node.value, prefix, kinds)
            for name in targets:
                if isinstance(name, ast.Name):
                    kinds.setdefault(prefix + name.id, kind)
                    if name.id == "__all__" and not prefix:
                        names.exports = _literal_names(node.value)
        elif isinstance(node, (ast.Import, ast.ImportFrom)) and not prefix:
            for alias in node.names:
                if alias.name == "*" and isinstance(node, ast.ImportFrom):
                    names.stars.append("." * node.level + (node.module or ""))
                    continue
                local = alias.asname or alias.name.split(".")[0]
                kinds.setdefault(local, UNKNOWN)
                if isinstance(node, ast.ImportFrom):  # where a base class may come from
                    written = "." * node.level + (node.module or "")
                    names.imported.setdefault(local, (written, alias.name))
                else:
                    names.modules.setdefault(local, alias.name if alias.asname else local)
        else:  # definitions under if/try/with/for at this level still define names here
            for field_name in ("body", "orelse", "finalbody", "handlers"):
                for child in getattr(node, field_name, None) or []:
                    inner = child.body if isinstance(child, ast.ExceptHandler) else [child]
                    _walk(inner, prefix, names)


def _makes_init(decorator: ast.expr) -> bool:
    """Whether a class decorator is one that writes the class's ``__init__`` (``@dataclass``,
    ``@attrs.define``), not called with ``init=False``."""
    call = decorator if isinstance(decorator, ast.Call) else None
    if ast.unparse(call.func if call else decorator) not in _INIT_MAKERS:
        return False
    return not any(
        keyword.arg == "init"
        and isinstance(keyword.value, ast.Constant)
        and keyword.value.value is False
        for keyword in (call.keywords if call else ())
    )


def _literal_names(value: ast.expr | None) -> list[str] | None:
    if isinstance(value, (ast.List, ast.Tuple)) and all(
        isinstance(item, ast.Constant) and isinstance(item.value, str) for item in value.elts
    ):
        return [item.value for item in value.elts]  # type: ignore[attr-defined]
    return None


def _def_kind(node: ast.FunctionDef | ast.AsyncFunctionDef) -> str:
    for decorator in node.decorator_list:
        written = ast.unparse(decorator)
        if written in _PROPERTY_DECORATORS or written.endswith(_ACCESSOR_SUFFIXES):
            return PROPERTY
        if written in _VALUE_DECORATORS:
            return VALUE
    return FUNCTION


def _value_kind(value: ast.expr | None, prefix: str, kinds: dict[str, str]) -> str:
    if isinstance(value, _LITERALS):
        return VALUE
    if isinstance(value, ast.Name):
        # ``alias = method`` in the same body: the live name holds the same function.
        return kinds.get(prefix + value.id, UNKNOWN)
    return UNKNOWN


def _base(node: ast.expr, prefix: str, kinds: dict[str, str]) -> str:
    while isinstance(node, ast.Subscript):
        # A generic base (``Number[int]``, ``Generic[T]``): the class is what is subscripted.
        node = node.value
    written = ast.unparse(node)
    # In a class body, a name is looked up in that body first, then at module level.
    return prefix + written if kinds.get(prefix + written) == CLASS else written
