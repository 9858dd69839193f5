"""The OTLP `Sink`: hands each batch to the export queue and returns at once.

Encoding happens on the export thread, not in `emit`, so the pipeline pays for a list
copy and a lock per batch; the sink has its own `LogEncoder` (and caches), so no other
thread shares them. Until it is encoded a batch holds live `Event`/`Alert` objects, which
the queue's memory bound counts at `LIVE_RECORD_BYTES` each (measured: about 1-2 KiB with
their strings and dicts, against a few hundred bytes encoded). `build_exporter` wires the
standard pieces from `OTEL_*` variables: transport, optional disk spool, queue.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from itertools import pairwise
from pathlib import Path
from typing import TypeVar

from beholder.events.interfaces import HostIdentity, LossCounter
from beholder.events.model import Alert, Event, LossReport
from beholder.otel import limits
from beholder.otel.config import from_env
from beholder.otel.encode import LogEncoder
from beholder.otel.metrics import PipelineMetrics
from beholder.otel.queue import ExportQueue, QueuedSink, Serialized
from beholder.otel.resource import resource_attributes
from beholder.otel.spool import Spool
from beholder.otel.transport import make_transport

Encoder = Callable[[list[Event], list[Alert], Mapping[str, object]], bytes]
LIVE_RECORD_BYTES = 2048


TELEMETRY_SHARE = 0.75  # of the export queue's bound; the rest is kept for alerts


@dataclass(slots=True)
class RecordSize:
    """Encoded bytes per record, as the last request showed (written by the encode thread only).

    A full agent batch (4,096 records of ~1.1 KiB) is larger than one request may be; encoded
    whole and then split, it was encoded twice and its oversized request held while the
    halves were built. With this estimate the batch is cut first, with a margin."""

    bytes_per_record: float = 0.0
    margin: float = 1.25

    def parts(self, records: int, max_bytes: int) -> int:
        """How many requests `records` are expected to need (1 until a request was seen)."""
        return max(1, math.ceil(records * self.bytes_per_record * self.margin / max_bytes))

    def saw(self, payload_bytes: int, records: int) -> None:
        self.bytes_per_record = payload_bytes / max(records, 1)


@dataclass(frozen=True, slots=True)
class _LogBatch:
    events: list[Event]
    alerts: list[Alert]
    resource: dict
    encode: Encoder
    records: int
    size: RecordSize

    @property
    def nbytes(self) -> int:
        return self.records * LIVE_RECORD_BYTES

    def serialize(self, max_bytes: int) -> list[tuple[bytes, int]]:
        """Requests of at most `max_bytes`: cut by the size estimate first, then halved
        until each fits (a burst can be huge)."""
        parts = min(self.size.parts(self.records, max_bytes), self.records)
        if parts > 1:
            return [part for piece in self._split(parts) for part in piece._encoded(max_bytes)]
        return self._encoded(max_bytes)

    def _encoded(self, max_bytes: int) -> list[tuple[bytes, int]]:
        payload = self.encode(self.events, self.alerts, self.resource)
        self.size.saw(len(payload), self.records)
        if len(payload) <= max_bytes or self.records <= 1:
            return [(payload, self.records)]
        del payload  # freed before the halves are encoded: holding it doubled the encode's peak
        return [part for half in self._split(2) for part in half._encoded(max_bytes)]

    def _split(self, parts: int) -> list[_LogBatch]:
        """`parts` batches of (nearly) equal record counts, events before alerts as encoded."""
        items: list[tuple[bool, object]] = [(False, e) for e in self.events] + [
            (True, a) for a in self.alerts
        ]
        bounds = [len(items) * i // parts for i in range(parts + 1)]
        return [self._of(items[start:end]) for start, end in pairwise(bounds) if end > start]

    def _of(self, items: list[tuple[bool, object]]) -> _LogBatch:
        events = [x for is_alert, x in items if not is_alert]
        alerts = [x for is_alert, x in items if is_alert]
        return _LogBatch(events, alerts, self.resource, self.encode, len(items), self.size)  # type: ignore[arg-type]


class OtlpSink(QueuedSink):
    """One log record per event and per alert, exported behind `queue`."""

    def __init__(
        self,
        queue: ExportQueue,
        resource: dict,
        *,
        encode: Encoder | None = None,
        flush_timeout_s: float = 5.0,
        close_timeout_s: float = 5.0,
    ) -> None:
        super().__init__(queue, flush_timeout_s, close_timeout_s)
        self._resource = resource
        self._encode = encode or LogEncoder().encode
        self._loss_encoder = LogEncoder()  # the agent's thread, not the export thread's encoder
        self._size = RecordSize()

    def emit(self, events: list[Event], alerts: list[Alert]) -> None:
        """Queue the batch. Alerts go first: telemetry may fill only `TELEMETRY_SHARE` of the
        queue, so past that a batch's events are dropped (counted at stage export_queue) while
        its alerts still have the rest of the queue."""
        if not (events or alerts):
            return
        records = len(events) + len(alerts)
        batch = _LogBatch(list(events), list(alerts), self._resource, self._encode, records, self._size)
        if events and not self._queue.fits(batch, TELEMETRY_SHARE):
            self._queue.shed(len(events))
            if not alerts:
                return
            batch = _LogBatch([], list(alerts), self._resource, self._encode, len(alerts), self._size)
        self._queue.put(batch)

    def report_losses(self, reports: list[LossReport]) -> None:
        """`beholder.agent.loss` records, in order with the events around the gap."""
        if reports:
            payload = self._loss_encoder.encode_losses(reports, self._resource)
            self._queue.put(Serialized(payload, len(reports)), always=True)


S = TypeVar("S", bound=QueuedSink)


def build_exporter(
    sink: Callable[[ExportQueue, dict], S],
    signal: str,
    share: int,
    host: HostIdentity,
    metrics: PipelineMetrics,
    spool_dir: str | os.PathLike[str] | None = None,
    spool_max_bytes: int = limits.SPOOL_MAX_BYTES,
    env: Mapping[str, str] | None = None,
    queue_max_bytes: int = limits.EXPORT_QUEUE_BYTES,
    losses: LossCounter | None = None,
) -> S:
    """`sink` over the export queue of OTLP `signal`, configured from `OTEL_*` variables in
    `env` (the resource always from the process's); `ConfigError` on bad settings. The queue
    and spool get 1/`share` of the bounds and count their losses into `losses` (default:
    `metrics`); the logs spool is `spool_dir` itself, another signal's a subdirectory of it."""
    if spool_dir is not None and signal != "logs":
        spool_dir = Path(spool_dir) / signal
    queue = export_queue(
        signal, metrics, spool_dir, spool_max_bytes // share, queue_max_bytes // share, env, losses
    )
    return sink(queue, resource_attributes(host))


build_otlp_sink = partial(build_exporter, OtlpSink, "logs", 1)


def export_queue(
    signal: str,
    metrics: PipelineMetrics,
    spool_dir: str | os.PathLike[str] | None,
    spool_max_bytes: int,
    queue_max_bytes: int,
    env: Mapping[str, str] | None = None,
    losses: LossCounter | None = None,
) -> ExportQueue:
    """The export queue (and disk spool, when a directory is given) for one OTLP signal;
    both count their losses into `losses` (default: `metrics`)."""
    config = from_env(signal, env)
    counter = losses or metrics
    spool = None
    if spool_dir is not None:
        spool = Spool(Path(spool_dir), spool_max_bytes, on_lost=lambda n: counter.lost("spool", n))
    transport = make_transport(config)
    return ExportQueue(
        transport,
        metrics,
        losses=counter,
        spool=spool,
        max_bytes=queue_max_bytes,
        timeout_s=config.timeout_s,
        signal=signal,
        endpoint=config.endpoint,
    )
