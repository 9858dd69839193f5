"""Read recorded KubeArmor JSON back into `Event`/`Alert`, so `logs` and `summary` work offline.

Accepts one object per line (what `karmor logs --json` and our `kubearmor` output write)
and the pretty multi-line objects of the documentation (seed 000). Records come from other
clusters and other people: every bad record becomes one `RecordError` line naming the file,
the line and the field, is counted, and reading goes on. Objects larger than
`MAX_RECORD_BYTES` are skipped without being parsed, and `bounded_lines` never holds more
than that much of one line, so a file with a 100 MB line costs no more memory than a small one.
"""

from __future__ import annotations

import errno
import json
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TextIO

from beholder.events import facts as f
from beholder.events import kinds
from beholder.events.decoding import (
    TCP_STATES,
    capability_number,
    family_number,
    open_flags_value,
    protocol_number,
    socket_type_value,
)
from beholder.events.facts import AF_INET, AF_INET6
from beholder.events.interfaces import HostIdentity
from beholder.events.model import SYSTEM_EVENT, Action, Alert, ContainerInfo, Event, Operation, ProcessInfo
from beholder.events.syscall_args import CREDENTIAL_ARGS, SYSCALL_ARGS, TEXT, subject_of
from beholder.formats.kubearmor import LOSS_OPERATION
from beholder.formats.resource import RENDERED_FACTS

MAX_RECORD_BYTES = 1 << 20
MAX_ERRORS_KEPT = 20
# Possessive and with an optional closing quote, so an unterminated string (`"\"\"\"…`)
# is consumed once instead of rescanned from every quote: linear, not quadratic.
_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*+"?')
_LINE_ENDS = ("\n", "\r")
_ERRNO_BY_TEXT = {os.strerror(n): n for n in errno.errorcode}
_ALERT_TYPES = frozenset({"MatchedPolicy", "MatchedHostPolicy", "MatchedNativePolicy"})
_OPERATIONS = {op.value: op for op in Operation} | {"Capability": Operation.CAPABILITY}
# KubeArmor's kprobe-based network records name the kernel function, not the syscall.
_KPROBE_SYSCALL = {"tcp_connect": "connect", "inet_csk_accept": "accept", "udp_sendmsg": "sendto"}
_RESOURCE_KEYS = {"remoteip": "sin_addr", "port": "sin_port"}
_TCP_STATE_VALUES = {name: number for number, name in TCP_STATES.items()}  # TCP_ESTABLISHED → 1


class RecordError(ValueError):
    """One record that cannot be an event; the message names the field."""


@dataclass(slots=True)
class ReadReport:
    """What a read produced and what it skipped (first errors kept for the user)."""

    records: int = 0
    bad: int = 0
    errors: list[str] = field(default_factory=list)
    agent_losses: dict[str, int] = field(default_factory=dict)  # stage -> count the recording reports

    def fail(self, where: str, reason: str) -> None:
        self.bad += 1
        if len(self.errors) < MAX_ERRORS_KEPT:
            self.errors.append(f"{where}: {reason}")


def bounded_lines(stream: TextIO, limit: int = MAX_RECORD_BYTES) -> Iterator[str]:
    """Every line of `stream`, one longer than `limit` characters cut to its first `limit + 1`.

    Iterating a file object holds a whole line in memory however long it is; `readline`
    with a limit holds at most `limit + 1` characters and reads past the rest of a long line
    in chunks. The cut line is still too long, so the reader's size check reports it under
    its own line number and reading goes on with the next line.
    """
    line = stream.readline(limit + 1)
    while line:
        tail = line
        while tail and not tail.endswith(_LINE_ENDS):  # cut by the limit: read past the rest
            tail = stream.readline(limit)
        following = stream.readline(limit + 1)
        if tail.endswith("\r") and following == "\n":  # a "\r\n" that the limit split in two
            following = stream.readline(limit + 1)
        yield line
        line = following


