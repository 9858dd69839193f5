"""Bounded on-disk spool of serialized OTLP requests, replayed strictly in order.

Layout: a 0700 directory of append-only 0600 segment files (`<seq>.seg`) plus a `cursor`
file naming the oldest unacknowledged record. Each record is a header (payload length,
log-record count, CRC-32 over both and the payload) followed by the payload. One `write`
per record means a SIGKILL leaves at most one torn record at the end of a segment; a bad
record (torn or flipped) ends that segment's readable part, is counted, and replay goes on
with the next segment. What would push the spool past `max_bytes` is refused and counted.

Owned by one thread (the export thread); nothing here locks.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import struct
import zlib
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)
_HEADER = struct.Struct("<III")
_SUFFIX = ".seg"
_CURSOR = "cursor"
_LOCK = "lock"
MAX_RECORD_BYTES = 64 * 1024 * 1024


@dataclass(slots=True)
class _Segment:
    seq: int
    path: Path
    size: int  # bytes written (or, for a recovered segment, bytes that verified)
    records: int


@dataclass(slots=True)
class SpoolStats:
    """What the spool refused or found broken: log records, and torn tails whose count is unknown."""

    dropped_records: int = 0
    corrupt_tails: int = 0
    corrupt_records: int = 0


class Spool:
    """`on_lost(records)` hears about every log record refused or found corrupt."""

    def __init__(
        self,
        directory: str | os.PathLike[str],
        max_bytes: int,
        segment_bytes: int = 8 << 20,
        on_lost: Callable[[int], None] = lambda records: None,
    ) -> None:
        self.directory = Path(directory)
        self.max_bytes = max_bytes
        self.segment_bytes = segment_bytes
        self.stats = SpoolStats()
        self._on_lost = on_lost
        self._peeked: tuple[int, int] | None = None  # (framed length, records) of the head
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self.directory, 0o700)
        self._lock = _lock_directory(self.directory)
        self._segments: deque[_Segment] = deque()
        self._read_offset = 0
        self._pending_records = 0
        self._writer: int | None = None
        self._reader: tuple[int, int] | None = None  # (seq, fd)
        self._recover()

    # -- state --------------------------------------------------------------------------
    @property
    def pending_records(self) -> int:
        return self._pending_records

    @property
    def size_bytes(self) -> int:
        """Bytes still waiting to be replayed."""
        return sum(seg.size for seg in self._segments) - self._read_offset

    def __bool__(self) -> bool:
        return self._pending_records > 0

    # -- writing ------------------------------------------------------------------------
    def append(self, payload: bytes, records: int) -> bool:
        """Add one request at the tail; False (and counted) when the bound would be passed."""
        blob = _frame(payload, records)
        if len(payload) > MAX_RECORD_BYTES or self.size_bytes + len(blob) > self.max_bytes:
            self._drop(records)
            return False
        try:
            segment, fd = self._writable_segment()
            written = os.write(fd, blob)
        except OSError as exc:
            log.error("spool %s: cannot write: %s", self.directory, exc.strerror)
            segment, written = None, -1
        if segment is None or written != len(blob):  # disk full or worse: keep what verified
            self._seal_writer()
            self._drop(records)
            return False
        segment.size += written
        segment.records += records
        self._pending_records += records
        return True

    def _drop(self, records: int) -> None:
        self.stats.dropped_records += records
        self._on_lost(records)

    def _writable_segment(self) -> tuple[_Segment, int]:
        if self._writer is not None and self._segments[-1].size < self.segment_bytes:
            return self._segments[-1], self._writer
        self._seal_writer()
        seq = self._segments[-1].seq + 1 if self._segments else 1
        segment = _Segment(seq, self.directory / f"{seq:016d}{_SUFFIX}", 0, 0)
        fd = os.open(segment.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
        os.fchmod(fd, 0o600)
        self._writer = fd
        self._segments.append(segment)
        return segment, fd

    def _seal_writer(self) -> None:
        if self._writer is not None:
            os.close(self._writer)
            self._writer = None

    # -- reading ------------------------------------------------------------------------
    def peek(self) -> tuple[bytes, int] | None:
        """The oldest request and its log-record count, without removing it."""
        while self._segments:
            head = self._segments[0]
            if self._read_offset < head.size:
                record = self._read_record(head)
                if record is not None:
                    self._peeked = (_HEADER.size + len(record[0]), record[1])
                    return record
                self._mark_corrupt(head)
            if head is self._segments[-1] and self._writer is not None:
                return None
            self._retire_head()
        return None

    def pop(self) -> None:
        """Acknowledge the record `peek` returned; durable via the cursor file."""
        if self._peeked is None:
            self.peek()
        if self._peeked is None:
            return
        length, records = self._peeked
        self._peeked = None
        self._read_offset += length
        self._pending_records -= records
        head = self._segments[0]
        head.records -= records
        if self._read_offset >= head.size and not (head is self._segments[-1] and self._writer is not None):
            self._retire_head()
        self._save_cursor()

    def close(self) -> None:
        self._seal_writer()
        if self._reader is not None:
            os.close(self._reader[1])
            self._reader = None
        if self._lock is not None:
            os.close(self._lock)  # releases the flock
            self._lock = None

    def _read_record(self, segment: _Segment) -> tuple[bytes, int] | None:
        if self._reader is None or self._reader[0] != segment.seq:
            if self._reader is not None:
                os.close(self._reader[1])
            self._reader = (segment.seq, os.open(segment.path, os.O_RDONLY | os.O_CLOEXEC))
        fd = self._reader[1]
        header = os.pread(fd, _HEADER.size, self._read_offset)
        if len(header) < _HEADER.size:
            return None
        length, records, crc = _HEADER.unpack(header)
        if length > MAX_RECORD_BYTES or self._read_offset + _HEADER.size + length > segment.size:
            return None
        payload = os.pread(fd, length, self._read_offset + _HEADER.size)
        if len(payload) != length or _crc(length, records, payload) != crc:
            return None
        return payload, records

    def _mark_corrupt(self, segment: _Segment) -> None:
        """Everything from the read offset on is unreadable: count it and cut it off."""
        self.stats.corrupt_tails += 1
        self._lose_corrupt(segment.records)
        self._pending_records -= segment.records
        segment.records = 0
        segment.size = self._read_offset
        if segment is self._segments[-1]:
            self._seal_writer()

    def _retire_head(self) -> None:
        head = self._segments.popleft()
        if self._reader is not None and self._reader[0] == head.seq:
            os.close(self._reader[1])
            self._reader = None
        self._pending_records -= head.records
        self._lose_corrupt(head.records)
        self._peeked = None
        with contextlib.suppress(FileNotFoundError):
            head.path.unlink()
        self._read_offset = 0
        self._save_cursor()

    def _lose_corrupt(self, records: int) -> None:
        if records:
            self.stats.corrupt_records += records
            self._on_lost(records)

    def _save_cursor(self) -> None:
        seq = self._segments[0].seq if self._segments else 0
        tmp = self.directory / f"{_CURSOR}.tmp"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
            try:
                os.write(fd, f"{seq} {self._read_offset}\n".encode())
            finally:
                os.close(fd)
            os.replace(tmp, self.directory / _CURSOR)
        except OSError as exc:  # a stale cursor only means re-sending some records after a restart
            log.error("spool %s: cannot save the replay cursor: %s", self.directory, exc.strerror)

    # -- recovery -----------------------------------------------------------------------
    def _recover(self) -> None:
        """Index what a previous run left, verifying every record once."""
        cursor_seq, cursor_offset = self._load_cursor()
        for path in sorted(self.directory.glob(f"*{_SUFFIX}")):
            seq = _seq_of(path)
            if seq is None or not path.is_file():
                continue
            if seq < cursor_seq:
                path.unlink()
                continue
            start = cursor_offset if seq == cursor_seq else 0
            size, records, torn = _scan(path, start)
            if torn:
                self.stats.corrupt_tails += 1
            if not self._segments:
                self._read_offset = start
            self._segments.append(_Segment(seq, path, size, records))
            self._pending_records += records

    def _load_cursor(self) -> tuple[int, int]:
        try:
            seq, offset = (self.directory / _CURSOR).read_text().split()
            return int(seq), int(offset)
        except (OSError, ValueError):
            return 0, 0


class SpoolLockedError(RuntimeError):
    """Another live process owns this spool directory."""


def _lock_directory(directory: Path) -> int | None:
    """Two agents appending to one spool would interleave segments; the second one refuses."""
    fd = os.open(directory / _LOCK, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise SpoolLockedError(f"spool {directory} is in use by another process") from None
    return fd


def _frame(payload: bytes, records: int) -> bytes:
    return _HEADER.pack(len(payload), records, _crc(len(payload), records, payload)) + payload


def _crc(length: int, records: int, payload: bytes) -> int:
    return zlib.crc32(payload, zlib.crc32(struct.pack("<II", length, records)))


def _seq_of(path: Path) -> int | None:
    stem = path.name[: -len(_SUFFIX)]
    return int(stem) if stem.isdigit() else None


def _scan(path: Path, start: int) -> tuple[int, int, bool]:
    """(verified end offset, records after `start`, whether a bad record ended the file)."""
    data = path.read_bytes()
    offset, records = min(start, len(data)), 0
    while offset < len(data):
        if offset + _HEADER.size > len(data):
            return offset, records, True
        length, count, crc = _HEADER.unpack_from(data, offset)
        end = offset + _HEADER.size + length
        if length > MAX_RECORD_BYTES or end > len(data):
            return offset, records, True
        if _crc(length, count, data[offset + _HEADER.size : end]) != crc:
            return offset, records, True
        offset, records = end, records + count
    return offset, records, False
