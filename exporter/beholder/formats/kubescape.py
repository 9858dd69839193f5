"""Kubescape node-agent's alert JSON (`--format kubescape`), rendered from a profile alert's facts.

The shape follows the node-agent alerts shown in the BoB seed: `BaseRuntimeMetadata`
(alert name, rule arguments, infected PID, severity, timestamps, uniqueID,
profileMetadata), `RuntimeK8sDetails`, `RuntimeProcessDetails.processTree` with the
parent as root and the alerting process in `childrenMap` under `comm␟pid`, the
`event` block, and the log envelope (`level`, `message`, `msg`, `time`). Fields we do not
observe (hashes, binary size, upper layer) are left out or false, never invented.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from beholder.events.facts import Capability, DnsQuestion, FileAccess, SocketCall, SyscallArgs
from beholder.events.interfaces import HostIdentity
from beholder.events.model import Alert, ContainerInfo, Event, ProcessInfo

ProcessLookup = Callable[[int], ProcessInfo | None]
UNSET_TIME = "0001-01-01T00:00:00Z"
CHILD_SEPARATOR = "␟"
NETWORK_PROFILE_RULES = frozenset({"R0005", "R0007", "R0011", "R1003", "R1009"})


def to_kubescape(alert: Alert, host: HostIdentity, lookup: ProcessLookup | None = None) -> dict[str, Any]:
    """One alert as the node-agent JSON object."""
    ev = alert.event
    c = ev.container or ContainerInfo(container_id="")
    base: dict[str, Any] = {
        "alertName": alert.rule_name,
        "arguments": _arguments(alert),
        "infectedPID": ev.host_pid,
        "severity": alert.severity,
        "timestamp": _rfc3339_nano(ev.timestamp_ns),
        "trace": {},
        "uniqueID": alert.extra.get("unique_id", ""),
    }
    if "profile.name" in alert.extra:
        base["profileMetadata"] = {
            "status": alert.extra.get("profile.status", ""),
            "completion": alert.extra.get("profile.completion", ""),
            "name": alert.extra["profile.name"],
            "failOnProfile": True,
            "type": 1 if alert.rule_id in NETWORK_PROFILE_RULES else 0,
        }
    k8s: dict[str, Any] = {
        "clusterName": host.cluster_label,
        "containerName": c.name,
        "hostNetwork": False,
        "image": c.image,
        "imageDigest": _digest(c.image_id),
        "namespace": c.namespace,
        "containerID": c.container_id,
        "podName": c.pod_name,
        "podNamespace": c.namespace,
        "podLabels": dict(c.labels),
        "workloadName": c.workload_name,
        "workloadNamespace": c.namespace,
        "workloadKind": c.workload_kind,
    }
    return {
        "BaseRuntimeMetadata": base,
        "CloudMetadata": None,
        "RuleID": alert.rule_id,
        "RuntimeK8sDetails": k8s,
        "RuntimeProcessDetails": {"processTree": process_tree(ev, lookup), "containerID": c.container_id},
        "event": {
            "runtime": {
                "runtimeName": c.runtime,
                "containerId": c.container_id,
                "containerName": c.name,
                "containerImageName": c.image,
                "containerImageDigest": _digest(c.image_id),
            },
            "k8s": {
                "node": host.node_name or host.host_name,
                "namespace": c.namespace,
                "podName": c.pod_name,
                "podLabels": dict(c.labels),
                "containerName": c.name,
                "owner": {},
            },
            "timestamp": ev.timestamp_ns,
            "type": "normal",
        },
        "level": "error",
        "message": alert.message,
        "msg": alert.rule_name,
        "time": _rfc3339_nano(ev.timestamp_ns).split(".")[0] + "Z",
    }


def dumps(alert: Alert, host: HostIdentity, lookup: ProcessLookup | None = None) -> str:
    """One JSON line, as node-agent logs it."""
    return json.dumps(to_kubescape(alert, host, lookup), ensure_ascii=False, separators=(",", ":"))


def process_tree(ev: Event, lookup: ProcessLookup | None = None) -> dict[str, Any]:
    """The alerting process under its parent (when the process tree knows the parent and it
    lives in the same container), like node-agent's processTree."""
    proc = ev.process
    if proc is None:
        return {"pid": ev.host_pid, "comm": ev.comm, "uid": ev.uid, "gid": ev.gid, "startTime": UNSET_TIME}
    node = _node(proc, ev.comm)
    parent = lookup(proc.ppid) if lookup and proc.ppid else None
    if parent is None or parent.container is not proc.container:
        return node  # node-agent roots the tree inside the container
    root = _node(parent, "")
    node["pcomm"] = root["comm"]  # the parent's comm, as node-agent reports it
    root["childrenMap"] = {f"{node['comm']}{CHILD_SEPARATOR}{node['pid']}": node}
    return root