def iter_objects(lines: Iterable[str], name: str, report: ReadReport) -> Iterator[tuple[str, Any]]:
    """(where, decoded JSON) for each object in `lines`, single-line or pretty-printed.

    Braces are counted outside string literals to find where a multi-line object ends, so
    a record is parsed once and a huge one is dropped before any parsing.
    """
    buf: list[str] = []
    size = depth = start = 0
    skipping = False
    for number, line in enumerate(lines, 1):
        if not buf:
            stripped = line.strip()
            if not stripped:
                continue
            if not stripped.startswith("{"):
                if not skipping:
                    report.fail(f"{name}:{number}", "not a JSON object")
                continue
            skipping = False
            start, size, depth = number, 0, 0
        size += len(line)
        if size > MAX_RECORD_BYTES:
            report.fail(f"{name}:{start}", f"record larger than {MAX_RECORD_BYTES} bytes")
            buf, skipping = [], True
            continue
        bare = _STRINGS.sub("", line)
        depth += bare.count("{") - bare.count("}")
        buf.append(line)
        if depth > 0:
            continue
        text = "".join(buf)
        buf = []
        try:
            yield f"{name}:{start}", json.loads(text)
        except (ValueError, RecursionError) as exc:
            report.fail(f"{name}:{start}", f"invalid JSON: {str(exc)[:120]}")
    if buf:
        report.fail(f"{name}:{start}", "record cut off at end of input")


def read_records(
    lines: Iterable[str], name: str, report: ReadReport
) -> Iterator[tuple[Event | Alert, HostIdentity]]:
    """Every good record of a KubeArmor JSON stream with the host that observed it."""
    hosts: dict[tuple[str, str], HostIdentity] = {}
    for where, doc in iter_objects(lines, name, report):
        if _note_loss(doc, report):
            continue
        try:
            record = parse_record(doc)
            observer = (_text(doc, "HostName"), _text(doc, "ClusterName", "default"))
        except RecordError as exc:
            report.fail(where, str(exc))
            continue
        host = hosts.get(observer)
        if host is None:
            host = hosts[observer] = HostIdentity(host_name=observer[0], cluster_name=observer[1])
        report.records += 1
        yield record, host


def _note_loss(doc: Any, report: ReadReport) -> bool:
    """A Beholder `RecordsLost` SystemEvent is not an observation: add it to the report's gaps."""
    if not isinstance(doc, dict) or doc.get("Type") != SYSTEM_EVENT or doc.get("Operation") != LOSS_OPERATION:
        return False
    count = doc.get("LostRecords")
    if isinstance(count, int) and not isinstance(count, bool):
        stage = _text(doc, "Stage") or "unknown"
        report.agent_losses[stage] = report.agent_losses.get(stage, 0) + count
    return True


# --- one record ------------------------------------------------------------------------------


def _text(doc: dict[str, Any], key: str, default: str = "") -> str:
    value = doc.get(key, default)
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    raise RecordError(f"field {key}: expected a string, got {type(value).__name__}")


def _int(doc: dict[str, Any], key: str) -> int:
    value = doc.get(key, 0)
    if isinstance(value, bool):
        raise RecordError(f"field {key}: expected an integer, got bool")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"-?\d{1,20}", value.strip()):
        return int(value)
    raise RecordError(f"field {key}: expected an integer, got {str(value)[:40]!r}")


def _pairs(text: str) -> dict[str, str]:
    """`a=1 b=x` → {"a": "1", "b": "x"}; words without `=` are ignored."""
    return dict(part.split("=", 1) for part in text.split() if "=" in part)


def _timestamp_ns(doc: dict[str, Any]) -> int:
    """UpdatedTime keeps microseconds; Timestamp (seconds) is the fallback."""
    updated = doc.get("UpdatedTime")
    if isinstance(updated, str) and updated:
        try:
            moment = datetime.fromisoformat(updated.replace("Z", "+00:00"))
            return int(moment.timestamp() * 1_000_000) * 1000
        except (ValueError, OverflowError, OSError):
            pass
    seconds = _int(doc, "Timestamp")
    if not 0 <= seconds < 1 << 33:
        raise RecordError(f"field Timestamp: {seconds} is out of range")
    return seconds * 1_000_000_000


