"""Under load the export queue stays within its memory bound, spills to the spool in order
instead of dropping, and accounts for every record exactly once, also at close."""

from __future__ import annotations

import gzip
import threading
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

from beholder.otel.http_transport import HttpTransport
from beholder.otel.queue import ExportQueue, Serialized
from beholder.otel.spool import Spool
from beholder.otel.transport import SendResult, make_transport
from otel_export.receiver import RECEIVERS, Collector, config_for
from otel_export.recorded import RecordedMetrics
from otel_export.records import numbered_batches, numbered_request, numbers
from otel_export.test_queue import FAST, ScriptedTransport
from support.wait import wait_until

STAGES = ("export_queue", "export", "spool")


def counted_losses(recorded: RecordedMetrics) -> int:
    return int(sum(recorded.lost(stage) for stage in STAGES))


def sent_records(transport: ScriptedTransport) -> int:
    return sum(len(numbered_from(payload)) for payload in transport.sent)


def numbered_from(payload: bytes) -> list[int]:
    request = ExportLogsServiceRequest.FromString(payload)
    return numbers([r for rl in request.resource_logs for sl in rl.scope_logs for r in sl.log_records])


@settings(max_examples=40, deadline=None)
@given(sizes=st.lists(st.integers(min_value=1, max_value=3000), min_size=1, max_size=40))
def test_the_queue_never_holds_more_than_its_byte_bound(sizes: list[int]) -> None:
    """With the collector hung, a batch is taken exactly when it fits (or the queue is empty)."""
    recorded = RecordedMetrics()
    gate = threading.Event()
    transport = ScriptedTransport(gate=gate)
    queue = ExportQueue(transport, recorded.metrics, max_bytes=5000)
    queue.put(Serialized(b"on the wire", 1))
    assert transport.entered.wait(10)
    held = refused = 0
    for size in sizes:
        fits = held + size <= 5000 or held == 0
        assert queue.put(Serialized(bytes(size), 1)) is fits, (held, size)
        held += size if fits else 0
        refused += 0 if fits else 1
        assert queue.held_bytes == held <= max(5000, size)
    assert recorded.lost("export_queue") == refused
    gate.set()
    queue.close(5)
    recorded.provider.shutdown()


@pytest.mark.parametrize("protocol", list(RECEIVERS))
def test_a_hung_collector_makes_the_queue_spill_in_order_and_replay_in_order(
    protocol: str, collector: Collector, recorded: RecordedMetrics, spool_dir: Path
) -> None:
    batches = numbered_batches(200, 50)
    total_bytes = sum(len(b.payload) for b in batches)
    max_bytes = total_bytes // 10  # the queue can hold a tenth of what arrives while the collector hangs
    spool = Spool(spool_dir, max_bytes=1 << 20, on_lost=lambda n: recorded.metrics.lost("spool", n))
    collector.answering.clear()
    with RECEIVERS[protocol](collector) as receiver:
        transport = make_transport(config_for(protocol, receiver.url, timeout_s=60.0))
        queue = ExportQueue(
            transport, recorded.metrics, spool=spool, max_bytes=max_bytes, timeout_s=60.0, backoff=FAST
        )
        try:
            for batch in batches:  # a producer slower than the encoder: only a stuck queue would refuse
                assert wait_until(lambda b=batch: queue.held_bytes + b.nbytes <= max_bytes)
                assert queue.put(batch)
            # Everything, the request on the wire included, moves to the spool while the collector hangs.
            assert wait_until(lambda: spool.pending_records == 10_000)
            assert queue.held_bytes == 0
        finally:
            collector.answering.set()
        assert numbers(collector.wait_for_records(10_000)) == list(range(10_000))
        queue.close(10)
    assert counted_losses(recorded) == 0
    assert spool.pending_records == 0


GZIP_HTTP = {"compression": "gzip"}


