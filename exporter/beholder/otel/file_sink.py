"""`file` sink: OTLP JSON lines, the format the Collector's `otlpjsonfile` receiver reads.

Each line is one `ExportLogsServiceRequest` in OTLP/JSON: lowerCamelCase field names, enums
as integers, 64-bit integers as decimal strings, default values left out (records carry no
trace context, so the hex trace/span id rule never applies). `json_format.MessageToJson`
runs at a few thousand records/s, so the encoder writes the JSON itself through `jsonwire`;
a test checks it equals `MessageToDict` of the protobuf encoding.

Writing happens on the sink's own thread behind a bounded queue: `emit` never waits for the
disk. A full queue or a failed write drops the batch and counts it (`LineSink.count_lost`).
A regular file is created 0600 and rotated when it would exceed `max_bytes` into compressed
generations (`output.rotation`); a device, FIFO or socket is written as it is.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Mapping
from pathlib import Path

from beholder.events.interfaces import LossCounter
from beholder.events.model import Alert, Event, LossReport
from beholder.otel import jsonwire
from beholder.otel.encode import LogEncoder
from beholder.output.lines import LineSink
from beholder.output.rotation import GENERATIONS, MAX_BYTES

_STOP = object()


class OtlpJsonFileSink(LineSink):
    """Implements the `Sink` protocol; see the module docstring."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        resource: Mapping[str, object],
        max_bytes: int = MAX_BYTES,
        backups: int = GENERATIONS,
        queue_batches: int = 256,
        *,
        losses: LossCounter | None = None,
    ) -> None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)  # (`run` checks its paths first)
        super().__init__(path, losses=losses, max_bytes=max_bytes, backups=backups)
        self.written = 0
        self._resource = dict(resource)
        self._encoder = LogEncoder(jsonwire)
        self._queue: queue.Queue = queue.Queue(maxsize=queue_batches)
        self._thread = threading.Thread(target=self._run, name="beholder-file-sink", daemon=True)
        self._thread.start()

    # --- Sink ------------------------------------------------------------------------------
    def emit(self, events: list[Event], alerts: list[Alert]) -> None:
        if events or alerts:
            self._put((list(events), list(alerts), []), len(events) + len(alerts))

    def report_losses(self, reports: list[LossReport]) -> None:
        """`beholder.agent.loss` records, written between the batches around the gap."""
        if reports:
            self._put(([], [], list(reports)), len(reports))

    def flush(self) -> None:
        """Wait until every batch emitted so far is on disk."""
        self._queue.join()

    def close(self) -> None:
        if not self._thread.is_alive():
            return
        self._queue.put(_STOP)
        self._thread.join()
        super().close()

    def _put(self, item: tuple[list[Event], list[Alert], list[LossReport]], records: int) -> None:
        try:
            self._queue.put_nowait(item)
        except queue.Full:
            self.count_lost(records)

    # --- writer thread ---------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            item = self._queue.get()
            try:
                if item is _STOP:
                    return
                self._write(*item)
            finally:
                self._queue.task_done()

    def _write(self, events: list[Event], alerts: list[Alert], losses: list[LossReport]) -> None:
        count = len(events) + len(alerts) + len(losses)
        try:
            if losses:
                line = self._encoder.encode_losses(losses, self._resource) + b"\n"
            else:
                line = self._encoder.encode(events, alerts, self._resource) + b"\n"
        except Exception as exc:  # a batch that cannot be encoded: count it, keep writing
            self.count_lost(count, exc)
            return
        if self.write(line, count):
            self.written += count
