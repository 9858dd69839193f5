"""Memory-bounded export queue drained by two threads, with the disk spool behind it.

`put` only appends to a deque under a lock, so the pipeline never waits for the network.
The bound is an estimate of the memory held (`max_bytes`; live events cost far more than
their encoded bytes) plus a record count; a batch that would pass either is refused and
counted (`beholder.event.lost{stage=export_queue}`). The encode thread turns batches into
serialized requests as soon as they arrive, which frees the live objects early. The export
thread sends one request at a time. When the collector fails, or when encoded requests pile
up past half the bound (a slow or hung collector), they are spilled, oldest first, to the
spool instead of waiting in memory; the encode thread spills too, so a send hanging until
its timeout cannot fill memory. Once the spool holds anything, every newer request goes
behind it, so order is kept; the head is retried with exponential backoff (or the
server's requested delay) until the collector is back. Without a spool, a request is
retried until the export timeout and then counted as lost at the export stage.

Every record is accounted for exactly once: delivered, spooled, or counted lost by the
thread holding it; `close` counts only what no thread holds.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from beholder.events.interfaces import LossCounter
from beholder.events.model import LossReport
from beholder.otel.limits import EXPORT_QUEUE_BYTES
from beholder.otel.metrics import PipelineMetrics
from beholder.otel.outage import OUTAGES, Outages
from beholder.otel.spool import Spool
from beholder.otel.transport import Backoff, GzipTransport, SendResult, Transport, send_with_retry

log = logging.getLogger(__name__)
# Collectors refuse larger requests by default (otlp receiver: max_recv_msg_size_mib 4).
MAX_REQUEST_BYTES = 4 << 20
LOSS_STAGE = "export_queue"


class Batch(Protocol):
    """Something that becomes serialized `ExportLogsServiceRequest`s totalling `records` records."""

    records: int

    @property
    def nbytes(self) -> int:
        """Memory the batch holds until it is serialized (an estimate for live objects)."""
        ...

    def serialize(self, max_bytes: int) -> list[tuple[bytes, int]]:
        """(payload, records) parts, each at most `max_bytes` unless one record is larger."""
        ...


@dataclass(frozen=True, slots=True)
class Serialized:
    """A batch that is already bytes (tests, benchmarks, replays)."""

    payload: bytes
    records: int

    @property
    def nbytes(self) -> int:
        return len(self.payload)

    def serialize(self, max_bytes: int) -> list[tuple[bytes, int]]:
        return [(self.payload, self.records)]


@dataclass(slots=True)
class _InFlight:
    """The request on the wire; a spill meanwhile moves it to the spool's head."""

    payload: bytes
    records: int
    moved: bool = False
    spooled: bool = False


