"""One resource for every signal: schema_url, a derived service.instance.id, k8s keys only when known;
metric export outages reported once."""

from __future__ import annotations

import logging
import socket
import time
import uuid
from pathlib import Path

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.metrics.export import MetricExportResult, MetricsData

from beholder.events.interfaces import HostIdentity
from beholder.otel import semconv as sc
from beholder.otel.encode import encode_logs
from beholder.otel.metric_export import OutageReportingExporter
from beholder.otel.metrics import start_metrics
from beholder.otel.outage import Outages
from beholder.otel.queue import ExportQueue, Serialized
from beholder.otel.resource import SCHEMA_URL, identity_attributes, resource_attributes
from beholder.otel.spool import Spool
from beholder.otel.transport import Backoff, make_transport
from otel_export.agent_helper import exec_event
from otel_export.receiver import RECEIVERS, Collector, config_for
from otel_export.records import numbered_batches, numbers


def machine_id_file(tmp_path: Path, value: str) -> tuple[Path, ...]:
    path = tmp_path / f"machine-id-{value}"
    path.write_text(f"{value}\n")
    return (path,)


def test_service_instance_id_is_a_uuid5_stable_per_machine_and_node(tmp_path: Path) -> None:
    node_a, node_b = HostIdentity("a", "a"), HostIdentity("b", "b")
    first = identity_attributes(node_a, machine_id_file(tmp_path, "m1"))[sc.SERVICE_INSTANCE_ID]
    again = identity_attributes(node_a, machine_id_file(tmp_path, "m1"))[sc.SERVICE_INSTANCE_ID]
    assert first == again and uuid.UUID(first).version == 5
    assert identity_attributes(node_b, machine_id_file(tmp_path, "m1"))[sc.SERVICE_INSTANCE_ID] != first
    assert identity_attributes(node_a, machine_id_file(tmp_path, "m2"))[sc.SERVICE_INSTANCE_ID] != first
    # Without a machine id (a minimal image) the node name alone still gives a stable id.
    missing = (tmp_path / "absent",)
    assert identity_attributes(node_a, missing) == identity_attributes(node_a, missing)


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        (HostIdentity("h"), {}),
        (HostIdentity("h", node_name="node-7"), {sc.K8S_NODE_NAME: "node-7"}),
        (
            HostIdentity("h", node_name="node-7", cluster_name="prod"),
            {sc.K8S_NODE_NAME: "node-7", sc.K8S_CLUSTER_NAME: "prod"},
        ),
    ],
)
def test_kubernetes_keys_appear_only_when_known(host: HostIdentity, expected: dict) -> None:
    attrs = resource_attributes(host, environ={})
    assert {k: v for k, v in attrs.items() if k.startswith("k8s.")} == expected
    assert host.cluster_label == (host.cluster_name or "default")  # KubeArmor's ClusterName


def _attrs(resource) -> dict[str, object]:
    return {kv.key: getattr(kv.value, kv.value.WhichOneof("value")) for kv in resource.attributes}


@pytest.mark.parametrize("protocol", list(RECEIVERS))
def test_logs_and_metrics_carry_the_same_resource_and_schema_url(protocol: str, collector: Collector) -> None:
    resource = resource_attributes(HostIdentity("node-a", "node-a", "lab"), environ={})
    logs = encode_logs([exec_event(1)], [], resource)
    with RECEIVERS[protocol](collector) as receiver:
        runtime = start_metrics(resource, otlp=config_for(protocol, receiver.url, signal="metrics"))
        runtime.metrics.record_batch([exec_event(1)], [])
        assert runtime.provider.force_flush(10_000)
        runtime.shutdown()
    resource_logs = logs.resource_logs[0]
    resource_metrics = collector.metrics[0].resource_metrics[0]
    assert _attrs(resource_logs.resource) == _attrs(resource_metrics.resource) == resource
    assert resource[sc.TELEMETRY_SDK_LANGUAGE] == "python" and sc.SERVICE_INSTANCE_ID in resource
    assert resource_logs.schema_url == resource_logs.scope_logs[0].schema_url == SCHEMA_URL
    assert resource_metrics.schema_url == SCHEMA_URL
    assert {sm.schema_url for sm in resource_metrics.scope_metrics} == {SCHEMA_URL}


class ScriptedInner:
    """Stands in for the SDK exporter: answers from a script, counts calls and shutdowns."""

    _preferred_temporality: dict = {}  # noqa: RUF012 - read once by the wrapper
    _preferred_aggregation: dict = {}  # noqa: RUF012

    def __init__(self, results: list[MetricExportResult]) -> None:
        self.results = iter(results)
        self.calls = 0
        self.shut_down = False

    def export(self, data: MetricsData, timeout_millis: float = 0) -> MetricExportResult:
        self.calls += 1
        return next(self.results)

    def shutdown(self, timeout_millis: float = 0) -> None:
        self.shut_down = True

    def force_flush(self, timeout_millis: float = 0) -> bool:
        return True


