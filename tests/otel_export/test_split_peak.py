"""A batch whose request is too large is split: cut before it is encoded once the record
size is known, and never holding an oversized request while its halves are encoded (both
doubled the export thread's memory peak, and the first its encoding work)."""

from __future__ import annotations

import tracemalloc

from beholder.otel.otlp_sink import RecordSize, _LogBatch

RECORD_BYTES = 1 << 10


def encode(events: list, alerts: list, resource: object) -> bytes:
    return bytes(RECORD_BYTES * (len(events) + len(alerts)))


def test_splitting_does_not_hold_the_oversized_request() -> None:
    records = 4096
    batch = _LogBatch(list(range(records)), [], {}, encode, records, RecordSize())  # type: ignore[arg-type]
    tracemalloc.start()
    try:
        parts = batch.serialize(max_bytes=(records // 2) * RECORD_BYTES)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert [n for _, n in parts] == [records // 2, records // 2]
    whole = records * RECORD_BYTES
    assert peak < whole * 1.25  # both halves (the whole again) plus small change; 2x when held


def test_a_batch_is_cut_by_the_record_size_seen_and_encoded_once() -> None:
    encoded: list[int] = []

    def counting(events: list, alerts: list, resource: object) -> bytes:
        encoded.append(len(events) + len(alerts))
        return encode(events, alerts, resource)

    size = RecordSize()
    max_bytes = 1 << 20
    first = _LogBatch(list(range(4096)), [], {}, counting, 4096, size)  # type: ignore[arg-type]
    assert sum(n for _, n in first.serialize(max_bytes)) == 4096
    assert sum(encoded) > 4096  # no estimate yet: encoded whole, then halved
    encoded.clear()
    events, alerts = list(range(4000)), ["alert"] * 96
    second = _LogBatch(events, alerts, {}, counting, 4096, size)  # type: ignore[arg-type]
    parts = second.serialize(max_bytes)
    assert sum(encoded) == 4096 and len(encoded) == 5  # cut first: every record encoded once
    assert all(len(payload) <= max_bytes for payload, _ in parts)
    assert sum(n for _, n in parts) == 4096
