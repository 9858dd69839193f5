"""Events and alerts emitted through the OTLP sink arrive as conforming log records."""

from __future__ import annotations

import pytest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

from beholder.events.interfaces import HostIdentity
from beholder.events.model import Action, Alert, ContainerInfo, Event, Operation, ProcessInfo
from beholder.formats.kubearmor_in import with_facts
from beholder.otel import semconv as sc
from beholder.otel.otlp_sink import build_otlp_sink
from beholder.otel.semconv_check import check_attributes
from beholder.otel.severity import TELEMETRY_SEVERITY, alert_severity
from otel_export.agent_helper import exec_event
from otel_export.receiver import RECEIVERS, Collector
from otel_export.recorded import RecordedMetrics


def plain(value: AnyValue) -> object:
    return getattr(value, value.WhichOneof("value")) if value.WhichOneof("value") else None


def open_event() -> Event:
    process = ProcessInfo(pid=42, ppid=1, comm="cat", exe="/usr/bin/cat", cmdline="cat /etc/shadow")
    container = ContainerInfo("c0ffee", runtime="containerd", name="web", namespace="prod", pod_name="web-1")
    return with_facts(
        Event(
            timestamp_ns=1_763_000_000_123_456_789,
            operation=Operation.FILE,
            syscall="openat",
            retval=-13,
            host_pid=42,
            host_tid=42,
            uid=1000,
            gid=1000,
            comm="cat",
            cgroup_id=7,
            resource="/etc/shadow",
            process=process,
            container=container,
        ),
        {"fd": "-100", "flags": "O_RDONLY"},
    )


@pytest.mark.parametrize("compression", ["none", "gzip"])
@pytest.mark.parametrize("protocol", list(RECEIVERS))
def test_sink_delivers_events_and_alerts_under_the_convention(
    protocol: str, compression: str, collector: Collector, recorded: RecordedMetrics, monkeypatch, tmp_path
) -> None:
    monkeypatch.setenv("OTEL_SERVICE_NAME", "beholder-e2e")
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment.name=test")
    with RECEIVERS[protocol](collector) as receiver:
        env = {
            "OTEL_EXPORTER_OTLP_PROTOCOL": protocol,
            "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url,
            "OTEL_EXPORTER_OTLP_COMPRESSION": compression,
            "OTEL_EXPORTER_OTLP_HEADERS": "x-scope=tenant-a",
        }
        sink = build_otlp_sink(
            HostIdentity("node-a", "node-a", "lab"), recorded.metrics, tmp_path / "spool", env=env
        )
        shadow = open_event()
        alert = Alert(
            shadow, "policy", "block-shadow", "block-shadow", Action.BLOCK, 7, message="shadow read"
        )
        sink.emit([exec_event(1), shadow], [alert])
        sink.emit([], [])
        sink.close()
    (request,) = collector.logs
    assert check_attributes(request) == []
    resource = {kv.key: plain(kv.value) for kv in request.resource_logs[0].resource.attributes}
    assert resource[sc.SERVICE_NAME] == "beholder-e2e"
    assert resource[sc.HOST_NAME] == "node-a"
    assert resource["deployment.environment.name"] == "test"
    records = collector.records()
    assert [r.event_name for r in records] == [
        sc.EVENT_PROCESS_EXEC,
        sc.EVENT_FILE_OPEN,
        sc.EVENT_POLICY_ALERT,
    ]
    stamps = [exec_event(1).timestamp_ns, shadow.timestamp_ns, shadow.timestamp_ns]
    assert [r.time_unix_nano for r in records] == stamps  # nanoseconds, untouched
    expected_severity = [TELEMETRY_SEVERITY] * 2 + [alert_severity(7, Action.BLOCK)]
    assert [r.severity_number for r in records] == expected_severity
    attributes = {kv.key: plain(kv.value) for kv in records[2].attributes}
    assert attributes[sc.PROCESS_PID] == 42
    assert attributes[sc.SECURITY_RULE_NAME] == "block-shadow"
    assert attributes[sc.BEHOLDER_POLICY_ACTION] == "block"
    assert collector.headers[0]["x-scope"] == "tenant-a"
    assert recorded.lost("export") == recorded.lost("export_queue") == 0


@pytest.mark.parametrize("protocol", list(RECEIVERS))
def test_a_burst_batch_is_split_under_the_collectors_request_limit(
    protocol: str, collector: Collector, recorded: RecordedMetrics, tmp_path
) -> None:
    """A ring-buffer burst can hand over 100k+ events at once; collectors refuse requests over
    4 MiB (gRPC's default), so the sink must split rather than lose them."""
    events = []
    for n in range(15_000):  # ~6 MiB of records: more than one request must carry them
        event = open_event()
        event.resource = f"/var/lib/app/{n:08d}/" + "x" * 100
        events.append(event)
    with RECEIVERS[protocol](collector) as receiver:
        env = {"OTEL_EXPORTER_OTLP_PROTOCOL": protocol, "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url}
        # a queue with room for the whole burst: this test is about request splitting, not shedding
        sink = build_otlp_sink(
            HostIdentity("node-a"), recorded.metrics, tmp_path / "spool", env=env, queue_max_bytes=64 << 20
        )
        sink.emit(events, [])
        sink.close()
    records = collector.records()
    assert len(records) == len(events) and recorded.lost("export") == 0
    assert [plain(r.body) for r in records[:1]] and len(collector.logs) > 1
    assert max(request.ByteSize() for request in collector.logs) <= 4 << 20
    paths = [next(plain(kv.value) for kv in r.attributes if kv.key == sc.FILE_PATH) for r in records]
    assert paths == [e.resource for e in events], "split requests keep the order"
