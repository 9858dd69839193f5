"""Events and alerts → one OTLP `ExportLogsServiceRequest` per batch, under our semconv.

Hot path: every record is concatenated from byte chunks, protobuf (`wire`) or OTLP/JSON
(`jsonwire`, for the file sink). The encoded chunks are cached in `AttrCache`; each kind's
own attributes come from `EventAttributes` (the event → OTLP mapping); what a process or a
container contributes is encoded once per object here. `encode_logs` parses the finished
protobuf batch once in the C runtime to hand back the message object.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from types import ModuleType

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

from beholder import __version__
from beholder.events import kinds
from beholder.events.model import Alert, ContainerInfo, Event, LossReport, ProcessInfo
from beholder.formats.resource import resource_text
from beholder.otel import semconv as sc
from beholder.otel import wire
from beholder.otel.attr_cache import AttrCache
from beholder.otel.enum_values import ACTION, OPERATION
from beholder.otel.event_attrs import EventAttributes
from beholder.otel.resource import SCOPE_NAME
from beholder.otel.security_rule import rule_category, rule_reference, rule_uuid, ruleset_name
from beholder.otel.severity import LOSS_SEVERITY, TELEMETRY_SEVERITY, alert_severity

BODY_LIMIT = 200

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


class LogEncoder:
    """Encodes batches; keeps the per-process, per-container and per-value caches."""

    def __init__(self, fmt: ModuleType = wire) -> None:
        self._f = fmt
        self._c = AttrCache(fmt)
        self._kind_attributes = EventAttributes(self._c)
        self._processes: dict[int, tuple] = {}  # id -> (ProcessInfo, fingerprint, chunks)
        self._containers: dict[int, tuple] = {}  # id -> (ContainerInfo, fingerprint, chunk)
        # The same, for the batch being encoded: its events keep these objects alive (their
        # ids stay theirs), and enrichment finished the whole batch before it was queued, so
        # each object's fingerprint is taken once per batch, not once per event.
        self._batch_processes: dict[int, tuple[bytes, bytes]] = {}
        self._batch_containers: dict[int, bytes] = {}

    # --- batch ---------------------------------------------------------------------------
    def encode(self, events: list[Event], alerts: list[Alert], resource: Mapping[str, object]) -> bytes:
        """The encoded `ExportLogsServiceRequest` for one batch."""
        observed = time.time_ns()
        self._batch_processes.clear()
        self._batch_containers.clear()
        records = [self._telemetry(ev, observed) for ev in events]
        records += [self._alert(alert, observed) for alert in alerts]
        self._batch_processes.clear()  # hold no ids past the batch
        self._batch_containers.clear()
        return self._f.request(resource, SCOPE_NAME, __version__, records)

    def encode_losses(self, reports: list[LossReport], resource: Mapping[str, object]) -> bytes:
        """One WARN `beholder.agent.loss` record per report, in an `ExportLogsServiceRequest`."""
        observed = time.time_ns()
        records = [
            self._f.record(
                r.time_ns,
                observed,
                LOSS_SEVERITY,
                r.message,
                self._c.value(sc.BEHOLDER_STAGE, r.stage)
                + self._c.i(sc.BEHOLDER_LOSS_COUNT, r.count)
                + self._c.i(sc.BEHOLDER_LOSS_TOTAL, r.total)
                + self._c.d(sc.BEHOLDER_LOSS_INTERVAL, r.interval_ns / 1e9),
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
        parts = [
            attributes,
            self._c.value(sc.SECURITY_RULE_UUID, rule_uuid(alert.source, alert.rule_id)),
            self._c.s(sc.SECURITY_RULE_NAME, alert.rule_name or alert.rule_id),
            self._c.value(sc.SECURITY_RULE_RULESET_NAME, ruleset_name(alert)),
            self._c.value(sc.BEHOLDER_ALERT_SOURCE, alert.source),
            self._c.value(sc.BEHOLDER_RULE_ID, alert.rule_id),
            self._c.value(sc.BEHOLDER_POLICY_ACTION, ACTION[alert.action]),
            self._c.i(sc.BEHOLDER_ALERT_SEVERITY, alert.severity),
        ]
        optional = (
            (sc.SECURITY_RULE_DESCRIPTION, alert.message),
            (sc.SECURITY_RULE_CATEGORY, rule_category(alert)),
            (sc.SECURITY_RULE_REFERENCE, rule_reference(alert)),
            (sc.BEHOLDER_POLICY_ENFORCER, alert.enforcer),
            (sc.BEHOLDER_POLICY_TYPE, alert.policy_type),
        )
        parts.append(self._c.present(optional))
        if alert.tags:
            parts.append(self._c.array(sc.BEHOLDER_RULE_TAGS, alert.tags))
        parts += [self._c.s(f"{sc.BEHOLDER_ALERT_EXTRA}.{k}", v) for k, v in alert.extra.items()]
        name = sc.ALERT_EVENT_BY_SOURCE.get(alert.source, sc.EVENT_POLICY_ALERT)
        number = alert_severity(alert.severity, alert.action)
        body = alert.message or f"{alert.rule_name or alert.rule_id}: {_body(ev)}"
        return self._record(ev, observed, name, number, body, b"".join(parts))

    def _record(
        self, ev: Event, observed: int, name: str, severity: int, body: str, attributes: bytes
    ) -> bytes:
        time_ns = max(ev.timestamp_ns, 0)  # fixed64: a bogus negative clock must not sink the batch
        p = ev.process
        if p is None or not p.span_id:
            return self._f.record(time_ns, observed, severity, body[:BODY_LIMIT], attributes, name)
        return self._f.record(
            time_ns, observed, severity, body[:BODY_LIMIT], attributes, name, p.trace_id, p.span_id
        )

    # --- attributes ------------------------------------------------------------------------
    def _attributes(self, ev: Event) -> tuple[str, bytes]:
        """(event name, every attribute of the event) as one byte string."""
        cache = self._c
        name = ev.kind
        parts = [
            cache.head(OPERATION[ev.operation], ev.syscall),
            cache.result(ev.retval),
            cache.thread((ev.host_pid, ev.host_tid, ev.uid, ev.gid, ev.comm, ev.cgroup_id)),
        ]
        if ev.repeat_count:
            parts.append(cache.i(sc.BEHOLDER_EVENT_REPEAT_COUNT, ev.repeat_count))
        if ev.truncated:
            parts.append(cache.true(sc.BEHOLDER_EVENT_TRUNCATED))
        specific, consumed = self._kind_attributes.specific(ev)
        parts.append(specific)
        if not consumed:
            resource = resource_text(ev)
            if resource:
                parts.append(cache.s(sc.BEHOLDER_RESOURCE, resource))
        p = ev.process
        if p is not None:
            chunks = self._batch_processes.get(id(p))
            if chunks is None:
                chunks = self._batch_processes[id(p)] = self._process(p)
            image, rest = chunks
            parts.append(rest if name == kinds.PROCESS_EXEC else image + rest)
        c = ev.container or (p.container if p is not None else None)
        if c is not None:
            chunk = self._batch_containers.get(id(c))
            if chunk is None:
                chunk = self._batch_containers[id(c)] = self._container(c)
            parts.append(chunk)
        return name, b"".join(parts)

    def _process(self, p: ProcessInfo) -> tuple[bytes, bytes]:
        """A process's chunks, encoded again only when what they show changed."""
        fingerprint = (
            p.exe,
            p.cmdline,
            p.cwd,
            p.ppid,
            p.parent_exe,
            p.ns_pid,
            p.ns_ppid,
            p.euid,
            p.entity_id,
            p.cgroup,
            p.interactive,
        )
        return self._c.shared(self._processes, p, fingerprint, self._process_chunks)

    def _container(self, c: ContainerInfo) -> bytes:
        """A container's chunk; labels may be filled in place later: the dict's identity and
        size catch that."""
        fingerprint = (
            c.name,
            c.image,
            c.image_id,
            c.pod_name,
            c.namespace,
            c.workload_name,
            id(c.labels),
            len(c.labels),
        )
        return self._c.shared(self._containers, c, fingerprint, self._container_chunk)

    def _process_chunks(self, p: ProcessInfo) -> tuple[bytes, bytes]:
        """(image attributes: exe and command line, the rest); exec events replace the first."""
        image = self._c.present(
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
            (sc.PROCESS_CREATION_TIME, iso8601(p.start_ns) if p.start_ns else ""),
            (sc.BEHOLDER_PROCESS_ENTITY_ID, p.entity_id),
            (sc.PROCESS_LINUX_CGROUP, p.cgroup),
        )
        effective = b"" if p.euid is None else self._c.i(sc.PROCESS_USER_ID, p.euid)  # 0 is root
        if p.interactive is not None:
            effective += self._c.flag(sc.PROCESS_INTERACTIVE, p.interactive)
        return image, self._c.present(rest) + effective

    def _container_chunk(self, c: ContainerInfo) -> bytes:
        """Every container and pod attribute of one container, encoded once."""
        out = [self._c.s(sc.CONTAINER_ID, c.container_id)]
        if c.name:
            out.append(self._c.s(sc.K8S_CONTAINER_NAME if c.pod_name else sc.CONTAINER_NAME, c.name))
        if c.image:
            name, tag, digest = split_image(c.image)
            out.append(self._c.s(sc.CONTAINER_IMAGE_NAME, name))
            if tag:
                out.append(self._c.array(sc.CONTAINER_IMAGE_TAGS, (tag,)))
            if digest:
                out.append(self._c.array(sc.CONTAINER_IMAGE_REPO_DIGESTS, (digest,)))
        pairs = (
            (sc.CONTAINER_IMAGE_ID, c.image_id),
            (sc.CONTAINER_RUNTIME_NAME, c.runtime),
            (sc.K8S_NAMESPACE_NAME, c.namespace),
            (sc.K8S_POD_NAME, c.pod_name),
            (sc.K8S_POD_UID, c.pod_uid),
            (sc.BEHOLDER_K8S_SERVICE_ACCOUNT_NAME, c.service_account),
        )
        out.append(self._c.present(pairs))
        workload = _WORKLOAD.get(c.workload_kind)
        if workload and c.workload_name:
            out.append(self._c.s(workload, c.workload_name))
        out += [self._c.s(f"{sc.K8S_POD_LABEL}.{k}", v) for k, v in c.labels.items()]
        return b"".join(out)


def iso8601(time_ns: int) -> str:
    """`2026-12-02T14:25:34.853123Z`: OTel's process.creation.time format, microseconds."""
    seconds, ns = divmod(time_ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{ns // 1000:06d}Z"


def _body(ev: Event) -> str:
    resource = resource_text(ev)
    return f"{ev.syscall} {resource}" if resource else ev.syscall


_DEFAULT = LogEncoder()


def encode_logs_bytes(events: list[Event], alerts: list[Alert], resource: Mapping[str, object]) -> bytes:
    """The serialized request, for senders that do not need the message object."""
    return _DEFAULT.encode(events, alerts, resource)


def encode_logs(
    events: list[Event], alerts: list[Alert], resource: Mapping[str, object]
) -> ExportLogsServiceRequest:
    """One `ExportLogsServiceRequest` (one ResourceLogs, one ScopeLogs) for the batch."""
    return ExportLogsServiceRequest.FromString(_DEFAULT.encode(events, alerts, resource))