def test_spooled_requests_reach_a_gzip_http_collector_without_recompression(
    collector: Collector, recorded: RecordedMetrics, spool_dir: Path
) -> None:
    spool = Spool(spool_dir, max_bytes=1 << 20)
    receiver = RECEIVERS["http/protobuf"](collector).start()
    receiver.stop()  # down: everything is spooled
    transport = make_transport(config_for("http/protobuf", receiver.url, timeout_s=2.0, **GZIP_HTTP))
    queue = ExportQueue(transport, recorded.metrics, spool=spool, timeout_s=2.0, backoff=FAST)
    batches = numbered_batches(10, 5)
    for batch in batches:
        queue.put(batch)
    assert queue.flush(30) and spool.pending_records == 50
    receiver.start()
    try:
        assert numbers(collector.wait_for_records(50)) == list(range(50))
    finally:
        queue.close(5)
        receiver.stop()
    assert [gzip.decompress(body) for body in collector.http_bodies] == [b.payload for b in batches]
    assert all(h["content-encoding"] == "gzip" for h in collector.headers)


@pytest.mark.parametrize("configured", ["gzip", "none"])
def test_http_send_gzipped_posts_a_gzip_body_as_configured(collector: Collector, configured: str) -> None:
    payload = numbered_request(0, 3).SerializeToString()
    body = gzip.compress(payload, compresslevel=1, mtime=0)
    with RECEIVERS["http/protobuf"](collector) as receiver:
        transport = HttpTransport(config_for("http/protobuf", receiver.url, compression=configured))
        assert transport.send_gzipped(body, 5.0).ok
        transport.close()
    assert collector.http_bodies == [body if configured == "gzip" else payload]
    assert numbers(collector.records()) == [0, 1, 2]


OUTCOMES = {
    "ok": SendResult(ok=True),
    "retry": SendResult(ok=False, retryable=True),
    "refused": SendResult(ok=False, error="HTTP 400"),
    "partial": SendResult(ok=True, rejected=1),
}


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    outcomes=st.lists(st.sampled_from(sorted(OUTCOMES)), max_size=30),
    batches=st.integers(min_value=1, max_value=30),
    spool_bytes=st.sampled_from([None, 150, 600, 1 << 20]),
    queue_bytes=st.sampled_from([200, 1000, 1 << 20]),
)
def test_books_balance_at_close(
    tmp_path: Path, outcomes: list[str], batches: int, spool_bytes: int | None, queue_bytes: int
) -> None:
    """exported + spooled + counted losses == put, whatever the collector answers."""
    recorded = RecordedMetrics()
    transport = ScriptedTransport([OUTCOMES[o] for o in outcomes])
    spool = None
    if spool_bytes is not None:
        spool = Spool(
            tmp_path / f"spool-{len(list(tmp_path.iterdir()))}",
            max_bytes=spool_bytes,
            on_lost=lambda n: recorded.metrics.lost("spool", n),
        )
    queue = ExportQueue(
        transport, recorded.metrics, spool=spool, max_bytes=queue_bytes, timeout_s=0.2, backoff=FAST
    )
    put = numbered_batches(batches, 3)
    for batch in put:
        queue.put(batch)
    queue.close(1.0)
    spooled = spool.pending_records if spool is not None else 0
    exported = sent_records(transport) - _partial_rejections(transport, outcomes)
    assert exported + spooled + counted_losses(recorded) == 3 * batches
    recorded.provider.shutdown()


def _partial_rejections(transport: ScriptedTransport, outcomes: list[str]) -> int:
    """Records the collector took but reported rejected (counted as export losses)."""
    answered = outcomes[: len(outcomes) - len(transport.results)]
    return answered.count("partial")


def test_books_balance_when_close_gives_up_on_a_stuck_send(
    recorded: RecordedMetrics, spool_dir: Path
) -> None:
    transport = ScriptedTransport(gate=threading.Event())  # ignores its timeout, like a wedged peer
    spool = Spool(spool_dir, max_bytes=1 << 20, on_lost=lambda n: recorded.metrics.lost("spool", n))
    queue = ExportQueue(transport, recorded.metrics, spool=spool, max_bytes=1 << 20, backoff=FAST)
    for batch in numbered_batches(20, 5):
        queue.put(batch)
    assert transport.entered.wait(10)
    queue.close(0.2)  # gives up on the export thread; `transport.close` then releases the send
    queue._thread.join(10)
    queue._encoder.join(10)
    assert not queue._thread.is_alive()
    exported = sent_records(transport)
    assert exported == 5, "the send that was on the wire completed after close"
    assert exported + spool.pending_records + counted_losses(recorded) == 100
