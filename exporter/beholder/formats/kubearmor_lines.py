"""KubeArmor JSON lines, written fast enough to record every event of a busy host.

`json.dumps(to_kubearmor(...))` builds a dict of some 25 fields per event, but most of them
(observer, container, process names, pids, UID, Type, Source, Cwd) are the same for every
event of a process. This writer has `to_kubearmor` render them once per distinct set of
values, keeps that text, and joins it with the few fields of each event (time, Operation,
Resource, Data, EventData, Result). The text equals `json.dumps(to_kubearmor(...))` with
compact separators, as KubeArmor's Go encoder writes it (a test compares the two); alerts
and loss notices (rare) are rendered whole.
"""

from __future__ import annotations

import json
from typing import Any

from beholder.events import Alert, Event, LossReport, kinds
from beholder.events.interfaces import HostIdentity
from beholder.events.model import ContainerInfo, ProcessInfo
from beholder.formats.kubearmor import loss_record, per_event_fields, to_kubearmor, updated_time

_dumps = json.JSONEncoder(separators=(",", ":")).encode
_string: Any = json.encoder.encode_basestring_ascii  # what json.dumps uses for str (C)
_HEAD = frozenset({"Timestamp", "UpdatedTime"})
_PER_EVENT = frozenset({"Operation", "Resource", "Data", "EventData", "Result"})
_CACHE_LIMIT = 16384  # distinct processes x pids x users; a full cache starts again


def dumps(record: dict[str, Any]) -> str:
    """A KubeArmor record as one compact JSON line (without the newline)."""
    return _dumps(record)


class KubeArmorLines:
    """Renders events and alerts for one observer (`host`); keeps the per-process text."""

    def __init__(self, host: HostIdentity) -> None:
        self.host = host
        self._shared: dict[tuple, tuple[str, str]] = {}  # values -> (middle, end)

    def alert(self, alert: Alert) -> str:
        return _dumps(to_kubearmor(alert.event, self.host, alert))

    def loss(self, report: LossReport) -> str:
        return _dumps(loss_record(report, self.host))

    def event(self, event: Event) -> str:
        proc = event.process
        ctr = event.container
        key = (
            event.host_pid,
            event.uid,
            event.comm,
            event.kind == kinds.PROCESS_EXEC,
            None if proc is None else _process_key(proc),
            None if ctr is None else _container_key(ctr),
        )
        shared = self._shared.get(key)
        if shared is None:
            shared = self._learn(event, key)
        middle, end = shared
        operation, resource, data, event_data, result = per_event_fields(event)
        ts = event.timestamp_ns
        seconds = ts // 1_000_000_000
        # left out at their zero value, as KubeArmor's encoder does (a listen has no Resource)
        pairs = ",".join(f"{_string(k)}:{_string(v)}" for k, v in event_data.items())
        return "".join(
            (
                f'{{"Timestamp":{seconds},' if seconds else "{",
                f'"UpdatedTime":"{updated_time(ts)}",' if ts else "",
                middle,
                f'"Operation":"{operation}"',
                f',"Resource":{_string(resource)}' if resource else "",
                f',"Data":{_string(data)}' if data else "",
                f',"EventData":{{{pairs}}}' if pairs else "",
                f',"Result":{_string(result)}' if result else "",
                end,
            )
        )

    def _learn(self, event: Event, key: tuple) -> tuple[str, str]:
        """The text of the fields shared by the events with these values, from `to_kubearmor`:
        those before `Operation` (without the time) and those after the per-event ones."""
        record = to_kubearmor(event, self.host)
        names = list(record)
        first = names.index("Operation")
        middle = _dumps({k: record[k] for k in names[:first] if k not in _HEAD})[1:-1]
        end = _dumps({k: record[k] for k in names[first:] if k not in _PER_EVENT})[1:-1]
        if len(self._shared) >= _CACHE_LIMIT:
            self._shared.clear()
        shared = self._shared[key] = (middle + "," if middle else "", "," + end + "}" if end else "}")
        return shared


def _process_key(proc: ProcessInfo) -> tuple:
    return (proc.exe, proc.parent_exe, proc.cmdline, proc.cwd, proc.ppid, proc.ns_pid, proc.ns_ppid)


def _container_key(ctr: ContainerInfo) -> tuple:
    """What a container contributes; labels are replaced as a whole when they change."""
    return (
        ctr.container_id,
        ctr.name,
        ctr.image,
        ctr.pod_name,
        ctr.namespace,
        ctr.workload_kind,
        ctr.workload_name,
        id(ctr.labels),
        len(ctr.labels),
    )