def _data(doc: dict[str, Any]) -> dict[str, str]:
    structured = doc.get("EventData")
    if isinstance(structured, dict):
        return {str(k): str(v) for k, v in structured.items() if not isinstance(v, (dict, list))}
    return _pairs(_text(doc, "Data"))


def _container(doc: dict[str, Any]) -> ContainerInfo | None:
    container_id = _text(doc, "ContainerID")
    if not container_id:
        return None
    owner = doc.get("Owner")
    owner = owner if isinstance(owner, dict) else {}
    labels = _pairs(_text(doc, "Labels").replace(",", " "))
    return ContainerInfo(
        container_id=container_id,
        name=_text(doc, "ContainerName"),
        image=_text(doc, "ContainerImage"),
        namespace=_text(doc, "NamespaceName"),
        pod_name=_text(doc, "PodName"),
        labels=labels,
        workload_kind=_text(owner, "Ref"),
        workload_name=_text(owner, "Name"),
    )


def _syscall_and_data(doc: dict[str, Any], operation: Operation) -> tuple[str, dict[str, str], str]:
    """(syscall, args, resource) with network addresses moved from Resource into args."""
    data = _data(doc)
    resource = _text(doc, "Resource")
    syscall = data.pop("syscall", "").lower().removeprefix("sys_")
    kprobe = data.pop("kprobe", "")
    if kprobe:
        syscall = _KPROBE_SYSCALL.get(kprobe, kprobe)
    kfunc = data.pop("kfunc", "")
    if kfunc.startswith("UDP_SENDMSG,"):  # a DNS question: kfunc=UDP_SENDMSG,domain=…,daddr=…,qtype=…
        fields = dict(part.partition("=")[::2] for part in kfunc.split(",")[1:])
        syscall = "sendmsg"
        data.update(qname=fields.get("domain", ""), qtype=fields.get("qtype", ""))
        data["sin_addr"] = fields.get("daddr", "")
    if operation is Operation.NETWORK:
        for key, value in _pairs(resource).items():
            data.setdefault(_RESOURCE_KEYS.get(key, key), value)
        if "domain" in data and "sa_family" not in data:
            data["sa_family"] = data["domain"]
    elif operation is Operation.CAPABILITY and resource:
        resource = resource.removeprefix("CAP_")  # the model names capabilities as the decoder does
        data.setdefault("capability", resource)
    return syscall, data, resource


# --- KubeArmor-shaped arguments back into typed facts (the only place that parses them) -------


def _number(text: str | None, base: int = 10) -> int | None:
    if not text:
        return None
    try:
        return int(text, base)
    except ValueError:
        return None


def endpoint_from_data(data: dict[str, str]) -> f.Endpoint | None:
    """The sockaddr fields (`sa_family`, `sin_addr`, `sin_port`, `sun_path`, …) as an Endpoint."""
    family = data.get("sa_family")
    if "sin_addr" in data or "sin6_addr" in data:
        six = "6" if "sin6_addr" in data else ""
        ip = data[f"sin{six}_addr"]
        number = family_number(family) if family else (AF_INET6 if ":" in ip else AF_INET)
        return f.Endpoint(number, ip, _number(data.get(f"sin{six}_port")))
    if family is None:
        return None
    number = family_number(family)
    if "sun_path" in data:
        return f.Endpoint(number, path=data["sun_path"])
    return f.Endpoint(number, nl_pid=_number(data.get("nl_pid")), nl_groups=_number(data.get("nl_groups")))


def _file_facts(syscall: str, resource: str, data: dict[str, str]) -> f.FileAccess:
    access = f.FileAccess(resource, dirfd=_number(data.get("fd")), mode=_number(data.get("mode"), 8))
    flags = data.get("flags")
    if flags and flags.startswith("O_"):
        access.flags = open_flags_value(flags)
    access.remove_dir = flags == "AT_REMOVEDIR"
    if syscall == "fchownat":  # KubeArmor prints its AT_* flags as a number
        access.at_flags = _number(flags)
    access.new_path, access.target = data.get("newpath", ""), data.get("target", "")
    access.owner_uid, access.owner_gid = _number(data.get("uid")), _number(data.get("gid"))
    return access