class ExportQueue:
    def __init__(
        self,
        transport: Transport,
        metrics: PipelineMetrics,
        *,
        losses: LossCounter | None = None,
        spool: Spool | None = None,
        max_bytes: int = EXPORT_QUEUE_BYTES,
        max_records: int = 262_144,
        max_request_bytes: int = MAX_REQUEST_BYTES,
        timeout_s: float = 10.0,
        backoff: Backoff | None = None,
        signal: str = "logs",
        endpoint: str = "the collector",
        outages: Outages = OUTAGES,
    ) -> None:
        self._transport = transport
        self._signal, self._endpoint = signal, endpoint
        self._outages = outages  # one line per outage across logs, traces and metrics
        self._metrics = metrics
        self._losses = losses or metrics  # where lost records are counted (the agent's ledger)
        self._spool = spool
        self._gzip_transport = transport if isinstance(transport, GzipTransport) else None
        self._max_bytes = max_bytes
        self._spill_at = max_bytes // 2
        self._max_records = max_records
        self._max_request_bytes = max_request_bytes
        self._timeout_s = timeout_s
        self._backoff = backoff or Backoff()
        self._items: deque[Batch] = deque()
        self._ready: deque[tuple[bytes, int]] = deque()
        self._queued = 0  # records in `_items`, being encoded, or in `_ready`
        self._bytes = 0  # memory those hold: estimates for batches, lengths for requests
        self._ready_bytes = 0
        self._encoding = False
        self._encoder_done = False
        self._busy = False
        self._closing = False
        self._abandoned = False  # `close` gave up waiting: threads finish what they hold, take nothing
        self._inflight: _InFlight | None = None  # guarded by `_spool_lock`
        self._deadline = float("inf")
        self._next_replay = 0.0
        self._healthy = True
        self._stop = threading.Event()
        lock = threading.RLock()
        self._cond = threading.Condition(lock)  # any change: the export thread, `flush`, `close`
        # A batch arrived or the queue is closing: the encode thread alone waits for this, so
        # `put` (once per agent batch) wakes neither the export thread nor `flush` for nothing.
        self._arrived = threading.Condition(lock)
        self._spool_lock = threading.Lock()  # taken before `_cond`, never while holding it
        metrics.queue_limit(max_records)
        if spool is not None:
            metrics.spool_limit(spool.max_bytes)
            metrics.spool_bytes(spool.size_bytes)
        self._encoder = threading.Thread(target=self._encode_loop, name="beholder-otlp-encode", daemon=True)
        self._thread = threading.Thread(target=self._run, name="beholder-otlp-export", daemon=True)
        self._encoder.start()
        self._thread.start()

    # -- caller side --------------------------------------------------------------------
    def put(self, batch: Batch, always: bool = False) -> bool:
        """Queue a batch without blocking; False (and counted) when full or closed.

        A batch larger than the whole bound is taken only into an empty queue: the caller
        already holds it, and refusing it would lose every burst above the bound. `always`
        admits a small batch past the bound (the agent's loss reports: they must not be lost
        to the very overload they report)."""
        with self._cond:
            nbytes = batch.nbytes
            accepted = not self._closing and (always or self._fits(batch) or self._queued == 0)
            if accepted:
                self._items.append(batch)
                self._queued += batch.records
                self._bytes += nbytes
                self._arrived.notify()
        if accepted:
            self._metrics.queue_changed(batch.records)
        else:
            self._losses.lost(LOSS_STAGE, batch.records)
        return accepted

    def fits(self, batch: Batch, share: float = 1.0) -> bool:
        """Whether the batch fits in `share` of the bound now (the caller is the only producer
        and the export side only frees room, so the answer holds until the caller's next `put`)."""
        with self._cond:
            return self._fits(batch, share) or self._queued == 0

    def _fits(self, batch: Batch, share: float = 1.0) -> bool:
        return (
            self._bytes + batch.nbytes <= self._max_bytes * share
            and self._queued + batch.records <= self._max_records * share
        )

    def shed(self, records: int) -> None:
        """Count records the caller dropped because the queue was full (stage export_queue)."""
        self._losses.lost(LOSS_STAGE, records)

    def flush(self, timeout_s: float) -> bool:
        """Wait until every batch put so far is delivered, spooled or counted as lost."""
        with self._cond:
            return self._cond.wait_for(self._idle, timeout_s)

    def close(self, timeout_s: float) -> None:
        """Deliver what it can until the deadline, spool the rest, then stop the threads."""
        with self._cond:
            if self._closing:
                return
            self._closing = True
            self._deadline = time.monotonic() + timeout_s
            self._cond.notify_all()
            self._arrived.notify_all()
        self._encoder.join(timeout_s + 1.0)
        self._thread.join(max(self._deadline - time.monotonic(), 0.0) + 1.0)
        self._stop.set()
        with self._cond:
            self._abandoned = True
            stranded = sum(batch.records for batch in self._items) + sum(n for _, n in self._ready)
            self._bytes -= sum(batch.nbytes for batch in self._items) + self._ready_bytes
            self._queued -= stranded
            self._ready_bytes = 0
            self._items.clear()
            self._ready.clear()
            self._cond.notify_all()
        self._metrics.queue_changed(-stranded)
        self._losses.lost(LOSS_STAGE, stranded)
        self._transport.close()
        self._outages.leave(self)
        if self._spool is not None and not (self._thread.is_alive() or self._encoder.is_alive()):
            self._spool.close()

    @property
    def spool_directory(self) -> Path | None:
        """Where this queue spools (its signal's state files may live beside it)."""
        return self._spool.directory if self._spool is not None else None

    @property
    def pending_records(self) -> int:
        """Records still in memory plus records in the spool."""
        return self._queued + (self._spool.pending_records if self._spool is not None else 0)

    @property
    def held_bytes(self) -> int:
        """Memory the queue holds, as bounded by `max_bytes` (the request on the wire aside)."""
        return self._bytes

    def _idle(self) -> bool:
        return not (self._items or self._encoding or self._ready or self._busy)

    # -- encode thread ------------------------------------------------------------------
    def _encode_loop(self) -> None:
        while True:
            with self._cond:
                self._arrived.wait_for(lambda: self._closing or self._items)
                if not self._items:
                    self._encoder_done = True
                    self._cond.notify_all()
                    return
                batch = self._items.popleft()
                self._encoding = True
            parts = self._serialize(batch)
            size = sum(len(payload) for payload, _ in parts)
            with self._cond:
                self._bytes -= batch.nbytes
                keep = bool(parts) and not self._abandoned
                if keep:
                    self._ready.extend(parts)
                    self._ready_bytes += size
                    self._bytes += size
                else:
                    self._queued -= batch.records
                spill = (
                    keep
                    and self._spool is not None
                    and (self._ready_bytes >= self._spill_at or bool(self._spool))
                )
                self._encoding = spill  # `flush` waits for the spill too
                self._cond.notify_all()
            if not keep:
                self._metrics.queue_changed(-batch.records)
                if parts:  # encoded after `close` stopped waiting
                    self._losses.lost(LOSS_STAGE, batch.records)
            if spill:
                try:
                    self._spill()
                except Exception:  # a spool bug must not stop encoding (spool I/O errors are counted inside)
                    log.exception("spilling to the OTLP spool failed")
                finally:
                    with self._cond:
                        self._encoding = False
                        self._cond.notify_all()

    def _serialize(self, batch: Batch) -> list[tuple[bytes, int]]:
        try:
            return batch.serialize(self._max_request_bytes)
        except Exception:  # an encoder bug must cost this batch, not the export threads
            log.exception("OTLP encoding failed; %d records dropped", batch.records)
            self._losses.lost("export", batch.records)
            return []

    # -- export thread ------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(self._has_work, self._wait_s())
                if self._abandoned or (self._encoder_done and not self._ready and self._may_stop()):
                    return
                self._busy = True
            try:
                self._step()
            except Exception:  # a bug or I/O error costs a backoff, not the export thread
                log.exception("OTLP export step failed; retrying after a backoff")
                self._schedule_replay(SendResult(ok=False, retryable=True))
            with self._cond:
                self._busy = False
                self._cond.notify_all()

    def _step(self) -> None:
        """Send the oldest request directly while the spool is empty; otherwise spill and replay."""
        spool = self._spool
        if spool is None:
            taken = self._take()
            if taken is not None:
                self._send_with_retry(*taken)
            return
        with self._spool_lock:
            direct = not spool and not self._past_deadline()
            taken = self._take() if direct else None
            self._inflight = _InFlight(*taken) if taken is not None else None
        if taken is not None:
            self._send_inflight(spool)
        elif not direct:
            self._spill()
        self._replay()

    def _take(self) -> tuple[bytes, int] | None:
        with self._cond:
            if not self._ready:
                return None
            payload, records = self._ready.popleft()
            self._ready_bytes -= len(payload)
            self._bytes -= len(payload)
            self._queued -= records
        self._metrics.queue_changed(-records)
        return payload, records

    def _send_with_retry(self, payload: bytes, records: int) -> None:
        deadline = time.monotonic() + self._attempt_timeout()
        try:
            result = send_with_retry(self._transport, payload, deadline, self._backoff, self._stop)
        except Exception:  # a transport bug costs this request, not the export thread
            log.exception("OTLP export of %d records failed", records)
            result = SendResult(ok=False, error="transport error")
        self._settle(result, records)

    def _send_inflight(self, spool: Spool) -> None:
        """One attempt at the oldest request; where it ends depends on whether a spill took it."""
        inflight = self._inflight
        assert inflight is not None
        try:
            result = self._transport.send(inflight.payload, self._attempt_timeout())
        except Exception:
            log.exception("OTLP export of %d records failed", inflight.records)
            result = SendResult(ok=False, error="transport error")
        done = result.ok or not result.retryable
        with self._spool_lock:
            self._inflight = None
            if done and inflight.spooled:  # it is the spool's head: acknowledge it there
                spool.pop()
            elif not done and not inflight.moved:  # no spill came: the spool is still empty
                spool.append(inflight.payload, inflight.records)
            elif not done and not inflight.spooled:
                spool.refused(inflight.records)  # the spool was full when the spill offered it
            self._metrics.spool_bytes(spool.size_bytes)
        if done:
            self._settle(result, inflight.records)
        else:
            then = f"spooling to {spool.directory}"
            self._outages.failing(self, self._signal, self._endpoint, result.error or "no answer", then)
            self._schedule_replay(result)

    def _spill(self) -> None:
        """Move every request in memory, the one on the wire first, to the spool's tail."""
        spool = self._spool
        assert spool is not None
        with self._spool_lock:
            with self._cond:
                parts = list(self._ready)
                self._ready.clear()
            inflight = self._inflight
            if inflight is not None and not inflight.moved:
                inflight.moved = True
                inflight.spooled = spool.offer(inflight.payload, inflight.records)
            for payload, records in parts:
                spool.append(payload, records)
            self._metrics.spool_bytes(spool.size_bytes)
        size = sum(len(payload) for payload, _ in parts)
        records = sum(n for _, n in parts)
        with self._cond:
            self._ready_bytes -= size
            self._bytes -= size
            self._queued -= records
            self._cond.notify_all()
        self._metrics.queue_changed(-records)

    def _replay(self) -> None:
        """Send the spool's head records, oldest first, while the collector takes them."""
        spool = self._spool
        while spool and time.monotonic() >= self._next_replay and not self._past_deadline():
            with self._spool_lock:
                head = spool.peek(gzipped=self._gzip_transport is not None)
            if head is None:
                break
            payload, records = head
            timeout_s = self._attempt_timeout()
            if self._gzip_transport is not None:
                result = self._gzip_transport.send_gzipped(payload, timeout_s)
            else:
                result = self._transport.send(payload, timeout_s)
            if not result.ok and result.retryable:
                self._schedule_replay(result)
                break
            with self._spool_lock:
                spool.pop()
                self._metrics.spool_bytes(spool.size_bytes)
                drained = not spool
            self._settle(result, records)
            if drained:
                self._outages.recovered(self, self._endpoint)
            with self._cond:
                if self._ready or self._abandoned:  # newer requests go to the spool's tail first
                    break
        if spool is not None and not spool:
            self._backoff.reset()

    def _may_stop(self) -> bool:
        """Stop once nothing is in memory and the spool is empty, unreachable or out of time."""
        return not self._spool or not self._healthy or self._past_deadline()

    def _has_work(self) -> bool:
        if self._ready or self._abandoned or (self._encoder_done and self._may_stop()):
            return True
        replay_due = time.monotonic() >= self._next_replay and not self._past_deadline()
        return bool(self._spool) and replay_due

    def _wait_s(self) -> float | None:
        """Sleep until the next replay (or the close deadline); otherwise until notified."""
        if not self._spool or self._past_deadline():
            return None
        return max(min(self._next_replay, self._deadline) - time.monotonic(), 0.0)

    def _past_deadline(self) -> bool:
        return time.monotonic() >= self._deadline

    def _attempt_timeout(self) -> float:
        return max(min(self._timeout_s, self._deadline - time.monotonic()), 0.001)

    def _schedule_replay(self, result: SendResult) -> None:
        self._healthy = False
        self._next_replay = time.monotonic() + self._backoff.next_delay(result.retry_after_s)

    def _settle(self, result: SendResult, records: int) -> None:
        self._healthy = True
        if result.ok:
            self._losses.lost("export", min(result.rejected, records))
            if result.rejected:
                log.warning("collector rejected %d of %d log records", result.rejected, records)
        else:
            log.error("OTLP export failed for good (%s); %d records dropped", result.error, records)
            self._losses.lost("export", records)


class QueuedSink:
    """What a sink in front of an `ExportQueue` shares: what it still holds, bounded flush and close."""

    def __init__(
        self, queue: ExportQueue, flush_timeout_s: float = 5.0, close_timeout_s: float = 5.0
    ) -> None:
        self._queue = queue
        self._flush_timeout_s = flush_timeout_s
        self._close_timeout_s = close_timeout_s

    @property
    def pending_records(self) -> int:
        """Records not yet exported: in memory plus in the spool."""
        return self._queue.pending_records

    def report_losses(self, reports: list[LossReport]) -> None:
        """Signals without a place for loss records (traces) leave them to the metrics."""

    def flush(self) -> None:
        self._queue.flush(self._flush_timeout_s)

    def close(self) -> None:
        self._queue.close(self._close_timeout_s)
