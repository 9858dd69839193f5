"""`beholder.agent.loss`: every sink that can carry it gets the losses as a record, in stream order."""

from __future__ import annotations

import io

from google.protobuf import json_format
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from otel_export.receiver import Collector, GrpcReceiver, config_for
from otel_export.recorded import RecordedMetrics

from beholder.events.interfaces import HostIdentity
from beholder.events.model import Action, Alert, LossReport
from beholder.formats.kubearmor_in import ReadReport
from beholder.otel import semconv as sc
from beholder.otel.encode import LogEncoder
from beholder.otel.file_sink import OtlpJsonFileSink
from beholder.otel.otlp_sink import OtlpSink, build_otlp_sink
from beholder.otel.queue import ExportQueue
from beholder.otel.semconv_check import check_attributes
from beholder.otel.transport import make_transport
from beholder.output.sinks import ConsoleSink
from beholder.query.otlp_file import read_otlp_lines
from otel_semconv.samples import EVENTS

RESOURCE = {"service.name": "beholder", "host.name": "node-1"}
T0 = 1_700_000_000_000_000_000
REPORTS = [
    LossReport("ringbuf", 1500, 9000, 1_000_000_000, T0),
    LossReport("export_queue", 7, 7, 1_250_000_000, T0),
]


def loss_attributes(request: ExportLogsServiceRequest) -> list[dict[str, object]]:
    out = []
    for rl in request.resource_logs:
        for sl in rl.scope_logs:
            for r in sl.log_records:
                if r.event_name == sc.EVENT_AGENT_LOSS:
                    attrs = {a.key: getattr(a.value, a.value.WhichOneof("value")) for a in r.attributes}
                    out.append({**attrs, "severity": r.severity_text, "body": r.body.string_value})
    return out


def test_encoded_loss_records_follow_the_semantic_convention() -> None:
    request = ExportLogsServiceRequest.FromString(LogEncoder().encode_losses(REPORTS, RESOURCE))
    assert check_attributes(request) == []
    (first, second) = loss_attributes(request)
    assert first == {
        sc.BEHOLDER_STAGE: "ringbuf",
        sc.BEHOLDER_LOSS_COUNT: 1500,
        sc.BEHOLDER_LOSS_TOTAL: 9000,
        sc.BEHOLDER_LOSS_INTERVAL: 1.0,
        "severity": "",  # no invented severity text
        "body": "lost 1500 records at stage ringbuf (9000 since start)",
    }
    assert second[sc.BEHOLDER_STAGE] == "export_queue" and second[sc.BEHOLDER_LOSS_INTERVAL] == 1.25
    record = request.resource_logs[0].scope_logs[0].log_records[0]
    assert record.time_unix_nano == T0 and record.severity_number == 13


def test_the_file_sink_writes_losses_between_the_batches_around_them(tmp_path) -> None:
    path = tmp_path / "out.jsonl"
    sink = OtlpJsonFileSink(path, RESOURCE)
    sink.emit(list(EVENTS.values()), [])
    sink.report_losses(REPORTS)
    sink.emit(list(EVENTS.values()), [])
    sink.close()
    lines = [json_format.Parse(line, ExportLogsServiceRequest()) for line in path.read_bytes().splitlines()]
    assert [len(loss_attributes(r)) for r in lines] == [0, 2, 0]
    assert all(check_attributes(r) == [] for r in lines)


def test_the_otlp_sink_delivers_losses_to_the_collector(tmp_path) -> None:
    collector, recorded = Collector(), RecordedMetrics()
    with GrpcReceiver(collector) as receiver:
        env = {"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc", "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url}
        sink = build_otlp_sink(HostIdentity("node-a"), recorded.metrics, tmp_path / "spool", env=env)
        sink.emit(list(EVENTS.values())[:3], [])
        sink.report_losses(REPORTS)
        sink.close()
    recorded.provider.shutdown()
    names = [r.event_name for r in collector.records()]
    assert len(names) == 5 and names[3:] == [sc.EVENT_AGENT_LOSS, sc.EVENT_AGENT_LOSS]
    assert all(check_attributes(request) == [] for request in collector.logs)


def test_the_console_shows_one_line_per_stage() -> None:
    out = io.StringIO()
    ConsoleSink(out).report_losses(REPORTS)
    assert out.getvalue().splitlines() == [
        "LOSS lost 1500 records at stage ringbuf (9000 since start)",
        "LOSS lost 7 records at stage export_queue (7 since start)",
    ]


def test_reading_a_recording_back_reports_its_gaps_not_bad_records(tmp_path) -> None:
    path = tmp_path / "out.jsonl"
    sink = OtlpJsonFileSink(path, RESOURCE)
    sink.emit(list(EVENTS.values()), [])
    sink.report_losses(REPORTS)
    sink.close()
    report = ReadReport()
    records = list(read_otlp_lines(path.read_text().splitlines(), str(path), report))
    assert len(records) == report.records == len(EVENTS)
    assert report.bad == 0 and report.agent_losses == {"ringbuf": 1500, "export_queue": 7}


def test_when_the_queue_is_full_alerts_go_first_and_dropped_telemetry_is_counted(tmp_path) -> None:
    collector, recorded = Collector(), RecordedMetrics()
    event = next(iter(EVENTS.values()))
    alert = Alert(event, "policy", "audit-all", "audit-all", Action.AUDIT, 5, message="seen")
    with GrpcReceiver(collector) as receiver:
        collector.answering.clear()  # the collector hangs: nothing leaves the queue
        transport = make_transport(config_for("grpc", receiver.url))
        queue = ExportQueue(transport, recorded.metrics, max_records=40)  # telemetry may use 30
        sink = OtlpSink(queue, RESOURCE, close_timeout_s=10)
        for _ in range(3):
            sink.emit([event] * 10, [alert] * 5)
        collector.answering.set()
        sink.close()
    recorded.provider.shutdown()
    names = [r.event_name for r in collector.records()]
    assert names.count(sc.EVENT_POLICY_ALERT) == 15  # every alert
    assert names.count(event_name := names[0]) == 20 and event_name != sc.EVENT_POLICY_ALERT
    assert recorded.lost("export_queue") == 10  # the third batch's telemetry, counted
