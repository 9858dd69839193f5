"""Numbered log records: the smallest requests that still prove order and completeness."""

from __future__ import annotations

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord

from beholder.otel.queue import Serialized


def numbered_request(start: int, count: int) -> ExportLogsServiceRequest:
    """One request whose records carry the integers start..start+count-1 as their bodies."""
    request = ExportLogsServiceRequest()
    scope = request.resource_logs.add().scope_logs.add()
    scope.scope.name = "beholder.tests"
    for n in range(start, start + count):
        record = scope.log_records.add()
        record.time_unix_nano = 1_700_000_000_000_000_000 + n
        record.body.int_value = n
    return request


def numbered_batches(batches: int, per_batch: int) -> list[Serialized]:
    return [
        Serialized(numbered_request(i * per_batch, per_batch).SerializeToString(), per_batch)
        for i in range(batches)
    ]


def numbers(records: list[LogRecord]) -> list[int]:
    return [record.body.int_value for record in records]
