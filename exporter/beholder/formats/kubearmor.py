"""KubeArmor's native JSON, field for field, so existing consumers keep working.

Field names, order and value types follow the examples in KubeArmor's event documentation
(seeds 000, 002, 004): PascalCase keys, `Timestamp` in seconds, `UpdatedTime` ISO-8601 with
microseconds, `Severity` as a string, `Tags` comma-joined plus `ATags` as a list, `Data`
and `Resource` as `key=value` strings, `Type` ContainerLog/HostLog/MatchedPolicy/
MatchedHostPolicy. Container-only fields are left out of host records, as KubeArmor does.

A field at its zero value is left out as KubeArmor's records leave it out: they are protobuf
messages written by Go's JSON encoder, whose generated tags are all `omitempty`, except PPID
and UID, whose `omitempty` KubeArmor strips when it generates the code (protobuf/Makefile);
so an empty Resource, an unknown parent, a pod without labels or a HostPPID of 0 are absent,
while `"PPID": 0` and `"UID": 0` stay (seed 004). Readers take every field with `.get`.
"""

from __future__ import annotations

import time
from functools import lru_cache
from typing import Any

from beholder.events import Alert, Event, LossReport, kinds
from beholder.events.decoding import family_name
from beholder.events.facts import Capability, DnsQuestion
from beholder.events.interfaces import HostIdentity
from beholder.events.model import SYSTEM_EVENT, ProcessInfo
from beholder.formats.arguments import arguments
from beholder.formats.resource import resource_text

# Address parts live in `Resource`; KubeArmor's `Data` keeps only the call's own arguments.
_NOT_IN_DATA = frozenset(
    {"sa_family", "sin_port", "sin_addr", "sin6_port", "sin6_addr", "sun_path", "nl_pid", "nl_groups", "argv"}
)
_NOT_IN_EVENT_DATA = frozenset({"sin_addr", "sin6_addr"})
_PORT_KEYS = {"sin_port": "port", "sin6_port": "port"}


# The two fields KubeArmor writes even at 0 (protobuf/Makefile strips their `omitempty`).
KEPT_WHEN_ZERO = frozenset({"PPID", "UID"})


def without_empty(record: dict[str, Any]) -> dict[str, Any]:
    """The record as KubeArmor's encoder writes it: "", 0, [] and {} left out (PPID, UID kept)."""
    return {key: value for key, value in record.items() if value or key in KEPT_WHEN_ZERO}


def updated_time(ts_ns: int) -> str:
    """`2023-06-11T13:43:43.289380Z`: microseconds and a Z, as KubeArmor writes it (the
    seconds' text is kept: the events of one second share it)."""
    seconds, ns = divmod(ts_ns, 1_000_000_000)
    return f"{_second(seconds)}.{ns // 1000:06d}Z"


@lru_cache(maxsize=64)
def _second(seconds: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))


# The arguments KubeArmor's monitor (logUpdate.go) writes in `Data` for these syscalls, in its
# order and under its names (our key, its key); other syscalls keep every argument we decode.
_KUBEARMOR_DATA: dict[str, tuple[tuple[str, str], ...]] = {
    "socket": (),
    "unlink": (),
    "unlinkat": (("flags", "flags"),),
    "listen": (("fd", "fd"),),
    "chown": (("uid", "userid"), ("gid", "group")),
    "fchownat": (("uid", "userid"), ("gid", "group"), ("flags", "mode")),
    "setgid": (("groupid", "userid"),),  # its setuid/setgid case writes both ids as userid=
}


def data_text(event: Event, args: dict[str, str]) -> str:
    """KubeArmor's `Data`: `syscall=SYS_OPENAT fd=-100 flags=O_RDONLY|O_CLOEXEC`; a DNS
    question as its udp_sendmsg probe writes it: `kfunc=UDP_SENDMSG,domain=…,daddr=…,qtype=A`."""
    if isinstance(event.facts, DnsQuestion):
        return _dns_data(event.facts)
    parts = [f"syscall=SYS_{event.syscall.upper()}"] if event.syscall else []
    chosen = _KUBEARMOR_DATA.get(event.syscall)
    if chosen is None:
        parts += [f"{k}={v}" for k, v in args.items() if k not in _NOT_IN_DATA]
    else:
        parts += [f"{theirs}={args.get(ours, '')}" for ours, theirs in chosen]
    return " ".join(parts)


