"""`file` sink: OTLP JSON lines, the format the Collector's `otlpjsonfile` receiver reads.

Each line is one `ExportLogsServiceRequest` in OTLP/JSON: lowerCamelCase field names, enums
as integers, 64-bit integers as decimal strings, default values left out (records carry no
trace context, so the hex trace/span id rule never applies). `json_format.MessageToJson`
runs at a few thousand records/s, so the encoder writes the JSON itself through `jsonwire`;
a test checks it equals `MessageToDict` of the protobuf encoding.

Writing happens on the sink's own thread behind a bounded queue: `emit` never waits for the
disk. A full queue or a failed write drops the batch and counts it in `dropped`. The file is
created 0600 and rotated when it would exceed `max_bytes` (`path.1` … `path.<backups>`).
"""

from __future__ import annotations

import logging
import os
import queue
import threading
from collections.abc import Mapping
from pathlib import Path

from beholder.events.model import Alert, Event, LossReport
from beholder.otel import jsonwire
from beholder.otel.encode import LogEncoder

log = logging.getLogger("beholder.otel.file")

_STOP = object()


class OtlpJsonFileSink:
    """Implements the `Sink` protocol; see the module docstring."""

    def __init__(
        self,
        path: str | Path,
        resource: Mapping[str, object],
        max_bytes: int = 64 << 20,
        backups: int = 3,
        queue_batches: int = 256,
    ) -> None:
        self.path = Path(path)
        self.max_bytes = max_bytes
        self.backups = backups
        self.written = 0
        self._dropped_full = 0  # counted on the caller's thread
        self._dropped_write = 0  # counted on the writer thread
        self._resource = dict(resource)
        self._encoder = LogEncoder(jsonwire)
        self._queue: queue.Queue = queue.Queue(maxsize=queue_batches)
        self._fd = self._open()
        self._size = os.fstat(self._fd).st_size
        self._thread = threading.Thread(target=self._run, name="beholder-file-sink", daemon=True)
        self._thread.start()

    @property
    def dropped(self) -> int:
        """Records lost to a full queue or a failed write."""
        return self._dropped_full + self._dropped_write

    # --- Sink ------------------------------------------------------------------------------
    def emit(self, events: list[Event], alerts: list[Alert]) -> None:
        if not events and not alerts:
            return
        try:
            self._queue.put_nowait((list(events), list(alerts), []))
        except queue.Full:
            self._dropped_full += len(events) + len(alerts)

    def report_losses(self, reports: list[LossReport]) -> None:
        """`beholder.agent.loss` records, written between the batches around the gap."""
        if reports:
            try:
                self._queue.put_nowait(([], [], list(reports)))
            except queue.Full:
                self._dropped_full += len(reports)

    def flush(self) -> None:
        """Wait until every batch emitted so far is on disk."""
        self._queue.join()

    def close(self) -> None:
        if not self._thread.is_alive():
            return
        self._queue.put(_STOP)
        self._thread.join()
        os.close(self._fd)

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
            if self._size and self._size + len(line) > self.max_bytes:
                self._rotate()
            view = memoryview(line)
            while view:  # a regular file may take a large line in pieces
                view = view[os.write(self._fd, view) :]
            self._size += len(line)
            self.written += count
        except Exception as exc:  # disk errors or a batch that cannot be encoded: count it, keep writing
            self._dropped_write += count
            log.error("%s: dropped %d records: %s", self.path, count, exc)

    def _open(self) -> int:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
        os.fchmod(fd, 0o600)  # an existing file may have been created wider
        return fd

    def _rotate(self) -> None:
        os.close(self._fd)
        for i in range(self.backups - 1, 0, -1):
            older = self.path.with_name(f"{self.path.name}.{i}")
            if older.exists():
                older.replace(self.path.with_name(f"{self.path.name}.{i + 1}"))
        if self.backups:
            self.path.replace(self.path.with_name(f"{self.path.name}.1"))
        else:
            self.path.unlink(missing_ok=True)
        self._fd = self._open()
        self._size = 0
