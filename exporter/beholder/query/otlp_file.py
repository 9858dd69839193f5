"""Read Beholder's OTLP JSON lines (the Collector's `otlpjsonfile` format) back into records.

Each line is one `ExportLogsServiceRequest`; each log record's attributes are mapped back
through our semantic conventions (`beholder.otel.semconv`) into an `Event` whose facts
`query.otlp_facts` reads from the attributes directly, and alert
records (those with `security_rule.*`) into an `Alert` around it. The resource gives the
observer (`host.name`, `k8s.cluster.name`). A malformed line or record is one counted
error naming the file, the line and what is wrong.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from beholder.events.interfaces import HostIdentity
from beholder.events.kinds import NETWORK_DNS, PROCESS_EXEC, kind_of
from beholder.events.model import Alert, ContainerInfo, Event, Operation, ProcessInfo
from beholder.formats.kubearmor_in import (
    MAX_RECORD_BYTES,
    ReadReport,
    RecordError,
    subject,
)
from beholder.otel import semconv as sc
from beholder.otel.enum_values import ACTION, OPERATION
from beholder.query.otlp_facts import facts_from_attributes
from beholder.query.records import Record

_EXTRA = sc.BEHOLDER_ALERT_EXTRA + "."
_LABEL = sc.K8S_POD_LABEL + "."
_RESOURCE_KEYS = (sc.BEHOLDER_RESOURCE, sc.FILE_PATH)
_OPERATIONS = {**{op.value: op for op in Operation}, **{v: op for op, v in OPERATION.items()}}


def _value(raw: Any) -> Any:
    """An OTLP/JSON AnyValue → str, int, bool or list of those."""
    if not isinstance(raw, Mapping):
        raise RecordError("attribute value is not an object")
    if "stringValue" in raw:
        return str(raw["stringValue"])
    if "intValue" in raw:
        return int(raw["intValue"])
    if "boolValue" in raw:
        return bool(raw["boolValue"])
    if "doubleValue" in raw:
        return float(raw["doubleValue"])
    if "arrayValue" in raw:
        values = raw["arrayValue"].get("values") or [] if isinstance(raw["arrayValue"], Mapping) else []
        return [_value(v) for v in values]
    return ""


def attributes(items: Any) -> dict[str, Any]:
    if not isinstance(items, list):
        raise RecordError("attributes: expected a list")
    out = {}
    for item in items:
        if not isinstance(item, Mapping) or not isinstance(item.get("key"), str):
            raise RecordError("attributes: entry without a string key")
        try:
            out[item["key"]] = _value(item.get("value", {}))
        except (TypeError, ValueError) as exc:
            raise RecordError(f"attribute {item['key'][:60]}: {exc}") from None
    return out


def _s(attrs: Mapping[str, Any], key: str) -> str:
    value = attrs.get(key, "")
    return value if isinstance(value, str) else str(value)


def _i(attrs: Mapping[str, Any], key: str) -> int:
    value = attrs.get(key, 0)
    if isinstance(value, bool) or not isinstance(value, int):
        raise RecordError(f"attribute {key}: expected an integer")
    return value


def _container(attrs: Mapping[str, Any]) -> ContainerInfo | None:
    container_id = _s(attrs, sc.CONTAINER_ID)
    if not container_id:
        return None
    return ContainerInfo(
        container_id=container_id,
        name=_s(attrs, sc.K8S_CONTAINER_NAME) or _s(attrs, sc.CONTAINER_NAME),
        image=_s(attrs, sc.CONTAINER_IMAGE_NAME),
        namespace=_s(attrs, sc.K8S_NAMESPACE_NAME),
        pod_name=_s(attrs, sc.K8S_POD_NAME),
        pod_uid=_s(attrs, sc.K8S_POD_UID),
        labels={k[len(_LABEL) :]: str(v) for k, v in attrs.items() if k.startswith(_LABEL)},
    )


def log_record(raw: Any) -> Event | Alert:
    """One OTLP/JSON LogRecord written by our encoder → Event or Alert."""
    if not isinstance(raw, Mapping):
        raise RecordError("logRecord: expected an object")
    attrs = attributes(raw.get("attributes", []))
    operation = _OPERATIONS.get(_s(attrs, sc.BEHOLDER_OPERATION))
    if operation is None:
        raise RecordError(f"attribute {sc.BEHOLDER_OPERATION}: missing or unknown")
    syscall = _s(attrs, sc.BEHOLDER_SYSCALL_NAME)
    kind = kind_of(operation.value, syscall)
    is_exec = kind == PROCESS_EXEC
    exe = _s(attrs, sc.PROCESS_EXECUTABLE_PATH)
    resource = next((_s(attrs, k) for k in _RESOURCE_KEYS if k in attrs), exe if is_exec else "")
    if kind == NETWORK_DNS:
        resource = _s(attrs, sc.DNS_QUESTION_NAME)
    container = _container(attrs)
    pid = _i(attrs, sc.PROCESS_PID)
    process = ProcessInfo(
        pid=pid,
        ppid=_i(attrs, sc.PROCESS_PARENT_PID),
        ns_pid=_i(attrs, sc.PROCESS_VPID),
        ns_ppid=_i(attrs, sc.BEHOLDER_PROCESS_PARENT_VPID),
        comm=_s(attrs, sc.THREAD_NAME),
        exe=exe,
        cmdline=_s(attrs, sc.PROCESS_COMMAND_LINE),
        parent_exe=_s(attrs, sc.BEHOLDER_PROCESS_PARENT_EXECUTABLE_PATH),
        cwd=_s(attrs, sc.PROCESS_WORKING_DIRECTORY),
        container=container,
    )
    try:
        timestamp = int(raw.get("timeUnixNano", 0))
    except (TypeError, ValueError):
        raise RecordError("timeUnixNano: not an integer") from None
    argv = attrs.get(sc.PROCESS_COMMAND_ARGS, [])
    facts = facts_from_attributes(attrs, kind, syscall)
    event = Event(
        timestamp_ns=timestamp,
        operation=operation,
        syscall=syscall,
        retval=_i(attrs, sc.BEHOLDER_SYSCALL_RETVAL),
        host_pid=pid,
        host_tid=_i(attrs, sc.BEHOLDER_THREAD_TID) or pid,
        uid=_i(attrs, sc.PROCESS_REAL_USER_ID),
        gid=_i(attrs, sc.BEHOLDER_PROCESS_REAL_GROUP_ID),
        comm=process.comm,
        cgroup_id=_i(attrs, sc.BEHOLDER_CGROUP_ID),
        resource=subject(facts, resource),
        argv=tuple(str(a) for a in argv) if isinstance(argv, list) else (),
        repeat_count=_i(attrs, sc.BEHOLDER_EVENT_REPEAT_COUNT),
        process=process,
        container=container,
        kind=kind,
        facts=facts,
    )
    if sc.SECURITY_RULE_UUID not in attrs:
        return event
    action_text = _s(attrs, sc.BEHOLDER_POLICY_ACTION)
    action = next((a for a, v in ACTION.items() if action_text in (v, a.value)), None)
    if action is None:
        raise RecordError(f"attribute {sc.BEHOLDER_POLICY_ACTION}: unknown value {action_text[:40]!r}")
    tags = attrs.get(sc.BEHOLDER_RULE_TAGS, [])
    return Alert(
        event=event,
        source=_s(attrs, sc.BEHOLDER_ALERT_SOURCE) or "policy",
        rule_id=_s(attrs, sc.BEHOLDER_RULE_ID),
        rule_name=_s(attrs, sc.SECURITY_RULE_NAME),
        action=action,
        severity=_i(attrs, sc.BEHOLDER_ALERT_SEVERITY),
        message=_s(attrs, sc.SECURITY_RULE_DESCRIPTION),
        tags=tuple(str(t) for t in tags) if isinstance(tags, list) else (),
        enforcer=_s(attrs, sc.BEHOLDER_POLICY_ENFORCER),
        policy_type=_s(attrs, sc.BEHOLDER_POLICY_TYPE),
        extra={k[len(_EXTRA) :]: str(v) for k, v in attrs.items() if k.startswith(_EXTRA)},
    )


def _host(resource: Any) -> HostIdentity:
    attrs = attributes(resource.get("attributes", [])) if isinstance(resource, Mapping) else {}
    return HostIdentity(
        host_name=_s(attrs, sc.HOST_NAME),
        node_name=_s(attrs, sc.K8S_NODE_NAME),
        cluster_name=_s(attrs, sc.K8S_CLUSTER_NAME),
    )


def _items(doc: Mapping[str, Any], key: str) -> list[Any]:
    items = doc.get(key, [])
    if not isinstance(items, list):
        raise RecordError(f"{key}: expected a list")
    return items


def _note_loss(raw: Mapping[str, Any], report: ReadReport) -> None:
    """A `beholder.agent.loss` record is not an observation: add it to the report's gaps."""
    try:
        attrs = attributes(raw.get("attributes", []))
        stage, count = _s(attrs, sc.BEHOLDER_STAGE) or "unknown", _i(attrs, sc.BEHOLDER_LOSS_COUNT)
    except RecordError:
        return
    report.agent_losses[stage] = report.agent_losses.get(stage, 0) + count