def event_data(event: Event, args: dict[str, str]) -> dict[str, str]:
    """KubeArmor's structured `EventData`: the syscall plus its arguments as strings."""
    out = {"syscall": event.syscall}
    for key, value in args.items():
        if key not in _NOT_IN_EVENT_DATA:
            out[_PORT_KEYS.get(key, key)] = value
    return out


def _source(event: Event) -> str:
    """Who performed the operation: for an exec the parent, otherwise the process itself."""
    proc = event.process
    if proc is None:
        return event.comm
    if event.kind == kinds.PROCESS_EXEC:
        return proc.parent_exe
    return proc.cmdline or proc.exe or event.comm


def _ppid(proc: ProcessInfo | None, in_container: bool) -> int:
    """In a container PID/PPID are namespace pids (0 while still unknown); on the host, host
    pids. A container process whose parent is outside its namespace (PID 1's runtime, the
    `runc exec` that started a shell) gets the parent's host pid, PPID equal to HostPPID, as
    seed 002's PID 1 records and seed 000's `kubectl exec` shell (PID 832) show."""
    if proc is None:
        return 0
    if not in_container or (proc.ns_ppid == 0 and proc.ns_pid > 0):
        return proc.ppid
    return proc.ns_ppid


def _dns_data(question: DnsQuestion) -> str:
    """KubeArmor names only A and AAAA questions (its qtype is empty for the others)."""
    qtype = question.type if question.type in ("A", "AAAA") else ""
    server = question.server.ip if question.server is not None else ""
    return f"kfunc=UDP_SENDMSG,domain={(question.name or '').rstrip('.')},daddr={server},qtype={qtype}"


def _resource(event: Event) -> str:
    if event.syscall == "listen":  # KubeArmor's monitor leaves a listen's Resource empty
        return ""
    if isinstance(event.facts, DnsQuestion):  # the server's family and port, as KubeArmor
        server = event.facts.server
        return f"sa_family={family_name(server.family) if server else 'AF_INET'} sin_port=53"
    if event.kind == kinds.PROCESS_EXEC:  # execveat by fd has no path: no leading space
        return " ".join(([event.resource] if event.resource else []) + list(event.argv[1:]))
    if isinstance(event.facts, Capability):  # KubeArmor names capabilities CAP_NET_RAW
        name = event.facts.name  # a number past the known list is already named CAP_<n>
        return name if name.startswith("CAP_") else f"CAP_{name}"
    return resource_text(event)


def cwd_text(cwd: str) -> str:
    """KubeArmor's `Cwd` ends with a slash: `/root/`, and `/` for the root itself."""
    return cwd if cwd.endswith("/") else cwd + "/"


