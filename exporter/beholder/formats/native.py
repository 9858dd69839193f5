"""Beholder's own JSON lines: every field of the event model, nothing renamed.

KubeArmor's format has no place for pod UID, namespace pids or repeat counts; this one
does, which makes it the format for tests, replay and debugging.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from beholder.events import Alert, ContainerInfo, Event, ProcessInfo
from beholder.formats.arguments import arguments
from beholder.formats.resource import resource_text


def _plain(obj: ProcessInfo | ContainerInfo | None) -> dict[str, Any] | None:
    if obj is None:
        return None
    out = {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj) if f.name != "container"}
    for name, value in out.items():
        if isinstance(value, bytes):  # span ids: hex, as OTLP/JSON writes them
            out[name] = value.hex()
    return out


def event_dict(event: Event) -> dict[str, Any]:
    return {
        "timestamp_ns": event.timestamp_ns,
        "operation": event.operation.value,
        "syscall": event.syscall,
        "retval": event.retval,
        "result": event.result,
        "host_pid": event.host_pid,
        "host_tid": event.host_tid,
        "uid": event.uid,
        "gid": event.gid,
        "comm": event.comm,
        "cgroup_id": event.cgroup_id,
        "resource": resource_text(event),
        "data": arguments(event),
        "argv": list(event.argv),
        "repeat_count": event.repeat_count,
        "truncated": event.truncated,
        "process": _plain(event.process),
        "container": _plain(event.container),
    }


def alert_dict(alert: Alert) -> dict[str, Any]:
    return {
        "alert": {
            "source": alert.source,
            "rule_id": alert.rule_id,
            "rule_name": alert.rule_name,
            "action": alert.action.value,
            "severity": alert.severity,
            "message": alert.message,
            "tags": list(alert.tags),
            "enforcer": alert.enforcer,
            "policy_type": alert.policy_type,
            "extra": alert.extra,
        },
        **event_dict(alert.event),
    }
