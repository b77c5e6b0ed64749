"""Reading a target file's YAML: safely, within bounds, keeping each part's line number.

PyYAML's *safe* loader only. A document using more aliases than a hand-written target file ever
needs is refused, so an "alias bomb" cannot exhaust memory; so is a list longer than the
caller's limit, while it is read.
"""

from __future__ import annotations

from snapy_capture.errors import ConfigError

TYPE_CHECKING = False  # not typing's: see snapy_capture._stdtypes
if TYPE_CHECKING:
    from typing import Any, Final

__all__ = ["MAX_ALIASES", "MAX_NODES", "Lines", "load_yaml"]

#: Aliases a target file may use (anchors for shared options are fine; thousands are an attack).
MAX_ALIASES: Final = 100
#: Nodes a target file may hold once its aliases are expanded (a few aliases nested can
#: otherwise stand for billions of nodes).
MAX_NODES: Final = 20_000


class Lines:
    """Line numbers (1-based) of a YAML node and of its children, when known."""

    __slots__ = ("children", "keys", "top")

    def __init__(self, top: int | None = None) -> None:
        self.top = top
        self.keys: dict[object, Lines] = {}
        self.children: list[Lines] = []

    def key(self, key: object) -> int | None:
        found = self.keys.get(key)
        return found.top if found is not None else self.top

    def sub(self, key: object) -> Lines:
        return self.keys.get(key) or Lines(self.top)

    def item(self, index: int) -> Lines:
        return self.children[index] if index < len(self.children) else Lines(self.top)

    @property
    def defaults(self) -> Lines:
        return self.sub("defaults")

    def dump(self) -> tuple[Any, ...]:
        """These line numbers as nested tuples (for the start-up cache, see :meth:`restore`)."""
        return (
            self.top,
            tuple((key, lines.dump()) for key, lines in self.keys.items()),
            tuple(child.dump() for child in self.children),
        )

    @classmethod
    def restore(cls, dumped: Any) -> Lines:
        """The line numbers :meth:`dump` gave.

        Raises:
            ValueError: ``dumped`` is not what :meth:`dump` gives.
        """
        try:
            top, keys, children = dumped
            if top is not None and type(top) is not int:
                raise TypeError(top)
            lines = cls(top)
            lines.keys = {key: cls.restore(sub) for key, sub in keys}
            lines.children = [cls.restore(child) for child in children]
        except (TypeError, ValueError) as exc:
            raise ValueError(f"not dumped line numbers: {exc!r}") from None
        return lines

    @classmethod
    def of(cls, node: Any) -> Lines:
        import yaml  # noqa: PLC0415 - only target files need yaml

        lines = cls(node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                if isinstance(key_node, yaml.ScalarNode):
                    child = cls.of(value_node)
                    # A key's own line reads better in messages than its value's.
                    child.top = key_node.start_mark.line + 1
                    lines.keys[key_node.value] = child
        elif isinstance(node, yaml.SequenceNode):
            lines.children = [cls.of(item) for item in node.value]
        return lines


def load_yaml(text: str, source: str, *, max_items: int) -> tuple[object, Lines]:
    """The document in ``text`` and the line numbers of its parts.

    Raises:
        ConfigError: invalid YAML, too many aliases, or a list of more than ``max_items``.
    """
    import yaml  # noqa: PLC0415 - `import snapy_capture` must not import yaml

    class CountingLoader(yaml.SafeLoader):
        """The safe loader, refusing documents with more than MAX_ALIASES aliases."""

        aliases = 0

        def compose_node(self, parent: Any, index: Any) -> Any:
            if type(index) is int and index >= max_items:
                # Refused while reading, not after: PyYAML's pure-Python parser is slow
                # to build nodes, and a list this long is no hand-written target file.
                mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
                raise ConfigError(
                    f"{source}:{mark.line + 1}: a list of more than {max_items} entries; "
                    f"a target file lists at most {max_items} targets (use patterns such "
                    f"as 'pkg.module:Class.*')"
                )
            if self.check_event(yaml.AliasEvent):
                self.aliases += 1
                if self.aliases > MAX_ALIASES:
                    mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
                    raise ConfigError(
                        f"{source}:{mark.line + 1}: more than {MAX_ALIASES} "
                        f"YAML aliases; refusing to expand them"
                    )
            return super().compose_node(parent, index)

    loader = None
    try:
        # Inside the try: the reader already rejects NUL and other unprintable characters.
        loader = CountingLoader(text)
        node = loader.get_single_node()
        if node is None:
            return None, Lines()
        if loader.aliases:
            _check_size(node, source)
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = exc.problem or exc.context or "invalid YAML"
        raise ConfigError(f"{source}{line}: invalid YAML: {problem}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: invalid YAML: {str(exc).splitlines()[0]}") from None
    except RecursionError:
        raise ConfigError(f"{source}: the YAML document is nested too deeply") from None
    finally:
        if loader is not None:
            loader.dispose()
    return data, Lines.of(node)


def _check_size(root: Any, source: str) -> None:
    """Refuse documents whose aliases add more than MAX_NODES nodes, or loop.

    Called only for documents that use aliases: without them a document is no larger than
    its text, which MAX_FILE_BYTES bounds (a long target list is not an alias bomb).
    """
    import yaml  # noqa: PLC0415

    own: set[int] = set()  # the nodes written out in the text, each counted once
    pending = [root]
    while pending:
        node = pending.pop()
        if id(node) in own:
            continue
        own.add(id(node))
        if isinstance(node, yaml.MappingNode):
            pending.extend(part for pair in node.value for part in pair)
        elif isinstance(node, yaml.SequenceNode):
            pending.extend(node.value)
    limit = len(own) + MAX_NODES
    sizes: dict[int, int] = {}
    active: set[int] = set()

    def size(node: Any) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in active:
            raise ConfigError(
                f"{source}:{node.start_mark.line + 1}: a YAML alias refers to "
                f"itself; refusing a recursive document"
            )
        active.add(key)
        total = 1
        if isinstance(node, yaml.MappingNode):
            total += sum(size(k) + size(v) for k, v in node.value)
        elif isinstance(node, yaml.SequenceNode):
            total += sum(size(item) for item in node.value)
        active.discard(key)
        sizes[key] = total = min(total, limit + 1)
        if total > limit:
            raise ConfigError(
                f"{source}: the YAML aliases expand to more than {MAX_NODES} "
                f"nodes; refusing to expand them"
            )
        return total

    size(root)
