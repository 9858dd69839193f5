"""Bounded YAML reading for policy files.

Policies come from users and clusters, so a file must never cost more than its size: we
cap bytes, nesting depth and the number of nodes that aliases would expand to (the "billion
laughs" bomb is a few hundred bytes that expand to 10^9 nodes). Timestamps stay strings,
as they do when kubectl turns YAML into JSON for the API server.
"""

from __future__ import annotations

from typing import Any, ClassVar

import yaml

MAX_BYTES = 4 * 1024 * 1024
MAX_DEPTH = 64
MAX_NODES = 200_000


class YamlLimitError(yaml.YAMLError):
    """The document is well-formed but too big or too deep to be a policy."""


class _BoundedLoader(yaml.SafeLoader):
    """SafeLoader that counts every node it composes, including what aliases re-use."""

    yaml_implicit_resolvers: ClassVar[dict[str, list[tuple[str, Any]]]] = {
        first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0
        self._budget = MAX_NODES
        self._sizes: dict[int, int] = {}
        self._open_anchors: set[str] = set()

    def _spend(self, nodes: int) -> None:
        self._budget -= nodes
        if self._budget < 0:
            raise YamlLimitError(f"document expands to more than {MAX_NODES} nodes (alias bomb?)")

    def _expanded_size(self, node: yaml.Node) -> int:
        """Nodes a subtree stands for once aliases are expanded (memoised)."""
        key = id(node)
        if key in self._sizes:
            return self._sizes[key]
        size = 1  # no cycles: an alias to an anchor still being composed is refused
        if isinstance(node, yaml.SequenceNode):
            size += sum(self._expanded_size(child) for child in node.value)
        elif isinstance(node, yaml.MappingNode):
            size += sum(self._expanded_size(k) + self._expanded_size(v) for k, v in node.value)
        if size > MAX_NODES:
            raise YamlLimitError(f"document expands to more than {MAX_NODES} nodes (alias bomb?)")
        self._sizes[key] = size
        return size

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            anchor = self.peek_event().anchor
            if anchor in self._open_anchors:
                raise YamlLimitError(f"alias *{anchor} refers to itself")
            target = self.anchors.get(anchor)
            if target is not None:
                self._spend(self._expanded_size(target))
            return super().compose_node(parent, index)
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise YamlLimitError(f"nesting deeper than {MAX_DEPTH} levels")
        self._spend(1)
        anchor = getattr(self.peek_event(), "anchor", None)
        if anchor:
            self._open_anchors.add(anchor)
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1
            self._open_anchors.discard(anchor)


def error_line(origin: str, exc: BaseException) -> str:
    """`file:line:col: problem`, as compilers print it, from PyYAML's multi-line message.

    PyYAML's own text names `<unicode string>` and spreads over several lines; editors and
    CI annotations want the position first. Errors without a position keep their reason.
    """
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None)
    if mark is None or not problem:
        return f"{origin}: {' '.join(str(exc).split()) or type(exc).__name__}"
    context, context_mark = getattr(exc, "context", None), getattr(exc, "context_mark", None)
    started = f" ({context} at line {context_mark.line + 1})" if context and context_mark else ""
    return f"{origin}:{mark.line + 1}:{mark.column + 1}: {problem}{started}"


def load_documents(text: str) -> list[Any]:
    """Every document in `text`; raises `yaml.YAMLError` (or ValueError) with a reason."""
    if len(text) > MAX_BYTES:
        raise YamlLimitError(f"file larger than {MAX_BYTES} bytes")
    loader = _BoundedLoader(text)
    try:
        docs = []
        while loader.check_data():
            docs.append(loader.get_data())
        return docs
    finally:
        loader.dispose()
