"""Bounded in-memory export queue drained by two threads, with the disk spool behind it.

`put` only appends to a deque under a lock, so the pipeline never waits for the network;
a full queue refuses the batch and counts it (`beholder.events.lost{stage=queue}`). An
encode thread serializes batches a little ahead (at most `_READY_DEPTH`) so encoding the
next batch overlaps the network wait of the current one. The export thread sends each
serialized batch once, and on a retryable failure moves it to the spool; while the spool
holds anything, newer batches queue up behind it on disk so order is kept, and the head
is retried with exponential backoff (or the server's requested delay) until the
collector is back. Without a spool, a batch is retried until the export timeout and then
counted as lost at the export stage.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Protocol

from beholder.otel.metrics import PipelineMetrics
from beholder.otel.spool import Spool
from beholder.otel.transport import Backoff, SendResult, Transport, send_with_retry

log = logging.getLogger(__name__)
_READY_DEPTH = 2
# Collectors refuse larger requests by default (otlp receiver: max_recv_msg_size_mib 4).
MAX_REQUEST_BYTES = 4 << 20


class Batch(Protocol):
    """Something that becomes serialized `ExportLogsServiceRequest`s totalling `records` records."""

    records: int

    def serialize(self, max_bytes: int) -> list[tuple[bytes, int]]:
        """(payload, records) parts, each at most `max_bytes` unless one record is larger."""
        ...


@dataclass(frozen=True, slots=True)
class Serialized:
    """A batch that is already bytes (tests, benchmarks, replays)."""

    payload: bytes
    records: int

    def serialize(self, max_bytes: int) -> list[tuple[bytes, int]]:
        return [(self.payload, self.records)]


class ExportQueue:
    def __init__(
        self,
        transport: Transport,
        metrics: PipelineMetrics,
        *,
        spool: Spool | None = None,
        max_records: int = 262_144,
        max_request_bytes: int = MAX_REQUEST_BYTES,
        timeout_s: float = 10.0,
        backoff: Backoff | None = None,
    ) -> None:
        self._transport = transport
        self._metrics = metrics
        self._spool = spool
        self._max_records = max_records
        self._max_request_bytes = max_request_bytes
        self._timeout_s = timeout_s
        self._backoff = backoff or Backoff()
        self._items: deque[Batch] = deque()
        self._ready: deque[tuple[bytes, int]] = deque()
        self._queued = 0  # records in `_items`, being encoded, or in `_ready`
        self._encoding = False
        self._encoder_done = False
        self._busy = False
        self._closing = False
        self._deadline = float("inf")
        self._next_replay = 0.0
        self._healthy = True
        self._stop = threading.Event()
        self._cond = threading.Condition()
        if spool is not None:
            metrics.spool_bytes(spool.size_bytes)
        self._encoder = threading.Thread(target=self._encode_loop, name="beholder-otlp-encode", daemon=True)
        self._thread = threading.Thread(target=self._run, name="beholder-otlp-export", daemon=True)
        self._encoder.start()
        self._thread.start()

    # -- caller side --------------------------------------------------------------------
    def put(self, batch: Batch) -> bool:
        """Queue a batch without blocking; False (and counted) when full or closed."""
        with self._cond:
            accepted = not self._closing and self._queued + batch.records <= self._max_records
            if accepted:
                self._items.append(batch)
                self._queued += batch.records
                self._cond.notify_all()
        if accepted:
            self._metrics.queue_changed(batch.records)
        else:
            self._metrics.lost("queue", batch.records)
        return accepted

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
        self._encoder.join(timeout_s + 1.0)
        self._thread.join(max(self._deadline - time.monotonic(), 0.0) + 1.0)
        self._stop.set()
        with self._cond:
            stranded = self._queued if self._thread.is_alive() else 0
        self._metrics.lost("queue", stranded)
        self._transport.close()
        if self._spool is not None and not self._thread.is_alive():
            self._spool.close()

    @property
    def pending_records(self) -> int:
        """Records still in memory plus records in the spool."""
        return self._queued + (self._spool.pending_records if self._spool is not None else 0)

    def _idle(self) -> bool:
        return not (self._items or self._encoding or self._ready or self._busy)

    # -- encode thread ------------------------------------------------------------------
    def _encode_loop(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(
                    lambda: self._closing or (self._items and len(self._ready) < _READY_DEPTH)
                )
                if not self._items:
                    self._encoder_done = True
                    self._cond.notify_all()
                    return
                self._cond.wait_for(lambda: len(self._ready) < _READY_DEPTH)
                batch = self._items.popleft()
                self._encoding = True
            parts = self._serialize(batch)
            with self._cond:
                self._encoding = False
                if parts is None:
                    self._queued -= batch.records
                else:
                    self._ready.extend(parts)
                self._cond.notify_all()
            if parts is None:
                self._metrics.queue_changed(-batch.records)

    def _serialize(self, batch: Batch) -> list[tuple[bytes, int]] | None:
        try:
            return batch.serialize(self._max_request_bytes)
        except Exception:  # an encoder bug must cost this batch, not the export threads
            log.exception("OTLP encoding failed; %d records dropped", batch.records)
            self._metrics.lost("export", batch.records)
            return None

    # -- export thread ------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(self._has_work, self._wait_s())
                taken = list(self._ready)
                self._ready.clear()
                records = sum(n for _, n in taken)
                self._queued -= records
                self._busy = bool(taken)
                self._cond.notify_all()
            self._metrics.queue_changed(-records)
            for payload, n in taken:
                try:
                    self._deliver(payload, n)
                except Exception:  # a bug or I/O error costs this batch, not the export thread
                    log.exception("OTLP export of %d records failed", n)
                    self._metrics.lost("export", n)
            try:
                self._replay()
            except Exception:
                log.exception("spool replay failed; retrying after a backoff")
                self._schedule_replay(SendResult(ok=False, retryable=True))
            with self._cond:
                self._busy = False
                self._cond.notify_all()
                if self._encoder_done and not self._ready and self._may_stop():
                    return

    def _may_stop(self) -> bool:
        """Stop once nothing is in memory and the spool is empty, unreachable or out of time."""
        return not self._spool or not self._healthy or self._past_deadline()

    def _has_work(self) -> bool:
        if self._ready or (self._encoder_done and self._may_stop()):
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

    def _deliver(self, payload: bytes, records: int) -> None:
        if self._spool is None:
            deadline = time.monotonic() + self._attempt_timeout()
            self._settle(
                send_with_retry(self._transport, payload, deadline, self._backoff, self._stop), records
            )
        elif self._spool or self._past_deadline():  # behind older spooled batches, or out of time
            self._to_spool(self._spool, payload, records)
        else:
            result = self._transport.send(payload, self._attempt_timeout())
            if result.ok or not result.retryable:
                self._settle(result, records)
                return
            log.warning("OTLP export failing (%s); spooling to %s", result.error, self._spool.directory)
            self._to_spool(self._spool, payload, records)
            self._schedule_replay(result)

    def _replay(self) -> None:
        """Send the spool's head records, oldest first, while the collector takes them."""
        spool = self._spool
        while spool and time.monotonic() >= self._next_replay and not self._past_deadline():
            head = spool.peek()
            if head is None:
                break
            payload, records = head
            result = self._transport.send(payload, self._attempt_timeout())
            if not result.ok and result.retryable:
                self._schedule_replay(result)
                break
            spool.pop()
            self._settle(result, records)
            self._metrics.spool_bytes(spool.size_bytes)
            if not spool:
                log.warning("OTLP export recovered; spool drained")
            with self._cond:
                if self._ready:  # keep memory bounded: newer batches go to the spool's tail first
                    break
        if spool is not None and not spool:
            self._backoff.reset()

    def _schedule_replay(self, result: SendResult) -> None:
        self._healthy = False
        self._next_replay = time.monotonic() + self._backoff.next_delay(result.retry_after_s)

    def _settle(self, result: SendResult, records: int) -> None:
        self._healthy = True
        if result.ok:
            self._metrics.lost("export", min(result.rejected, records))
            if result.rejected:
                log.warning("collector rejected %d of %d log records", result.rejected, records)
        else:
            log.error("OTLP export failed for good (%s); %d records dropped", result.error, records)
            self._metrics.lost("export", records)

    def _to_spool(self, spool: Spool, payload: bytes, records: int) -> None:
        spool.append(payload, records)
        self._metrics.spool_bytes(spool.size_bytes)
