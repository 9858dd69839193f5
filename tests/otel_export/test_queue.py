"""The export queue never blocks its caller, keeps order through outages and counts every loss."""

from __future__ import annotations

import threading
from collections import deque
from pathlib import Path

import pytest

from beholder.otel.queue import ExportQueue
from beholder.otel.spool import Spool
from beholder.otel.transport import Backoff, SendResult, make_transport
from otel_export.receiver import RECEIVERS, Collector, config_for
from otel_export.recorded import RecordedMetrics
from otel_export.records import numbered_batches, numbers


class ScriptedTransport:
    """Answers from a script (then success); can hold every send until `gate` opens."""

    def __init__(self, results: list[SendResult] | None = None, gate: threading.Event | None = None) -> None:
        self.results = deque(results or [])
        self.gate = gate
        self.entered = threading.Event()
        self.sent: list[bytes] = []

    def send(self, payload: bytes, timeout_s: float) -> SendResult:
        self.entered.set()
        if self.gate is not None:
            self.gate.wait()
        result = self.results.popleft() if self.results else SendResult(ok=True)
        if result.ok:
            self.sent.append(payload)
        return result

    def close(self) -> None:
        if self.gate is not None:
            self.gate.set()


FAST = Backoff(initial_s=0.01, maximum_s=0.05)


def test_put_returns_while_the_collector_hangs(recorded: RecordedMetrics) -> None:
    gate = threading.Event()
    transport = ScriptedTransport(gate=gate)
    queue = ExportQueue(transport, recorded.metrics)
    batches = numbered_batches(5, 10)
    assert all(queue.put(batch) for batch in batches)
    assert transport.entered.wait(10)
    assert not gate.is_set() and transport.sent == []
    gate.set()
    assert queue.flush(10)
    assert transport.sent == [batch.payload for batch in batches]
    queue.close(5)


def test_full_queue_refuses_and_counts_queue_loss(recorded: RecordedMetrics) -> None:
    gate = threading.Event()
    transport = ScriptedTransport(gate=gate)
    queue = ExportQueue(transport, recorded.metrics, max_records=10)
    first, *rest = numbered_batches(4, 4)
    queue.put(first)
    assert transport.entered.wait(10)  # the export thread holds `first`; the queue itself is empty
    assert [queue.put(batch) for batch in rest] == [True, True, False]
    assert recorded.lost("export_queue") == 4
    assert recorded.points("beholder.export.queue.usage") == {(): 8}
    gate.set()
    assert queue.flush(10)
    assert recorded.points("beholder.export.queue.usage") == {(): 0}
    queue.close(5)


LOSSES = [
    # (name, scripted results, lost at export, delivered batches)
    ("non_retryable_failure_drops_batch", [SendResult(ok=False, error="HTTP 400")], 5, 1),
    ("partial_success_counts_rejected", [SendResult(ok=True, rejected=3)], 3, 2),
    ("retries_exhausted_without_spool", [SendResult(ok=False, retryable=True)] * 1000, 10, 0),
]


@pytest.mark.parametrize(
    ("results", "lost", "delivered"), [c[1:] for c in LOSSES], ids=[c[0] for c in LOSSES]
)
def test_export_losses_are_counted(
    results: list[SendResult], lost: int, delivered: int, recorded: RecordedMetrics
) -> None:
    transport = ScriptedTransport(results)
    queue = ExportQueue(transport, recorded.metrics, timeout_s=0.3, backoff=FAST)
    for batch in numbered_batches(2, 5):
        queue.put(batch)
    assert queue.flush(30)
    queue.close(5)
    assert recorded.lost("export") == lost
    assert len(transport.sent) == delivered


@pytest.mark.parametrize("protocol", list(RECEIVERS))
def test_collector_down_then_up_delivers_every_record_in_order(
    protocol: str, collector: Collector, recorded: RecordedMetrics, spool_dir: Path
) -> None:
    receiver = RECEIVERS[protocol](collector).start()
    receiver.stop()  # the port is known; nothing listens on it
    spool = Spool(spool_dir, max_bytes=1 << 20, on_lost=lambda n: recorded.metrics.lost("spool", n))
    transport = make_transport(config_for(protocol, receiver.url, timeout_s=2.0))
    queue = ExportQueue(transport, recorded.metrics, spool=spool, timeout_s=2.0, backoff=FAST)
    batches = numbered_batches(40, 25)
    for batch in batches[:20]:
        assert queue.put(batch)
    assert queue.flush(30)
    assert queue.pending_records == 500  # all of it waits in the spool
    assert recorded.points("beholder.export.spool.usage")[()] > 0
    receiver.start()
    for batch in batches[20:]:
        assert queue.put(batch)
    assert numbers(collector.wait_for_records(1000)) == list(range(1000))
    queue.close(10)
    receiver.stop()
    assert recorded.lost("export") == recorded.lost("spool") == recorded.lost("export_queue") == 0
    assert spool.pending_records == 0


