"""Cycles and shared references through capture: stored once, loaded back as one object.

A tree whose children point to their parent, tokens that point to their stream, an ``ast``
tree given parent pointers the usual way, the same object passed twice: each loads back with
the same links and no redaction, in every mode that can store objects. A secret inside such a
structure is still redacted, and nothing kept whole leads back to it.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest

from snapy_capture import capture_args, flush, load_capture, load_capture_dict

PW = "Zq8-cyclic-pw-77"

PICKLE_MODES = [
    pytest.param({}, id="sync-pickle"),
    pytest.param({"async_storage": True}, id="async-pickle"),
    pytest.param({"async_storage": True, "lazy_serialization": True}, id="lazy-pickle"),
]
MODES = [
    *PICKLE_MODES,
    pytest.param({"serializer": "jsonpickle"}, id="sync-jsonpickle"),
    pytest.param({"serializer": "jsonpickle", "async_storage": True}, id="async-jsonpickle"),
]


class Node:
    def __init__(self, name: str, parent: Node | None = None) -> None:
        self.name = name
        self.parent = parent
        self.children: list[Node] = []
        if parent is not None:
            parent.children.append(self)


class Token:
    __slots__ = ("stream", "ttype", "value")

    def __init__(self, value: str, ttype: str, stream: TokenStream) -> None:
        self.value = value
        self.ttype = ttype
        self.stream = stream


class TokenStream:
    def __init__(self, text: str) -> None:
        self.tokens = [
            Token(word, "Keyword" if word.isupper() else "Name", self) for word in text.split()
        ]


class Handle:
    """Pickled by its own ``__reduce__`` (kept whole or not at all) and pointing back."""

    def __init__(self, owner: Any) -> None:
        self.owner = owner

    def __reduce__(self) -> tuple[Any, ...]:
        return (Handle, (self.owner,))


def parented(source: str) -> ast.Module:
    """An ``ast`` tree with parent pointers, set the way tools commonly set them."""
    tree = ast.parse(source)
    for node in ast.walk(tree):
        for child in ast.iter_child_nodes(node):
            child.parent = node  # type: ignore[attr-defined]
    return tree


def _capture(name: str) -> tuple[tuple[Any, ...], dict[str, Any], dict[str, Any]]:
    assert flush(timeout=30)
    args, kwargs = load_capture(name)
    return args, kwargs, load_capture_dict(name)


@pytest.mark.parametrize("options", MODES)
def test_a_tree_whose_children_point_to_their_parent_loads_back_linked(
    options: dict[str, Any],
) -> None:
    """child.parent is the tree; a node and the tree passed again are the same objects."""

    @capture_args(**options)
    def render(tree: Node, node: Node, root: Node | None = None) -> None:
        pass

    tree = Node("root")
    first = Node("a", tree)
    Node("b", first)
    render(tree, first, root=tree)
    (loaded, node), kwargs, record = _capture("render")
    assert loaded.children[0].parent is loaded
    assert loaded.children[0].children[0].parent is loaded.children[0]
    assert node is loaded.children[0]
    assert kwargs["root"] is loaded
    assert record["metadata"].get("redactions", []) == []


@pytest.mark.parametrize("options", MODES)
def test_lexer_tokens_pointing_to_their_stream_are_kept(options: dict[str, Any]) -> None:
    """A statement's tokens (named ``tokens``, beside ``keyword_case``) load back linked."""

    @capture_args(**options)
    def format_tokens(tokens: list[Token], keyword_case: str = "lower") -> None:
        pass

    stream = TokenStream("SELECT name FROM users")
    format_tokens(stream.tokens, keyword_case="upper")
    (tokens,), kwargs, record = _capture("format_tokens")
    assert [token.value for token in tokens] == ["SELECT", "name", "FROM", "users"]
    assert all(token.stream.tokens is tokens for token in tokens)
    assert kwargs == {"keyword_case": "upper"}
    assert record["metadata"].get("redactions", []) == []


@pytest.mark.parametrize("options", PICKLE_MODES)
def test_an_ast_tree_with_parent_pointers_loads_back_whole(options: dict[str, Any]) -> None:
    """ast nodes pickle through their own __reduce__: kept whole, with their parent links."""

    @capture_args(**options)
    def lint(tree: ast.Module) -> None:
        pass

    lint(parented("total = price * 2\nprint(total)"))
    (tree,), _, record = _capture("lint")
    assert isinstance(tree, ast.Module)
    assert tree.body[0].parent is tree
    assert tree.body[0].targets[0].parent is tree.body[0]
    assert ast.unparse(tree) == "total = price * 2\nprint(total)"
    assert record["metadata"].get("redactions", []) == []


@pytest.mark.parametrize("options", MODES)
def test_a_secret_inside_a_cycle_is_redacted_and_nothing_leads_back_to_it(
    capture_dir: Path, options: dict[str, Any]
) -> None:
    """The password is replaced; an object kept whole that points back to its owner is
    replaced too (stored whole, it would store the owner's password); links are kept."""

    @capture_args(**options)
    def login(tree: Node, node: Node) -> None:
        pass

    tree = Node("root")
    child = Node("user", tree)
    child.password = PW  # type: ignore[attr-defined]
    tree.handle = Handle(tree)  # type: ignore[attr-defined]
    login(tree, child)
    (loaded, node), _, record = _capture("login")
    data = b"".join(path.read_bytes() for path in capture_dir.rglob("*") if path.is_file())
    assert PW.encode() not in data
    assert node is loaded.children[0]
    assert node.parent is loaded
    assert node.password == "[FILTERED: name:password]"
    assert loaded.handle == "[FILTERED: opaque:Handle holds filtered data]"
    assert sorted(entry["path"] for entry in record["metadata"]["redactions"]) == [
        "tree.children[0].password",
        "tree.handle",
    ]
    assert child.password == PW  # the caller's objects are untouched


def test_json_says_it_cannot_store_a_cycle() -> None:
    """JSON has no references: a cyclic argument is a placeholder that says why."""

    @capture_args(serializer="json")
    def walk(graph: dict[str, Any], shared: dict[str, Any]) -> None:
        pass

    graph: dict[str, Any] = {"name": "root"}
    graph["self"] = graph
    walk(graph, {"a": [1], "b": [2]})
    (loaded, shared), _, record = _capture("walk")
    assert loaded == "[FILTERED: unserializable dict: a reference cycle, which JSON cannot store]"
    assert shared == {"a": [1], "b": [2]}
    assert record["metadata"]["redactions"] == [{"path": "args[0]", "reason": "unserializable"}]