def _node(proc: ProcessInfo, comm: str) -> dict[str, Any]:
    node: dict[str, Any] = {
        "pid": proc.pid,
        "cmdline": proc.cmdline,
        "comm": proc.comm or comm or os.path.basename(proc.exe),
        "ppid": proc.ppid,
        "pcomm": os.path.basename(proc.parent_exe),
        "hardlink": proc.exe,
        "uid": proc.uid,
        "gid": proc.gid,
        "startTime": _rfc3339_nano(proc.start_ns) if proc.start_ns else UNSET_TIME,
        "upperLayer": False,
        "cwd": proc.cwd,
        "path": proc.exe,
    }
    return {k: v for k, v in node.items() if v != "" or k in ("cmdline", "comm")}


def _arguments(alert: Alert) -> dict[str, Any]:
    ev, kind = alert.event, alert.extra.get("event.kind", "")
    facts = ev.facts
    if kind == "exec":
        return {"args": list(ev.argv), "exec": alert.extra.get("exec_path", ev.resource), "retval": ev.retval}
    if kind == "open":
        flags = facts.flags_text if isinstance(facts, FileAccess) else ""
        return {"flags": [f for f in flags.split("|") if f], "path": ev.resource}
    if kind == "symlink":
        return {"oldPath": facts.target if isinstance(facts, FileAccess) else "", "newPath": ev.resource}
    if kind == "hardlink":
        return {"oldPath": ev.resource, "newPath": facts.new_path if isinstance(facts, FileAccess) else ""}
    if kind == "dns":
        question = facts if isinstance(facts, DnsQuestion) else None
        server = question.server if question is not None else None
        return {
            "addresses": [server.ip] if server is not None and server.ip else [],
            "domain": question.name if question is not None and question.name is not None else ev.resource,
            "port": server.port or 0 if server is not None else 0,
            "protocol": "UDP",
        }
    if kind == "network":
        endpoint = facts.endpoint if isinstance(facts, SocketCall) else None
        address, port = (endpoint.ip, endpoint.port or 0) if endpoint is not None else ("", 0)
        return {"dstAddr": address, "dstPort": port, "proto": "TCP"}
    if kind == "capabilities":
        name = facts.name if isinstance(facts, Capability) else ev.resource
        return {"capability": name, "syscall": ev.syscall}
    values = facts.values if isinstance(facts, SyscallArgs) else {}
    return {"syscall": ev.syscall, **{k: _arg_text(k, v) for k, v in values.items() if k in _SYSCALL_ARGS}}


_SYSCALL_ARGS = ("cmd", "flags", "request", "params")


def _arg_text(name: str, value: int | str) -> str:
    """Arguments as the syscall sensor prints them (flags in hex)."""
    return hex(value) if name == "flags" and isinstance(value, int) else str(value)


def _digest(image_id: str) -> str:
    return image_id.rsplit("@", 1)[-1] if image_id else ""


def _rfc3339_nano(ns: int) -> str:
    seconds, nanos = divmod(ns, 1_000_000_000)
    stamp = datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{stamp}.{nanos:09d}Z"
