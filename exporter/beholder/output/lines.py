"""The base of every sink that writes lines: console, KubeArmor JSON, native JSON,
Kubescape alerts and OTLP JSON file.

It owns what they share: where the lines go (stdout, a stream handed in, or a path opened
by `OutputTarget`: regular files are rotated, devices, FIFOs and sockets written as they
are), one write and flush per batch, and losses: a batch that cannot be written is counted
(`lost`, and stage "output" of the `LossLedger`), its error logged once while it repeats.
"""

from __future__ import annotations

import io
import logging
import os
import sys
import threading
from typing import IO

from beholder.events import Alert, Event, LossReport
from beholder.events.interfaces import LossCounter
from beholder.losses import FailureLog
from beholder.output.target import OutputTarget

log = logging.getLogger("beholder.output")

LOSS_STAGE = "output"

Destination = str | os.PathLike[str] | IO[str] | IO[bytes] | None


class LineSink:
    """`destination`: None or "-" for stdout, an open stream (never closed here), or a path.
    A regular file past `max_bytes` (0: never) is rotated to `path.1` … `path.<backups>`."""

    def __init__(
        self,
        destination: Destination = None,
        *,
        losses: LossCounter | None = None,
        max_bytes: int = 0,
        backups: int = 0,
    ) -> None:
        self.max_bytes = max_bytes
        self.backups = backups
        self.lost = 0  # records this sink could not write
        self._losses = losses
        self._lost_lock = threading.Lock()  # the OTLP file sink counts from two threads
        self._target: OutputTarget | None = None
        if destination is None or destination == "-":
            self._stream: IO = sys.stdout
            self.name = "stdout"
        elif isinstance(destination, str | os.PathLike):
            self._target = OutputTarget(destination)
            self._stream = self._target.stream
            self.name = str(destination)
        else:
            self._stream = destination
            self.name = getattr(destination, "name", type(destination).__name__)
        self._text = isinstance(self._stream, io.TextIOBase)
        self._size = self._target.size if self._target is not None else 0
        self._failures = FailureLog(log, f"{type(self).__name__} {self.name}")

    # --- Sink ------------------------------------------------------------------------------
    def lines(self, events: list[Event], alerts: list[Alert]) -> list[str]:
        """The batch's lines, without newlines (the subclass's format)."""
        raise NotImplementedError

    def emit(self, events: list[Event], alerts: list[Alert]) -> None:
        self.write_lines(self.lines(events, alerts))

    def report_losses(self, reports: list[LossReport]) -> None:
        """Most line formats have no place for loss records; the totals still reach the
        metrics, the stats file and the closing line."""

    @property
    def pending_records(self) -> int:
        return 0

    def flush(self) -> None:
        try:
            self._stream.flush()
        except (OSError, ValueError) as exc:
            self._failures.failed(exc, 0)

    def close(self) -> None:
        self.flush()
        if self._target is not None:
            self._target.close()

    # --- writing ---------------------------------------------------------------------------
    def write_lines(self, lines: list[str]) -> None:
        if lines:
            self.write("\n".join(lines) + "\n", len(lines))

    def write(self, data: str | bytes, records: int) -> bool:
        """One batch, whole, then flushed (readers such as `tail` see it now); False when it
        was lost (counted)."""
        try:
            if self._text:
                self._stream.write(data if isinstance(data, str) else data.decode())
                self._stream.flush()
            else:
                self._write_bytes(data.encode() if isinstance(data, str) else data)
        except (OSError, ValueError) as exc:
            self.count_lost(records, exc)
            return False
        self._failures.succeeded()
        return True

    def _write_bytes(self, data: bytes) -> None:
        target = self._target
        if target is None:
            self._stream.write(data)
            self._stream.flush()
            return
        if self.max_bytes and self._size and self._size + len(data) > self.max_bytes:
            target.rotate(self.backups)
            self._stream, self._size = target.stream, 0
        target.write_all(data)
        if target.managed:
            self._size += len(data)

    def count_lost(self, records: int, exc: BaseException | None = None) -> None:
        """Records this sink dropped; `exc` (a write error) is logged once while it repeats."""
        if exc is not None:
            self._failures.failed(exc, records)
        with self._lost_lock:
            self.lost += records
        if self._losses is not None:
            self._losses.lost(LOSS_STAGE, records)