def _socket_facts(resource: str, data: dict[str, str]) -> f.Socket:
    fields = _pairs(resource)
    family = fields.get("domain") or data.get("domain") or data.get("sa_family", "")
    return f.Socket(
        family_number(family),
        socket_type_value(fields.get("type") or data.get("type", "")),
        protocol_number(fields.get("protocol") or data.get("protocol", "0")),
        _number(data.get("fd")),
    )


def _dns_facts(data: dict[str, str]) -> f.DnsQuestion:
    return f.DnsQuestion(
        _number(data.get("fd")) or 0, data.get("qname"), data.get("qtype", ""), endpoint_from_data(data)
    )


def _tcp_state_facts(data: dict[str, str]) -> f.TcpState:
    family = family_number(data.get("sa_family", "AF_INET"))
    return f.TcpState(
        f.Endpoint(family, data.get("saddr", ""), _number(data.get("sport"))),
        f.Endpoint(family, data.get("daddr", ""), _number(data.get("dport"))),
        _TCP_STATE_VALUES.get(data.get("oldstate", ""), 0),
        _TCP_STATE_VALUES.get(data.get("newstate", ""), 0),
    )


def _credentials(syscall: str, data: dict[str, str]) -> f.Credentials:
    text = data.get("ids") or data.get("userid") or data.get("groupid", "")
    ids = [_number(i) or 0 for i in text.split(",")]
    named = CREDENTIAL_ARGS.get(syscall)
    if named is None:  # a set*id call we do not trace: its ids in setres*id's order
        named = ("gid", "egid", "sgid") if "groupid" in data or "gid" in syscall else ("uid", "euid", "suid")
    cred = f.Credentials()
    for name, value in zip(named, ids, strict=False):
        setattr(cred, name, value)
    return cred


def _syscall_facts(syscall: str, resource: str, data: dict[str, str]) -> f.Credentials | f.SyscallArgs:
    if "ids" in data or "userid" in data or "groupid" in data:
        return _credentials(syscall, data)
    styles = {arg.name: arg.style for arg in SYSCALL_ARGS.get(syscall, ())}
    values: dict[str, int | str] = {}
    for key, value in data.items():  # numbers where the call's row says so, else text as written
        style = styles.get(key, TEXT)
        number = None if style == TEXT else _number(value, 16 if value.startswith("0x") else 10)
        values[key] = value if number is None else number
    subject = subject_of(syscall)
    if subject and resource:
        values[subject] = resource
    return f.SyscallArgs(values)


def facts_from_data(kind: str, syscall: str, resource: str, data: dict[str, str]) -> f.Facts | None:
    """Typed facts of an event read back from KubeArmor-shaped text (a recording, a log file)."""
    if kind == kinds.PROCESS_EXEC:
        return f.Exec(resource, _number(data.get("fd")))
    if kind == kinds.PROCESS_FORK:
        return f.Fork(_number(data.get("parent_pid")) or 0, _number(data.get("child_pid")) or 0)
    if kind == kinds.PROCESS_EXIT:
        return f.Exit(_number(data.get("exit_code")))
    if kind.startswith("beholder.file."):
        return _file_facts(syscall, resource, data)
    if kind == kinds.NETWORK_SOCKET:
        return _socket_facts(resource, data)
    if kind == kinds.NETWORK_DNS:
        return _dns_facts(data)
    if kind == kinds.NETWORK_TCP_STATE:
        return _tcp_state_facts(data)
    if kind.startswith("beholder.network."):
        return f.SocketCall(
            _number(data.get("fd")) or 0,
            endpoint_from_data(data),
            new_fd=_number(data.get("newfd")),
            backlog=_number(data.get("backlog")),
            transport=data.get("protocol", "") if not data.get("protocol", "").isdigit() else "",
        )
    if kind == kinds.CAPABILITY_CHECK:
        return f.Capability(capability_number(data.get("capability") or resource))
    if kind.startswith("beholder.syscall."):
        return _syscall_facts(syscall, resource, data)
    return None


def subject(facts: f.Facts | None, resource: str) -> str:
    """What of a recorded `Resource` stays `Event.resource`: a path or name the call named.
    Socket triples, addresses, TCP states, child pids and capability names live in the facts."""
    return "" if isinstance(facts, RENDERED_FACTS) else resource


