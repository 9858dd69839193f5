"""Which events leave the agent as telemetry, per namespace and for the host.

KubeArmor's `kubearmor-visibility` namespace annotation and its `visibility` /
`hostVisibility` settings name the operations to report: `process`, `file`, `network`,
`capabilities` (comma-separated), or `none`. Visibility limits telemetry only: every event
is still evaluated, so an audit alert never vanishes because its namespace is quiet.
Syscall events follow `process` (KubeArmor has no separate word for them).
"""

from __future__ import annotations

from collections.abc import Mapping

from beholder.events.model import Event, Operation

VISIBILITY_ANNOTATION = "kubearmor-visibility"
WORDS: dict[str, tuple[Operation, ...]] = {
    "process": (Operation.PROCESS, Operation.SYSCALL),
    "file": (Operation.FILE,),
    "network": (Operation.NETWORK,),
    "capabilities": (Operation.CAPABILITY,),
}
ALL = "process,file,network,capabilities"
Visible = frozenset[Operation]
EVERYTHING: Visible = frozenset(Operation)


class VisibilityError(ValueError):
    """A visibility value with a word KubeArmor does not know."""


def parse_visibility(text: str) -> Visible:
    """`process,file` → the operations to report; `none` (or empty) → nothing."""
    words = [w.strip().lower() for w in text.split(",") if w.strip()]
    if words in ([], ["none"]):
        return frozenset()
    unknown = [w for w in words if w not in WORDS]
    if unknown:
        raise VisibilityError(f"unknown visibility {unknown[0]!r} (expected {ALL} or none)")
    return frozenset(op for w in words for op in WORDS[w])


def describe(visible: Visible) -> str:
    """The KubeArmor spelling of a visibility set."""
    words = [w for w, ops in WORDS.items() if ops[0] in visible]
    return ",".join(words) or "none"


class Visibility:
    """Per-namespace visibility from annotations over the container default; host apart."""

    def __init__(self, containers: Visible = EVERYTHING, host: Visible = EVERYTHING) -> None:
        self.containers = containers
        self.host = host
        self.namespaces: dict[str, Visible] = {}
        self.errors: dict[str, str] = {}  # namespace -> why its annotation was ignored

    def set_namespaces(self, annotations: Mapping[str, Mapping[str, str]]) -> None:
        """Every namespace's annotations at once; swapped in one assignment."""
        chosen: dict[str, Visible] = {}
        errors: dict[str, str] = {}
        for namespace, notes in annotations.items():
            value = notes.get(VISIBILITY_ANNOTATION)
            if value is None:
                continue
            try:
                chosen[namespace] = parse_visibility(value)
            except VisibilityError as exc:
                errors[namespace] = f"namespace {namespace}: annotation {VISIBILITY_ANNOTATION}: {exc}"
        self.namespaces = chosen
        self.errors = errors

    def of(self, namespace: str | None) -> Visible:
        """What a container of `namespace` reports (None: the host)."""
        if namespace is None:
            return self.host
        return self.namespaces.get(namespace, self.containers)

    def telemetry(self, events: list[Event]) -> list[Event]:
        """The events to export; the batch itself is returned when nothing is hidden."""
        namespaces, containers, host = self.namespaces, self.containers, self.host
        if not namespaces and containers == EVERYTHING and host == EVERYTHING:
            return events
        kept = []
        for event in events:
            c = event.container
            visible = host if c is None else namespaces.get(c.namespace, containers)
            if event.operation in visible:
                kept.append(event)
        return kept