def read_otlp_lines(lines: Iterable[str], name: str, report: ReadReport) -> Iterator[Record]:
    """Records of every `ExportLogsServiceRequest` line; bad lines and records are counted."""
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        where = f"{name}:{number}"
        if len(line) > MAX_RECORD_BYTES * 64:
            report.fail(where, "line too large")
            continue
        try:
            doc = json.loads(line)
            if not isinstance(doc, Mapping):
                raise RecordError("expected a JSON object")
            for resource_logs in _items(doc, "resourceLogs"):
                if not isinstance(resource_logs, Mapping):
                    raise RecordError("resourceLogs: expected objects")
                host = _host(resource_logs.get("resource"))
                for scope in _items(resource_logs, "scopeLogs"):
                    if not isinstance(scope, Mapping):
                        raise RecordError("scopeLogs: expected objects")
                    for raw in _items(scope, "logRecords"):
                        if isinstance(raw, Mapping) and raw.get("eventName") == sc.EVENT_AGENT_LOSS:
                            _note_loss(raw, report)
                            continue
                        try:
                            parsed = log_record(raw)
                        except RecordError as exc:
                            report.fail(where, str(exc))
                            continue
                        report.records += 1
                        if isinstance(parsed, Alert):
                            yield Record(parsed.event, parsed, host)
                        else:
                            yield Record(parsed, None, host)
        except (ValueError, RecursionError) as exc:
            report.fail(where, str(exc)[:160] if isinstance(exc, RecordError) else f"invalid JSON: {exc}")
