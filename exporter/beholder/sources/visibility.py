"""Which events leave the agent as telemetry, per pod, per namespace and for the host.

KubeArmor's `kubearmor-visibility` pod or namespace annotation (the pod's wins) and its `visibility` /
`hostVisibility` settings name the operations to report: `process`, `file`, `network`,
`capabilities` (comma-separated), or `none`. Visibility limits telemetry only: every event
is still evaluated, so an audit alert never vanishes because its namespace is quiet.
Syscall events follow `process` (KubeArmor has no separate word for them).
"""

from __future__ import annotations

from collections.abc import Mapping

from beholder.events.model import ContainerInfo, Event, Operation

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
_POD_VALUES = 256  # distinct pod annotation values remembered parsed


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
        self._pods: dict[str, Visible | None] = {}  # a pod annotation's text -> its set (None: invalid)

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

    def of_container(self, container: ContainerInfo | None) -> Visible:
        """What one container reports: its pod's annotation, else its namespace's."""
        if container is None:
            return self.host
        note = container.annotations.get(VISIBILITY_ANNOTATION) if container.annotations else None
        if note is not None:
            if note not in self._pods:
                if len(self._pods) >= _POD_VALUES:
                    self._pods.clear()
                try:
                    self._pods[note] = parse_visibility(note)
                except VisibilityError:
                    self._pods[note] = None  # ignored, as an invalid namespace annotation is
            pod = self._pods[note]
            if pod is not None:
                return pod
        return self.namespaces.get(container.namespace, self.containers)

    def telemetry(self, events: list[Event]) -> list[Event]:
        """The events to export: those whose operation their container's visibility names."""
        annotated = any(e.container is not None and e.container.annotations for e in events)
        if not annotated and self._all_visible():
            return events
        of = self.of_container
        return [event for event in events if event.operation in of(event.container)]

    def _all_visible(self) -> bool:
        return not self.namespaces and self.containers == EVERYTHING and self.host == EVERYTHING