def with_facts(event: Event, data: dict[str, str] | None = None) -> Event:
    """`event` with its kind and facts filled from its syscall, `resource` and argument text."""
    if not event.kind:
        event.kind = kinds.kind_of(event.operation.value, event.syscall)
    if event.facts is None:
        event.facts = facts_from_data(event.kind, event.syscall, event.resource, data or {})
    event.resource = subject(event.facts, event.resource)
    return event


def _retval(result: str) -> int:
    if result in ("", "Passed"):
        return 0
    return -_ERRNO_BY_TEXT.get(result, errno.EPERM)


def parse_record(doc: Any) -> Event | Alert:
    """One decoded KubeArmor JSON object → Event (telemetry) or Alert (matched policy)."""
    if not isinstance(doc, dict):
        raise RecordError(f"expected a JSON object, got {type(doc).__name__}")
    op_name = _text(doc, "Operation")
    operation = _OPERATIONS.get(op_name)
    if operation is None:
        raise RecordError(f"field Operation: unknown value {op_name[:40]!r}")
    syscall, data, resource = _syscall_and_data(doc, operation)
    argv: tuple[str, ...] = ()
    # a Capabilities record names the syscall that needed the capability: still a capability check
    kind = (
        kinds.CAPABILITY_CHECK
        if operation is Operation.CAPABILITY
        else kinds.kind_of(operation.value, syscall or "execve")
    )
    is_exec = kind == kinds.PROCESS_EXEC
    if is_exec:  # Resource is the command line; the executable is its first word
        syscall = syscall or "execve"
        argv = tuple(resource.split())
        resource = argv[0] if argv else ""
    container = _container(doc)
    exe = _text(doc, "ProcessName")
    source = _text(doc, "Source")
    process = ProcessInfo(
        pid=_int(doc, "HostPID"),
        ppid=_int(doc, "HostPPID"),
        ns_pid=_int(doc, "PID"),
        ns_ppid=_int(doc, "PPID"),
        comm=os.path.basename(exe or source.split(" ")[0]),
        exe=exe or (resource if is_exec else source.split(" ")[0]),
        cmdline="" if is_exec else source,
        parent_exe=_text(doc, "ParentProcessName") or (source if is_exec else ""),
        cwd=_text(doc, "Cwd"),
        uid=_int(doc, "UID"),
        container=container,
    )
    facts = facts_from_data(kind, syscall, resource, data)
    event = Event(
        timestamp_ns=_timestamp_ns(doc),
        operation=operation,
        syscall=syscall,
        retval=_retval(_text(doc, "Result")),
        host_pid=process.pid,
        host_tid=process.pid,
        uid=process.uid,
        gid=0,
        comm=process.comm,
        cgroup_id=0,
        resource=subject(facts, resource),
        argv=argv,
        process=process,
        container=container,
        kind=kind,
        facts=facts,
    )
    record_type = _text(doc, "Type")
    if record_type not in _ALERT_TYPES and "PolicyName" not in doc:
        return event
    return _alert(doc, event, record_type)


def _alert(doc: dict[str, Any], event: Event, record_type: str) -> Alert:
    action_text = _text(doc, "Action", "Audit")
    action = next((a for a in Action if action_text.startswith(a.value)), None)
    if action is None:
        raise RecordError(f"field Action: unknown value {action_text[:40]!r}")
    severity = _int(doc, "Severity")
    tags = doc.get("ATags")
    if not isinstance(tags, list):
        tags = [t for t in _text(doc, "Tags").split(",") if t]
    return Alert(
        event=event,
        source="policy",
        rule_id=_text(doc, "PolicyName"),
        rule_name=_text(doc, "PolicyName"),
        action=action,
        severity=min(max(severity, 0), 10),
        message=_text(doc, "Message"),
        tags=tuple(str(t) for t in tags),
        enforcer=_text(doc, "Enforcer"),
        policy_type=record_type,
        extra={"kubearmor.action": action_text, "kubearmor.result": _text(doc, "Result", "Passed")},
    )
