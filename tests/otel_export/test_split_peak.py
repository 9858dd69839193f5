"""A batch whose request is too large is split; the oversized request must not stay alive
while its halves are encoded (it doubled the export thread's memory peak)."""

from __future__ import annotations

import tracemalloc

from beholder.otel.otlp_sink import _LogBatch

RECORD_BYTES = 1 << 10


def encode(events: list, alerts: list, resource: object) -> bytes:
    return bytes(RECORD_BYTES * (len(events) + len(alerts)))


def test_splitting_does_not_hold_the_oversized_request() -> None:
    records = 4096
    batch = _LogBatch(list(range(records)), [], {}, encode, records)  # type: ignore[arg-type]
    tracemalloc.start()
    try:
        parts = batch.serialize(max_bytes=(records // 2) * RECORD_BYTES)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert [n for _, n in parts] == [records // 2, records // 2]
    whole = records * RECORD_BYTES
    assert peak < whole * 1.25  # both halves (the whole again) plus small change; 2x when held
