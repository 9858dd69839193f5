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


@dataclass(frozen=True, slots=True)
class RecordFilter:
    """karmor's filters: namespace, pod, container, policy/system/all, operation."""

    namespace: str = ""
    pod: str = ""
    container: str = ""
    log_filter: str = "policy"
    operation: str = ""

    def __post_init__(self) -> None:
        if self.log_filter not in LOG_FILTERS:
            raise ValueError(f"logFilter: {self.log_filter!r} is not one of {', '.join(LOG_FILTERS)}")
        if self.operation and self.operation not in OPERATIONS:
            raise ValueError(f"operation: {self.operation!r} is not one of {', '.join(OPERATIONS)}")

    @classmethod
    def from_dict(cls, raw: Any) -> RecordFilter:
        """From a client request; wrong types or values raise ValueError with the field."""
        if not isinstance(raw, Mapping):
            raise ValueError("filter: expected an object")
        values = {}
        for name in ("namespace", "pod", "container", "log_filter", "operation"):
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
        return True
