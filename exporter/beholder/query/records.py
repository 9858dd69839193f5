"""What `logs` shows: records (event, alert, observer) and the filters users pick them with.

The agent and the offline readers both produce `Record`s, so `beholder logs` renders a live
stream and a recorded file the same way: as KubeArmor JSON (`to_kubearmor`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, NamedTuple

from beholder.events.interfaces import HostIdentity
from beholder.events.model import Alert, Event, Operation
from beholder.formats.kubearmor import to_kubearmor

LOG_FILTERS = ("policy", "system", "all")
LOG_TYPES = ("ContainerLog", "HostLog")
OPERATIONS = {
    "process": Operation.PROCESS,
    "file": Operation.FILE,
    "network": Operation.NETWORK,
    "syscall": Operation.SYSCALL,
    "capability": Operation.CAPABILITY,
}


class Record(NamedTuple):
    event: Event
    alert: Alert | None
    host: HostIdentity


def batch_records(events: list[Event], alerts: list[Alert], host: HostIdentity) -> list[Record]:
    return [Record(ev, None, host) for ev in events] + [Record(a.event, a, host) for a in alerts]


def kubearmor_dict(record: Record) -> dict[str, Any]:
    return to_kubearmor(record.event, record.host, record.alert)


_FIELDS = (
    "namespace",
    "pod",
    "container",
    "log_filter",
    "operation",
    "log_type",
    "resource",
    "source",
    "labels",
)


@dataclass(frozen=True, slots=True)
class RecordFilter:
    """karmor's filters: namespace, pod, container, policy/system/all, operation, container or
    host records (`log_type`), text in Resource or Source, and `k=v,k2=v2` labels."""

    namespace: str = ""
    pod: str = ""
    container: str = ""
    log_filter: str = "policy"
    operation: str = ""
    log_type: str = ""
    resource: str = ""
    source: str = ""
    labels: str = ""

    def __post_init__(self) -> None:
        if self.log_filter not in LOG_FILTERS:
            raise ValueError(f"logFilter: {self.log_filter!r} is not one of {', '.join(LOG_FILTERS)}")
        if self.operation and self.operation not in OPERATIONS:
            raise ValueError(f"operation: {self.operation!r} is not one of {', '.join(OPERATIONS)}")
        if self.log_type and self.log_type not in LOG_TYPES:
            raise ValueError(f"logType: {self.log_type!r} is not one of {', '.join(LOG_TYPES)}")
        if any("=" not in pair for pair in self._label_pairs()):
            raise ValueError(f"labels: {self.labels!r} is not key=value[,key=value]")

    def _label_pairs(self) -> list[str]:
        return [p.strip() for p in self.labels.split(",") if p.strip()]

    @classmethod
    def from_dict(cls, raw: Any) -> RecordFilter:
        """From a client request; wrong types or values raise ValueError with the field."""
        if not isinstance(raw, Mapping):
            raise ValueError("filter: expected an object")
        values = {}
        for name in _FIELDS:
            value = raw.get(name, "" if name != "log_filter" else "policy")
            if not isinstance(value, str) or len(value) > 253:
                raise ValueError(f"filter.{name}: expected a short string")
            values[name] = value
        return cls(**values)

    def to_dict(self) -> dict[str, str]:
        return asdict(self)

    def matches(self, record: Record) -> bool:
        if record.alert is None and self.log_filter == "policy":
            return False
        if record.alert is not None and self.log_filter == "system":
            return False
        event = record.event
        if self.operation and event.operation is not OPERATIONS[self.operation]:
            return False
        if self.namespace or self.pod or self.container:
            ctr = event.container
            if ctr is None:
                return False
            if (self.namespace and ctr.namespace != self.namespace) or (
                self.pod and ctr.pod_name != self.pod
            ):
                return False
            if self.container and self.container not in (ctr.name, ctr.container_id, ctr.container_id[:12]):
                return False
        if self.log_type and (self.log_type == "HostLog") != (event.container is None):
            return False
        if self.labels:
            labels = event.container.labels if event.container else {}
            wanted = dict(pair.split("=", 1) for pair in self._label_pairs())
            if any(labels.get(k.strip()) != v.strip() for k, v in wanted.items()):
                return False
        if self.resource or self.source:
            shown = kubearmor_dict(record)
            if self.resource not in shown.get("Resource", "") or self.source not in shown.get("Source", ""):
                return False
        return True