def scripted(results: list[MetricExportResult]) -> tuple[OutageReportingExporter, ScriptedInner]:
    inner = ScriptedInner(results)
    exporter = OutageReportingExporter(inner, "http://collector:4318/v1/metrics", Outages())  # type: ignore[arg-type]
    return exporter, inner


def beholder_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name.startswith("beholder")]


def test_an_outage_is_one_line_when_it_starts_and_one_when_it_ends(caplog) -> None:
    failure, success = MetricExportResult.FAILURE, MetricExportResult.SUCCESS
    exporter, _ = scripted([failure] * 5 + [success, failure, success])
    with caplog.at_level(logging.WARNING):
        for _ in range(8):
            exporter.export(MetricsData(resource_metrics=[]))
    lines = beholder_lines(caplog)
    assert [line.split(" ")[5] for line in lines] == ["failing", "recovered", "failing", "recovered"]
    assert "after 5 failed attempts" in lines[1]


def test_shutdown_during_an_outage_skips_the_final_export_and_wakes_the_retrying_one() -> None:
    exporter, inner = scripted([MetricExportResult.FAILURE] * 3)
    exporter.export(MetricsData(resource_metrics=[]))
    exporter.begin_shutdown()
    assert inner.shut_down  # the SDK exporter's retry sleep ends on its shutdown event
    assert exporter.export(MetricsData(resource_metrics=[])) is MetricExportResult.FAILURE
    assert inner.calls == 1


def dead_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize("protocol", list(RECEIVERS))
def test_the_sdk_exporter_says_nothing_itself_while_the_collector_is_down(protocol: str, caplog) -> None:
    url = f"http://127.0.0.1:{dead_port()}"
    config = config_for(protocol, url, signal="metrics", timeout_s=0.5)
    with caplog.at_level(logging.DEBUG):
        runtime = start_metrics({"service.name": "t"}, otlp=config, interval_s=0.2)
        deadline = time.monotonic() + 30
        while runtime.otlp_exporter is not None and not runtime.otlp_exporter.down:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        for _ in range(3):
            runtime.provider.force_flush(2_000)
        runtime.shutdown()
    assert [r.getMessage() for r in caplog.records if r.name.startswith("opentelemetry")] == []
    (line,) = beholder_lines(caplog)
    assert "metrics export to" in line and "failing" in line


def test_an_outage_of_logs_traces_and_metrics_is_one_line_when_it_starts_and_one_when_it_ends(
    collector: Collector, recorded, tmp_path: Path, caplog
) -> None:
    """The three exporters of one agent, a real gRPC receiver that goes away and comes back."""
    receiver = RECEIVERS["grpc"](collector).start()
    receiver.stop()  # the port is known; nothing listens on it
    outages = Outages()
    fast = Backoff(initial_s=0.01, maximum_s=0.05)
    queues = {
        signal: ExportQueue(
            make_transport(config_for("grpc", receiver.url, signal=signal, timeout_s=1.0)),
            recorded.metrics,
            spool=Spool(tmp_path / signal, max_bytes=1 << 20),
            timeout_s=1.0,
            backoff=fast,
            signal=signal,
            endpoint=receiver.url,
            outages=outages,
        )
        for signal in ("logs", "traces")
    }
    failure, success = MetricExportResult.FAILURE, MetricExportResult.SUCCESS
    metrics = OutageReportingExporter(ScriptedInner([failure, failure, success]), receiver.url, outages)  # type: ignore[arg-type]
    with caplog.at_level(logging.WARNING):
        queues["logs"].put(numbered_batches(1, 5)[0])
        queues["traces"].put(Serialized(ExportTraceServiceRequest().SerializeToString(), 1))
        for queue in queues.values():
            assert queue.flush(30) and queue.pending_records > 0  # failed, waiting in its spool
        metrics.export(MetricsData(resource_metrics=[]))
        metrics.export(MetricsData(resource_metrics=[]))
        assert [line.split(" ")[5] for line in beholder_lines(caplog)] == ["failing"]
        receiver.start()
        deadline = time.monotonic() + 30
        while any(queue.pending_records for queue in queues.values()):
            assert time.monotonic() < deadline, "the spools were not replayed"
            time.sleep(0.05)
        assert [line.split(" ")[5] for line in beholder_lines(caplog)] == ["failing"]  # metrics still down
        metrics.export(MetricsData(resource_metrics=[]))
    for queue in queues.values():
        queue.close(5)
    receiver.stop()
    lines = beholder_lines(caplog)
    assert [line.split(" ")[5] for line in lines] == ["failing", "recovered"]
    assert lines[0].split(" ")[1] in ("logs", "traces") and "spooling to" in lines[0]  # which failed first
    assert set(lines[1].split(" ")[1].split("+")) == {"logs", "traces", "metrics"}
    assert numbers(collector.records()) == list(range(5))
