"""Events and alerts → one OTLP `ExportLogsServiceRequest` per batch, under our semconv.

Hot path: every record is concatenated from byte chunks, protobuf (`wire`) or OTLP/JSON
(`jsonwire`, for the file sink). What is shared between events is encoded once and reused:
the attributes of a `ProcessInfo` or `ContainerInfo` (cached on the object's id, with a
fingerprint of the fields that can change), the event-name/operation/syscall triple, the
calling thread's identity, argument sets and low-cardinality values. `encode_logs` parses
the finished protobuf batch once in the C runtime to hand back the message object.
"""

from __future__ import annotations

import errno
import functools
import logging
import os
import time
import urllib.parse
from collections.abc import Callable, Mapping
from types import ModuleType
from typing import TypeVar

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

from beholder import __version__
from beholder.events.interfaces import HostIdentity
from beholder.events.model import Alert, ContainerInfo, Event, LossReport, ProcessInfo
from beholder.otel import semconv as sc
from beholder.otel import wire
from beholder.otel.resource import SCOPE_NAME, identity_attributes
from beholder.otel.severity import SEVERITY_NAMES, TELEMETRY_SEVERITY, alert_severity

T = TypeVar("T")
R = TypeVar("R")
BODY_LIMIT = 200
LOSS_SEVERITY = 13  # WARN: data is missing, the agent goes on
CACHE_LIMIT = 4096  # per cache; a full cache is cleared (a node runs far fewer live processes)

_TCP_STATES = {
    "ESTABLISHED": "established",
    "SYN_SENT": "syn_sent",
    "SYN_RECV": "syn_received",
    "NEW_SYN_RECV": "syn_received",
    "FIN_WAIT1": "fin_wait_1",
    "FIN_WAIT2": "fin_wait_2",
    "TIME_WAIT": "time_wait",
    "CLOSE": "closed",
    "CLOSE_WAIT": "close_wait",
    "LAST_ACK": "last_ack",
    "LISTEN": "listen",
    "CLOSING": "closing",
}
_IP_VERSION = {"AF_INET": "ipv4", "AF_INET6": "ipv6"}
_ADDRESS_KEYS = ("sin_addr", "sin6_addr", "sun_path")
_PORT_KEYS = ("sin_port", "sin6_port")
# Which address attributes a network event's sockaddr fills, by event name.
_ROLE = {
    sc.EVENT_NETWORK_CONNECT: (sc.SERVER_ADDRESS, sc.SERVER_PORT),
    sc.EVENT_NETWORK_DNS: (sc.SERVER_ADDRESS, sc.SERVER_PORT),
    sc.EVENT_NETWORK_BIND: (sc.NETWORK_LOCAL_ADDRESS, sc.NETWORK_LOCAL_PORT),
    sc.EVENT_NETWORK_ACCEPT: (sc.CLIENT_ADDRESS, sc.CLIENT_PORT),
}
_FILE_KEYS = {
    "mode": sc.FILE_MODE,
    "uid": sc.FILE_OWNER_ID,
    "gid": sc.FILE_GROUP_ID,
    "newpath": sc.BEHOLDER_FILE_NEW_PATH,
    "target": sc.FILE_SYMBOLIC_LINK_TARGET_PATH,
}
_OPEN_KEYS = {**_FILE_KEYS, "flags": sc.BEHOLDER_FILE_OPEN_FLAGS}
_NO_KEYS: Mapping[str, str] = {}


_WORKLOAD = {
    "Deployment": sc.K8S_DEPLOYMENT_NAME,
    "StatefulSet": sc.K8S_STATEFULSET_NAME,
    "DaemonSet": sc.K8S_DAEMONSET_NAME,
    "ReplicaSet": sc.K8S_REPLICASET_NAME,
    "Job": sc.K8S_JOB_NAME,
    "CronJob": sc.K8S_CRONJOB_NAME,
}


