"""The `file` sink writes OTLP JSON lines the Collector's otlpjsonfile receiver can read."""

from __future__ import annotations

import gzip
import os
import stat
import threading

import pytest
from google.protobuf import json_format
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

from beholder.otel.file_sink import OtlpJsonFileSink
from beholder.otel.semconv_check import check_attributes
from otel_semconv.samples import ALERTS, EVENTS

RESOURCE = {"service.name": "beholder", "host.name": "node-1"}


def read_requests(path) -> list[ExportLogsServiceRequest]:
    data = path.read_bytes()
    lines = (gzip.decompress(data) if path.suffix == ".gz" else data).splitlines()
    return [json_format.Parse(line, ExportLogsServiceRequest()) for line in lines]


def record_count(requests) -> int:
    return sum(len(sl.log_records) for r in requests for rl in r.resource_logs for sl in rl.scope_logs)


def test_each_batch_is_one_parseable_otlp_json_line(tmp_path):
    path = tmp_path / "logs" / "beholder.jsonl"
    sink = OtlpJsonFileSink(path, RESOURCE)
    sink.emit(list(EVENTS.values()), [])
    sink.emit([], list(ALERTS.values()))
    sink.emit([], [])
    sink.close()
    requests = read_requests(path)
    assert len(requests) == 2
    assert record_count(requests) == len(EVENTS) + len(ALERTS)
    assert all(check_attributes(r) == [] for r in requests)
    first = requests[0].resource_logs[0].scope_logs[0].log_records[0]
    assert first.event_name == "beholder.process.exec"
    assert sink.written == len(EVENTS) + len(ALERTS)
    assert sink.lost == 0


def test_lines_use_the_otlp_json_spelling(tmp_path):
    path = tmp_path / "beholder.jsonl"
    sink = OtlpJsonFileSink(path, RESOURCE)
    sink.emit([EVENTS["open"]], [])
    sink.close()
    line = path.read_text()
    assert line.startswith('{"resourceLogs":[{"resource":{"attributes":[')
    assert '"timeUnixNano":"1700000000123456789"' in line  # int64 as a decimal string
    assert '"severityNumber":9,' in line  # enum as an integer
    assert '"intValue":"4242"' in line
    assert '"eventName":"beholder.file.open"' in line
    assert line.endswith("}\n") and line.count("\n") == 1


@pytest.mark.parametrize("existing_mode", [None, 0o644], ids=["new-file", "existing-wider-file"])
def test_file_is_private(tmp_path, existing_mode):
    path = tmp_path / "beholder.jsonl"
    if existing_mode is not None:
        path.write_text("")
        path.chmod(existing_mode)
    sink = OtlpJsonFileSink(path, RESOURCE)
    sink.close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_rotation_keeps_whole_lines_and_a_bounded_number_of_files(tmp_path):
    path = tmp_path / "beholder.jsonl"
    sink = OtlpJsonFileSink(path, RESOURCE, max_bytes=30_000, backups=2)
    for _ in range(12):
        sink.emit([EVENTS["open"]] * 5, [])
    sink.close()
    files = sorted(p.name for p in tmp_path.iterdir())
    # Rotated generations are gzip-compressed, like Tetragon's export file.
    assert files == ["beholder.jsonl", "beholder.jsonl.1.gz", "beholder.jsonl.2.gz"]
    assert all((tmp_path / f).stat().st_size <= 30_000 for f in files)
    kept = [r for f in files for r in read_requests(tmp_path / f)]
    assert record_count(kept) % 5 == 0 and 0 < record_count(kept) < 60
    assert sink.written == 60


def test_full_queue_drops_and_counts_instead_of_blocking(tmp_path, monkeypatch):
    sink = OtlpJsonFileSink(tmp_path / "beholder.jsonl", RESOURCE, queue_batches=2)
    entered, release = threading.Event(), threading.Event()
    real_write = sink._write

    def slow_write(*batch):
        entered.set()
        release.wait(timeout=30)
        real_write(*batch)

    monkeypatch.setattr(sink, "_write", slow_write)
    sink.emit([EVENTS["open"]], [])  # taken by the writer, which then blocks
    assert entered.wait(timeout=30)
    sink.emit([EVENTS["open"]] * 2, [])  # queued
    sink.emit([EVENTS["open"]] * 3, [])  # queued
    sink.emit([EVENTS["open"]] * 4, [ALERTS["policy_block"]])  # queue full: dropped, counted
    assert sink.lost == 5
    release.set()
    sink.close()
    assert sink.written == 6
    assert record_count(read_requests(tmp_path / "beholder.jsonl")) == 6


def test_write_failure_is_counted_and_the_sink_keeps_running(tmp_path):
    sink = OtlpJsonFileSink(tmp_path / "beholder.jsonl", RESOURCE)
    read_only = os.open(os.devnull, os.O_RDONLY)
    os.dup2(read_only, sink._target.stream.fileno())  # every write now fails with EBADF
    os.close(read_only)
    sink.emit([EVENTS["open"]] * 3, [])
    sink.emit([EVENTS["exec"]], [])
    sink.flush()
    assert (sink.lost, sink.written) == (4, 0)
    sink.close()
