"""Drain the ring buffer in batches and decode them.

The ring-buffer callback only copies bytes into a list; decoding happens once per poll over the
whole batch, so the kernel-facing loop never waits on anything downstream.
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass

from beholder.events import Event
from beholder.sensors.decode import DecodeError, Decoder
from beholder.sensors.program import Program


@dataclass(slots=True)
class ReaderStats:
    records: int = 0
    decode_errors: int = 0
    last_decode_error: str = ""


class BatchDecoder:
    """Decodes raw batches into events; a record it cannot read is counted, never raised."""

    def __init__(self) -> None:
        self.decoder = Decoder()
        self.stats = ReaderStats()

    def decode_batch(self, raw: list[bytes]) -> list[Event]:
        decode = self.decoder.decode
        out: list[Event] = []
        append = out.append
        for record in raw:
            try:
                append(decode(record))
            except DecodeError as exc:
                self.stats.decode_errors += 1
                self.stats.last_decode_error = str(exc)
        return out


class RingReader(BatchDecoder):
    """`limit` bounds what one poll or consume collects: libbpf keeps consuming while the
    kernel keeps producing, so without it a reader that falls behind gathers without end.
    The callback's -1 stops the consumer after the record it was given (that one is kept);
    the rest waits in the ring buffer, and what no longer fits there is counted as lost."""

    def __init__(self, program: Program, limit: int = 8192) -> None:
        super().__init__()
        self.program = program
        self.limit = limit
        self._raw: list[bytes] = []
        self.ring = program.open_ring_buffer(self._on_record)

    def _on_record(self, _ctx: int | None, data: int, size: int) -> int:  # ctx: NULL is None
        raw = self._raw
        raw.append(ctypes.string_at(data, size))
        return -1 if len(raw) >= self.limit else 0

    def poll(self, timeout_ms: int = 100) -> list[Event]:
        """Wait up to `timeout_ms` for records; return everything available, decoded."""
        self.ring.poll(timeout_ms)
        return self.drain()

    def consume(self) -> None:
        """Collect whatever the kernel has committed, without waiting."""
        self.ring.consume()

    def pending(self) -> int:
        """Records collected and not yet taken."""
        return len(self._raw)

    def take(self) -> list[bytes]:
        """The raw records collected since the last call."""
        raw, self._raw = self._raw, []
        self.stats.records += len(raw)
        return raw

    def drain(self) -> list[Event]:
        return self.decode_batch(self.take())