def test_close_while_collector_down_leaves_everything_in_the_spool(
    recorded: RecordedMetrics, spool_dir: Path
) -> None:
    transport = ScriptedTransport([SendResult(ok=False, retryable=True)] * 1000)
    spool = Spool(spool_dir, max_bytes=1 << 20)
    queue = ExportQueue(transport, recorded.metrics, spool=spool, backoff=FAST)
    batches = numbered_batches(10, 3)
    for batch in batches:
        queue.put(batch)
    queue.close(5)
    assert spooled_payloads(spool_dir) == [batch.payload for batch in batches]


def spooled_payloads(spool_dir: Path) -> list[bytes]:
    """What a restarted agent would replay from `spool_dir`, in order."""
    reopened = Spool(spool_dir, max_bytes=1 << 30)
    replayed = []
    while (head := reopened.peek()) is not None:
        replayed.append(head[0])
        reopened.pop()
    reopened.close()
    return replayed


def test_spool_overflow_is_counted_as_spool_loss(recorded: RecordedMetrics, spool_dir: Path) -> None:
    transport = ScriptedTransport([SendResult(ok=False, retryable=True)] * 1000)
    batches = numbered_batches(10, 4)
    spool = Spool(spool_dir, max_bytes=200, on_lost=lambda n: recorded.metrics.lost("spool", n))
    queue = ExportQueue(transport, recorded.metrics, spool=spool, backoff=FAST)
    for batch in batches:
        queue.put(batch)
    assert queue.flush(10)
    queue.close(2)
    assert 0 < spool.pending_records < 40
    assert spool.pending_records + recorded.lost("spool") == 40
    spooled = spooled_payloads(spool_dir)
    assert spooled == [b.payload for b in batches if b.payload in spooled], "what fitted keeps its order"


class Unencodable:
    records = 6
    nbytes = 6000

    def serialize(self, max_bytes: int) -> list[tuple[bytes, int]]:
        raise RuntimeError("encoder bug")


def test_encoder_failure_costs_only_that_batch(recorded: RecordedMetrics) -> None:
    transport = ScriptedTransport()
    queue = ExportQueue(transport, recorded.metrics)
    good = numbered_batches(2, 3)
    for batch in (good[0], Unencodable(), good[1]):
        assert queue.put(batch)
    assert queue.flush(10)
    queue.close(5)
    assert transport.sent == [batch.payload for batch in good]
    assert recorded.lost("export") == 6
    assert recorded.points("beholder.export.queue.usage") == {(): 0}


class ExplodingTransport(ScriptedTransport):
    """Raises once, like a transport bug would, then behaves."""

    def send(self, payload: bytes, timeout_s: float) -> SendResult:
        if not self.entered.is_set():
            self.entered.set()
            raise RuntimeError("transport bug")
        return super().send(payload, timeout_s)


def test_a_failing_send_costs_only_its_batch(recorded: RecordedMetrics) -> None:
    transport = ExplodingTransport()
    queue = ExportQueue(transport, recorded.metrics)
    batches = numbered_batches(3, 2)
    for batch in batches:
        queue.put(batch)
    assert queue.flush(10)
    queue.close(5)
    assert transport.sent == [batch.payload for batch in batches[1:]]
    assert recorded.lost("export") == 2


def test_a_full_queue_still_takes_what_must_not_be_lost(recorded: RecordedMetrics) -> None:
    gate = threading.Event()
    transport = ScriptedTransport(gate=gate)
    queue = ExportQueue(transport, recorded.metrics, max_records=10)
    first, second, third, report = numbered_batches(4, 6)
    queue.put(first)
    assert transport.entered.wait(10)
    assert queue.put(second) and not queue.fits(third)
    assert queue.put(report, always=True)  # a loss report goes past the bound
    assert recorded.lost("export_queue") == 0
    gate.set()
    assert queue.flush(10)
    assert transport.sent == [first.payload, second.payload, report.payload]
    queue.close(5)