def split_image(image: str) -> tuple[str, str, str]:
    """`repo:tag@sha256:…` → (name, tag, repo digest); missing parts are empty."""
    ref, _, digest = image.partition("@")
    slash = ref.rfind("/")
    colon = ref.rfind(":")
    name, tag = (ref[:colon], ref[colon + 1 :]) if colon > slash else (ref, "")
    return name, tag, f"{name}@{digest}" if digest else ""


def _address(data: Mapping[str, str], keys: tuple[str, ...]) -> str:
    return next((data[k] for k in keys if k in data), "")


class LogEncoder:
    """Encodes batches; keeps the per-process, per-container and per-value caches."""

    def __init__(self, fmt: ModuleType = wire) -> None:
        self._f = fmt
        self._keys: dict[str, bytes] = {}
        self._processes: dict[int, tuple] = {}  # id -> (ProcessInfo, fingerprint, chunks)
        self._containers: dict[int, tuple] = {}  # id -> (ContainerInfo, fingerprint, chunk)
        self._values: dict[tuple[str, str], bytes] = {}
        self._heads: dict[tuple[str, str], bytes] = {}
        self._results: dict[int, bytes] = {}
        self._threads: dict[tuple[int, int, int, int, str, int], bytes] = {}
        self._arg_sets: dict[tuple, bytes] = {}
        self._handlers: dict[str, Callable[[Event, str], tuple[bytes, bool]]] = {
            sc.EVENT_PROCESS_EXEC: self._exec,
            sc.EVENT_PROCESS_FORK: self._fork,
            sc.EVENT_PROCESS_EXIT: self._exit,
            sc.EVENT_FILE_OPEN: self._file,
            sc.EVENT_NETWORK_SOCKET: self._socket,
            sc.EVENT_NETWORK_TCP_STATE: self._tcp_state,
            sc.EVENT_NETWORK_CONNECT: self._sockaddr,
            sc.EVENT_NETWORK_BIND: self._sockaddr,
            sc.EVENT_NETWORK_ACCEPT: self._sockaddr,
            sc.EVENT_NETWORK_DNS: self._sockaddr,
            sc.EVENT_NETWORK_LISTEN: self._listen,
            sc.EVENT_CAPABILITY_CHECK: self._capability,
        }
        for name in (
            sc.EVENT_FILE_UNLINK,
            sc.EVENT_FILE_RENAME,
            sc.EVENT_FILE_CHMOD,
            sc.EVENT_FILE_CHOWN,
            sc.EVENT_FILE_LINK,
            sc.EVENT_FILE_CHDIR,
        ):
            self._handlers[name] = self._file

    # --- batch ---------------------------------------------------------------------------
    def encode(self, events: list[Event], alerts: list[Alert], resource: Mapping[str, object]) -> bytes:
        """The encoded `ExportLogsServiceRequest` for one batch."""
        observed = time.time_ns()
        records = [self._telemetry(ev, observed) for ev in events]
        records += [self._alert(alert, observed) for alert in alerts]
        return self._f.request(resource, SCOPE_NAME, __version__, records)

    def encode_losses(self, reports: list[LossReport], resource: Mapping[str, object]) -> bytes:
        """One WARN `beholder.agent.loss` record per report, in an `ExportLogsServiceRequest`."""
        observed = time.time_ns()
        records = [
            self._f.record(
                r.time_ns,
                observed,
                LOSS_SEVERITY,
                SEVERITY_NAMES[LOSS_SEVERITY],
                r.message,
                self._value(sc.BEHOLDER_STAGE, r.stage)
                + self._i(sc.BEHOLDER_LOSS_COUNT, r.count)
                + self._i(sc.BEHOLDER_LOSS_TOTAL, r.total)
                + self._i(sc.BEHOLDER_LOSS_INTERVAL_MS, r.interval_ns // 1_000_000),
                sc.EVENT_AGENT_LOSS,
            )
            for r in reports
        ]
        return self._f.request(resource, SCOPE_NAME, __version__, records)

    def _telemetry(self, ev: Event, observed: int) -> bytes:
        name, attributes = self._attributes(ev)
        return self._record(ev, observed, name, TELEMETRY_SEVERITY, _body(ev), attributes)

    def _alert(self, alert: Alert, observed: int) -> bytes:
        ev = alert.event
        _, attributes = self._attributes(ev)
        ruleset = "kubescape" if alert.source == "profile" else "kubearmor"
        parts = [
            attributes,
            self._s(sc.SECURITY_RULE_UUID, alert.rule_id),
            self._s(sc.SECURITY_RULE_NAME, alert.rule_name or alert.rule_id),
            self._value(sc.SECURITY_RULE_RULESET_NAME, ruleset),
            self._value(sc.BEHOLDER_POLICY_ACTION, alert.action.value),
            self._i(sc.BEHOLDER_ALERT_SEVERITY, alert.severity),
        ]
        optional = (
            (sc.SECURITY_RULE_DESCRIPTION, alert.message),
            (sc.BEHOLDER_POLICY_ENFORCER, alert.enforcer),
            (sc.BEHOLDER_POLICY_TYPE, alert.policy_type),
        )
        parts.append(self._present(optional))
        if alert.tags:
            parts.append(self._array(sc.BEHOLDER_RULE_TAGS, alert.tags))
        parts += [self._s(f"{sc.BEHOLDER_ALERT_EXTRA}.{k}", v) for k, v in alert.extra.items()]
        name = sc.ALERT_EVENT_BY_SOURCE.get(alert.source, sc.EVENT_POLICY_ALERT)
        number, _ = alert_severity(alert.severity)
        body = alert.message or f"{alert.rule_name or alert.rule_id}: {_body(ev)}"
        return self._record(ev, observed, name, number, body, b"".join(parts))

    def _record(
        self, ev: Event, observed: int, name: str, severity: int, body: str, attributes: bytes
    ) -> bytes:
        text = SEVERITY_NAMES[severity]
        time_ns = max(ev.timestamp_ns, 0)  # fixed64: a bogus negative clock must not sink the batch
        p = ev.process
        if p is None or not p.span_id:
            return self._f.record(time_ns, observed, severity, text, body[:BODY_LIMIT], attributes, name)
        return self._f.record(
            time_ns, observed, severity, text, body[:BODY_LIMIT], attributes, name, p.trace_id, p.span_id
        )

    def _key(self, name: str) -> bytes:
        key = self._keys.get(name)
        if key is None:  # template instances (arg names, label keys) add a few names each
            if len(self._keys) > CACHE_LIMIT:
                self._keys.clear()
            key = self._keys[name] = self._f.key(name)
        return key

    def _s(self, name: str, value: str) -> bytes:
        return self._f.attr_str(self._key(name), value)

    def _i(self, name: str, value: int) -> bytes:
        return self._f.attr_int(self._key(name), value)

    def _present(self, pairs: tuple[tuple[str, str | int], ...]) -> bytes:
        """Attributes for the values that are set (0 and "" mean unknown here)."""
        return b"".join(self._i(n, v) if isinstance(v, int) else self._s(n, v) for n, v in pairs if v)

    def _array(self, name: str, values: tuple[str, ...]) -> bytes:
        return self._f.attr_str_array(self._key(name), values)

    # --- attributes ------------------------------------------------------------------------
    def _attributes(self, ev: Event) -> tuple[str, bytes]:
        """(event name, every attribute of the event) as one byte string."""
        operation = ev.operation.value
        name = ev.kind
        head_bytes = self._heads.get((operation, ev.syscall))
        if head_bytes is None:
            head_bytes = self._head(operation, ev.syscall)
        identity = (ev.host_pid, ev.host_tid, ev.uid, ev.gid, ev.comm, ev.cgroup_id)
        who = self._threads.get(identity)
        if who is None:
            who = self._thread(identity)
        parts = [head_bytes, self._result(ev.retval), who]
        if ev.repeat_count:
            parts.append(self._i(sc.BEHOLDER_EVENT_REPEAT_COUNT, ev.repeat_count))
        if ev.truncated:
            parts.append(self._f.attr_true(self._key(sc.BEHOLDER_EVENT_TRUNCATED)))
        handler = self._handlers.get(name)
        specific, consumed = handler(ev, name) if handler else (self._args(ev.data, _NO_KEYS), False)
        parts.append(specific)
        if ev.resource and not consumed:
            parts.append(self._s(sc.BEHOLDER_RESOURCE, ev.resource))
        p = ev.process
        if p is not None:
            fingerprint = (p.exe, p.cmdline, p.cwd, p.ppid, p.parent_exe, p.ns_pid, p.ns_ppid)
            image, rest = self._shared(self._processes, p, fingerprint, self._process_chunks)
            parts.append(rest if name == sc.EVENT_PROCESS_EXEC else image + rest)
        c = ev.container or (p.container if p is not None else None)
        if c is not None:
            # Labels may be filled in place later; the dict's identity and size catch that.
            fingerprint = (
                c.name,
                c.image,
                c.image_id,
                c.pod_name,
                c.namespace,
                c.workload_name,
                id(c.labels),
            )
            parts.append(
                self._shared(self._containers, c, (*fingerprint, len(c.labels)), self._container_chunk)
            )
        return name, b"".join(parts)

    def _thread(self, identity: tuple[int, int, int, int, str, int]) -> bytes:
        """Who made the call: pid, tid, credentials, comm, cgroup (repeats across events)."""
        pid, tid, uid, gid, comm, cgroup_id = identity
        out = (
            self._i(sc.PROCESS_PID, pid)
            + self._i(sc.PROCESS_REAL_USER_ID, uid)
            + self._i(sc.BEHOLDER_PROCESS_REAL_GROUP_ID, gid)
        )
        if tid and tid != pid:
            out += self._i(sc.BEHOLDER_THREAD_TID, tid)
        if comm:
            out += self._s(sc.THREAD_NAME, comm)
        if cgroup_id:
            out += self._i(sc.BEHOLDER_CGROUP_ID, cgroup_id)
        if len(self._threads) > CACHE_LIMIT:
            self._threads.clear()
        self._threads[identity] = out
        return out

    def _head(self, operation: str, syscall: str) -> bytes:
        head = self._s(sc.BEHOLDER_OPERATION, operation) + self._s(sc.BEHOLDER_SYSCALL_NAME, syscall)
        self._heads[(operation, syscall)] = head
        return head

    def _result(self, retval: int) -> bytes:
        cached = self._results.get(retval)
        if cached is None:
            if len(self._results) > CACHE_LIMIT:
                self._results.clear()
            cached = self._i(sc.BEHOLDER_SYSCALL_RETVAL, retval)
            if retval < 0:
                cached += self._s(sc.BEHOLDER_SYSCALL_RESULT, os.strerror(-retval))
                cached += self._s(sc.ERROR_TYPE, errno.errorcode.get(-retval, f"E{-retval}"))
            else:
                cached += self._s(sc.BEHOLDER_SYSCALL_RESULT, "Passed")
            self._results[retval] = cached
        return cached

    def _value(self, name: str, value: str) -> bytes:
        """A low-cardinality string attribute, encoded once per distinct value."""
        cached = self._values.get((name, value))
        if cached is None:
            if len(self._values) > CACHE_LIMIT:
                self._values.clear()
            cached = self._values[(name, value)] = self._s(name, value)
        return cached

    def _shared(self, store: dict[int, tuple], obj: T, fingerprint: tuple, build: Callable[[T], R]) -> R:
        """Encode an object many events share once; again only when its fingerprint changes.

        The cache holds the object itself, so its id cannot be reused while cached.
        """
        cached = store.get(id(obj))
        if cached is not None and cached[1] == fingerprint:
            return cached[2]
        if len(store) > CACHE_LIMIT:
            store.clear()
        value = build(obj)
        store[id(obj)] = (obj, fingerprint, value)
        return value

    def _args(self, data: Mapping[str, str], mapped: Mapping[str, str], skip: tuple[str, ...] = ()) -> bytes:
        """Data entries: mapped keys to their attribute, the rest to `beholder.syscall.arg.<key>`.

        Whole argument sets repeat (`fd=-100 flags=O_RDONLY|O_CLOEXEC`), so each distinct set
        is encoded once.
        """
        signature = (id(mapped), skip, *data.items())
        cached = self._arg_sets.get(signature)
        if cached is not None:
            return cached
        out = []
        for k, v in data.items():
            if k in skip:
                continue
            attr = mapped.get(k)
            if attr is not None:
                out.append(self._s(attr, v))
            else:
                out.append(self._s(f"{sc.BEHOLDER_SYSCALL_ARG}.{k}", v))
        if len(self._arg_sets) > CACHE_LIMIT:
            self._arg_sets.clear()
        encoded = self._arg_sets[signature] = b"".join(out)
        return encoded

    def _process_chunks(self, p: ProcessInfo) -> tuple[bytes, bytes]:
        """(image attributes: exe and command line, the rest); exec events replace the first."""
        image = self._present(
            (
                (sc.PROCESS_EXECUTABLE_PATH, p.exe),
                (sc.PROCESS_EXECUTABLE_NAME, p.exe.rpartition("/")[2]),
                (sc.PROCESS_COMMAND_LINE, p.cmdline),
            )
        )
        rest = (
            (sc.PROCESS_PARENT_PID, p.ppid),
            (sc.PROCESS_VPID, p.ns_pid),
            (sc.BEHOLDER_PROCESS_PARENT_VPID, p.ns_ppid),
            (sc.BEHOLDER_PROCESS_PARENT_EXECUTABLE_PATH, p.parent_exe),
            (sc.PROCESS_WORKING_DIRECTORY, p.cwd),
        )
        return image, self._present(rest)

    def _container_chunk(self, c: ContainerInfo) -> bytes:
        """Every container and pod attribute of one container, encoded once."""
        out = [self._s(sc.CONTAINER_ID, c.container_id)]
        if c.name:
            out.append(self._s(sc.K8S_CONTAINER_NAME if c.pod_name else sc.CONTAINER_NAME, c.name))
        if c.image:
            name, tag, digest = split_image(c.image)
            out.append(self._s(sc.CONTAINER_IMAGE_NAME, name))
            if tag:
                out.append(self._array(sc.CONTAINER_IMAGE_TAGS, (tag,)))
            if digest:
                out.append(self._array(sc.CONTAINER_IMAGE_REPO_DIGESTS, (digest,)))
        pairs = (
            (sc.CONTAINER_IMAGE_ID, c.image_id),
            (sc.CONTAINER_RUNTIME_NAME, c.runtime),
            (sc.K8S_NAMESPACE_NAME, c.namespace),
            (sc.K8S_POD_NAME, c.pod_name),
            (sc.K8S_POD_UID, c.pod_uid),
            (sc.BEHOLDER_K8S_SERVICE_ACCOUNT_NAME, c.service_account),
        )
        out.append(self._present(pairs))
        workload = _WORKLOAD.get(c.workload_kind)
        if workload and c.workload_name:
            out.append(self._s(workload, c.workload_name))
        out += [self._s(f"{sc.K8S_POD_LABEL}.{k}", v) for k, v in c.labels.items()]
        return b"".join(out)

    # --- per-event handlers: (attributes, whether they carry the resource) ------------------
    def _exec(self, ev: Event, name: str) -> tuple[bytes, bool]:
        path = ev.resource
        out = self._present(
            ((sc.PROCESS_EXECUTABLE_PATH, path), (sc.PROCESS_EXECUTABLE_NAME, path.rpartition("/")[2]))
        )
        if ev.argv:
            out += self._array(sc.PROCESS_COMMAND_ARGS, ev.argv)
        return out + self._args(ev.data, _NO_KEYS, skip=("argv",)), True

    def _fork(self, ev: Event, name: str) -> tuple[bytes, bool]:
        # parent_pid repeats process.pid: the forking process is the event's process.
        child = ev.data.get("child_pid", "")
        rest = self._args(
            ev.data, _NO_KEYS, ("parent_pid", "child_pid") if child.isdigit() else ("parent_pid",)
        )
        if child.isdigit():
            return self._i(sc.BEHOLDER_PROCESS_CHILD_PID, int(child)) + rest, True
        return rest, False

    def _exit(self, ev: Event, name: str) -> tuple[bytes, bool]:
        code = ev.data.get("exit_code", "")
        if code.isdigit():
            return self._i(sc.PROCESS_EXIT_CODE, int(code)) + self._args(
                ev.data, _NO_KEYS, ("exit_code",)
            ), False
        return self._args(ev.data, _NO_KEYS), False

    def _file(self, ev: Event, name: str) -> tuple[bytes, bool]:
        out = self._s(sc.FILE_PATH, ev.resource) if ev.resource else b""
        return out + self._args(ev.data, _OPEN_KEYS if name == sc.EVENT_FILE_OPEN else _FILE_KEYS), True

    def _family(self, family: str) -> bytes:
        out = self._value(sc.BEHOLDER_NETWORK_ADDRESS_FAMILY, family)
        version = _IP_VERSION.get(family)
        if version:
            out += self._value(sc.NETWORK_TYPE, version)
        elif family == "AF_UNIX":
            out += self._value(sc.NETWORK_TRANSPORT, "unix")
        return out

    def _sockaddr(self, ev: Event, name: str) -> tuple[bytes, bool]:
        data = ev.data
        out = []
        family = data.get("sa_family", "")
        if family:
            out.append(self._family(family))
        address_attr, port_attr = _ROLE.get(name, (sc.NETWORK_PEER_ADDRESS, sc.NETWORK_PEER_PORT))
        address = _address(data, _ADDRESS_KEYS)
        if address:
            out.append(self._s(address_attr, address))
        port = _address(data, _PORT_KEYS)
        if port.isdigit():
            out.append(self._i(port_attr, int(port)))
        qname = data.get("qname")
        if qname is not None:
            out.append(self._s(sc.DNS_QUESTION_NAME, qname))
        if "qtype" in data:
            out.append(self._value(sc.BEHOLDER_DNS_QUESTION_TYPE, data["qtype"]))
        skip = ("sa_family", "qname", "qtype", *_ADDRESS_KEYS, *(_PORT_KEYS if port.isdigit() else ()))
        out.append(self._args(data, _NO_KEYS, skip))
        return b"".join(out), bool(family or qname is not None)

    def _socket(self, ev: Event, name: str) -> tuple[bytes, bool]:
        # Resource is `domain=AF_INET type=SOCK_STREAM|SOCK_CLOEXEC protocol=0`: low cardinality.
        cached = self._values.get((name, ev.resource))
        if cached is None:
            fields = dict(part.partition("=")[::2] for part in ev.resource.split())
            family, kind = fields.get("domain", ""), fields.get("type", "")
            cached = self._family(family) if family else b""
            if kind:
                cached += self._s(sc.BEHOLDER_NETWORK_SOCKET_TYPE, kind)
            if family in _IP_VERSION and kind.startswith(("SOCK_STREAM", "SOCK_DGRAM")):
                cached += self._s(sc.NETWORK_TRANSPORT, "tcp" if kind.startswith("SOCK_STREAM") else "udp")
            if "protocol" in fields:
                cached += self._s(f"{sc.BEHOLDER_SYSCALL_ARG}.protocol", fields["protocol"])
            self._values[(name, ev.resource)] = cached
        return cached + self._args(ev.data, _NO_KEYS), bool(cached)

    def _tcp_state(self, ev: Event, name: str) -> tuple[bytes, bool]:
        data = ev.data
        out = [self._family(data.get("sa_family", "")), self._value(sc.NETWORK_TRANSPORT, "tcp")]
        skip = ["sa_family"]
        for addr_key, port_key, addr_attr, port_attr in (
            ("saddr", "sport", sc.NETWORK_LOCAL_ADDRESS, sc.NETWORK_LOCAL_PORT),
            ("daddr", "dport", sc.NETWORK_PEER_ADDRESS, sc.NETWORK_PEER_PORT),
        ):
            if data.get(addr_key):
                out.append(self._s(addr_attr, data[addr_key]))
                skip.append(addr_key)
            if data.get(port_key, "").isdigit():
                out.append(self._i(port_attr, int(data[port_key])))
                skip.append(port_key)
        for key, attr in (("newstate", sc.NETWORK_CONNECTION_STATE), ("oldstate", _PREVIOUS_STATE)):
            state = _TCP_STATES.get(data.get(key, ""))
            if state:
                out.append(self._value(attr, state))
                skip.append(key)
        out.append(self._args(data, _NO_KEYS, tuple(skip)))
        return b"".join(out), True

    def _listen(self, ev: Event, name: str) -> tuple[bytes, bool]:
        return self._args(ev.data, _NO_KEYS), "fd" in ev.data

    def _capability(self, ev: Event, name: str) -> tuple[bytes, bool]:
        cap = ev.data.get("capability") or ev.resource
        return self._value(sc.BEHOLDER_CAPABILITY_NAME, cap) + self._args(
            ev.data, _NO_KEYS, ("capability",)
        ), True


_PREVIOUS_STATE = sc.BEHOLDER_NETWORK_CONNECTION_PREVIOUS_STATE


def _body(ev: Event) -> str:
    return f"{ev.syscall} {ev.resource}" if ev.resource else ev.syscall


_DEFAULT = LogEncoder()


def encode_logs_bytes(events: list[Event], alerts: list[Alert], resource: Mapping[str, object]) -> bytes:
    """The serialized request, for senders that do not need the message object."""
    return _DEFAULT.encode(events, alerts, resource)


def encode_logs(
    events: list[Event], alerts: list[Alert], resource: Mapping[str, object]
) -> ExportLogsServiceRequest:
    """One `ExportLogsServiceRequest` (one ResourceLogs, one ScopeLogs) for the batch."""
    return ExportLogsServiceRequest.FromString(_DEFAULT.encode(events, alerts, resource))


# --- resource --------------------------------------------------------------------------------


def parse_resource_env(value: str) -> tuple[dict[str, str], list[str]]:
    """`k1=v1,k2=v2` with percent-encoded values (OTel SDK environment-variable spec).

    A broken entry is left out and named in the problems; the valid pairs are kept, as
    the Python SDK's own detector does.
    """
    out: dict[str, str] = {}
    problems: list[str] = []
    for item in value.split(","):
        if not item.strip():
            continue
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            problems.append(f"entry {item.strip()[:60]!r} is not key=value")
            continue
        try:
            out[key.strip()] = urllib.parse.unquote(raw.strip(), errors="strict")
        except UnicodeDecodeError as exc:
            problems.append(f"{key.strip()}: {exc.reason}")
    return out, problems


@functools.cache
def _report_once(message: str) -> None:
    """Every sink and the metrics build the resource: say a problem once, not once each."""
    logging.getLogger("beholder.otel").error("%s", message)


def resource_attributes(
    host: HostIdentity, extra: dict[str, str] | None = None, environ: Mapping[str, str] | None = None
) -> dict[str, str | int | bool]:
    """The agent's resource: ours, then OTEL_RESOURCE_ATTRIBUTES, then `extra`, then OTEL_SERVICE_NAME.

    Broken entries of OTEL_RESOURCE_ATTRIBUTES are left out and reported once, in one line,
    on the `beholder.otel` logger; its valid pairs are kept.
    """
    env = os.environ if environ is None else environ
    attrs: dict[str, str | int | bool] = {
        sc.SERVICE_NAME: "beholder",
        sc.SERVICE_VERSION: __version__,
        sc.HOST_NAME: host.host_name,
        **identity_attributes(host),
    }
    if host.node_name:
        attrs[sc.K8S_NODE_NAME] = host.node_name
    if host.cluster_name:
        attrs[sc.K8S_CLUSTER_NAME] = host.cluster_name
    parsed, problems = parse_resource_env(env.get("OTEL_RESOURCE_ATTRIBUTES", ""))
    attrs.update(parsed)
    if problems:
        _report_once(f"OTEL_RESOURCE_ATTRIBUTES: {'; '.join(problems)}; ignoring those entries")
    attrs.update(extra or {})
    service = env.get("OTEL_SERVICE_NAME", "").strip()
    if service:
        attrs[sc.SERVICE_NAME] = service
    return attrs