def to_kubearmor(event: Event, host: HostIdentity, alert: Alert | None = None) -> dict[str, Any]:
    """One KubeArmor log or alert as an ordered dict ready for `json.dumps`."""
    proc = event.process
    ctr = event.container
    if alert is not None and alert.policy_type == SYSTEM_EVENT:
        return _system_event(event, host, alert)
    record = _where(event, host)
    names = {"ParentProcessName": proc.parent_exe if proc else "", "ProcessName": proc.exe if proc else ""}
    if alert is None:  # KubeArmor's telemetry names the processes before the pids, alerts after
        record.update(names)
    record["HostPPID"] = proc.ppid if proc else 0
    record["HostPID"] = event.host_pid
    record["PPID"] = _ppid(proc, ctr is not None)
    record["PID"] = (proc.ns_pid if proc else 0) if ctr is not None else event.host_pid
    record["UID"] = event.uid
    if alert is not None:
        record.update(names)
        record["PolicyName"] = alert.rule_id
        if alert.severity:  # DefaultPosture alerts carry none, as in KubeArmor's examples
            record["Severity"] = str(alert.severity)
        if alert.tags:
            record["Tags"] = ",".join(alert.tags)
            record["ATags"] = list(alert.tags)
        if alert.message:
            record["Message"] = alert.message
        record["Type"] = alert.policy_type or ("MatchedPolicy" if ctr is not None else "MatchedHostPolicy")
    else:
        record["Type"] = "ContainerLog" if ctr is not None else "HostLog"
    record["Source"] = _source(event)
    operation, resource, data, structured, result = per_event_fields(event)
    record["Operation"] = alert.extra.get("kubearmor.operation", operation) if alert else operation
    record["Resource"] = resource
    record["Data"] = data
    record["EventData"] = structured
    if alert is not None:
        record["Enforcer"] = alert.enforcer
        record["Action"] = alert.extra.get("kubearmor.action", alert.action.value)
    record["Result"] = alert.extra.get("kubearmor.result", result) if alert else result
    if proc is not None and proc.cwd:
        record["Cwd"] = cwd_text(proc.cwd)
    return without_empty(record)


def per_event_fields(event: Event) -> tuple[str, str, str, dict[str, str], str]:
    """Operation, Resource, Data, EventData and Result: what differs between the events of one
    process (`formats.kubearmor_lines` joins them with the rest, rendered once)."""
    args = arguments(event)
    return (
        event.operation.value,
        _resource(event),
        data_text(event, args),
        event_data(event, args),
        event.result,
    )


def _system_event(event: Event, host: HostIdentity, alert: Alert) -> dict[str, Any]:
    """KubeArmor's `SystemEvent` record (alert throttling's `AlertThreshold`)."""
    record = _where(event, host)
    record.update(
        Type=SYSTEM_EVENT,
        Operation=alert.rule_id,
        Enforcer=alert.enforcer,
        Result="Passed",
        DroppingAlertsInterval=int(alert.extra.get("kubearmor.dropping_alerts_interval", "0")),
        MaxAlertsPerSec=int(alert.extra.get("kubearmor.max_alerts_per_sec", "0")),
        PPID=0,
        UID=0,
    )
    return without_empty(record)


LOSS_OPERATION = "RecordsLost"


def loss_record(report: LossReport, host: HostIdentity) -> dict[str, Any]:
    """The agent's own `SystemEvent` saying a stage lost records, among the records around the
    gap (as KubeArmor's AlertThreshold notice is), so a reader of the file knows of it."""
    return {
        "Timestamp": report.time_ns // 1_000_000_000,
        "UpdatedTime": updated_time(report.time_ns),
        "ClusterName": host.cluster_label,
        "HostName": host.host_name,
        "Type": SYSTEM_EVENT,
        "Operation": LOSS_OPERATION,
        "Stage": report.stage,
        "LostRecords": report.count,
        "LostTotal": report.total,
        "Message": report.message,
    }


def _where(event: Event, host: HostIdentity) -> dict[str, Any]:
    """The time, host and container fields every KubeArmor record starts with."""
    ctr = event.container
    record: dict[str, Any] = {
        "Timestamp": event.timestamp_ns // 1_000_000_000,
        "UpdatedTime": updated_time(event.timestamp_ns) if event.timestamp_ns else "",  # unknown
        "ClusterName": host.cluster_label,
        "HostName": host.host_name,
    }
    if ctr is not None:
        record["NamespaceName"] = ctr.namespace or "container_namespace"
        if ctr.workload_kind:
            owner = {"Ref": ctr.workload_kind, "Name": ctr.workload_name, "Namespace": ctr.namespace}
            record["Owner"] = without_empty(owner)
        record["PodName"] = ctr.pod_name
        record["Labels"] = ",".join(f"{k}={v}" for k, v in ctr.labels.items())
        record["ContainerID"] = ctr.container_id
        record["ContainerName"] = ctr.name
        record["ContainerImage"] = ctr.image
    return record
