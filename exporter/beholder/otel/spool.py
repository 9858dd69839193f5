"""Bounded on-disk spool of serialized OTLP requests, replayed strictly in order.

Layout: a 0700 directory of append-only 0600 segment files (`<seq>.seg`) plus a `cursor`
file naming the oldest unacknowledged record. A segment starts with `BHSPOOL` and a format
version byte; each record is a header (stored length, log-record count, CRC-32 over both
and the stored bytes) followed by the payload as a gzip member (deflate level 1: a few
percent of the encoder's cost for 5-10x more records per byte of disk, and the HTTP
transport can post it without recompressing). Segments without the header were written by
version 1 (uncompressed payloads) and are replayed as such; a version this code does not
know is left in place with one log line. One `write` per record means a SIGKILL leaves at
most one torn record at the end of a segment; a bad record (torn or flipped) ends that
segment's readable part, is counted, and replay goes on with the next segment. What would
push the spool past `max_bytes` is refused and counted.

Not thread-safe: callers serialize access (the export queue holds one lock around it).
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

from beholder.losses import FailureLog

log = logging.getLogger(__name__)
_HEADER = struct.Struct("<III")
_MAGIC = b"BHSPOOL"
FORMAT_VERSION = 2
_FILE_HEADER = _MAGIC + bytes([FORMAT_VERSION])
_LEGACY_VERSION = 1  # no file header, payloads stored as they were sent
_SUFFIX = ".seg"
_CURSOR = "cursor"
_LOCK = "lock"
_GZIP_WBITS = 31
_COMPRESS_LEVEL = 1
MAX_RECORD_BYTES = 64 * 1024 * 1024


@dataclass(slots=True)
class _Segment:
    seq: int
    path: Path
    size: int  # bytes written (or, for a recovered segment, bytes that verified)
    records: int
    version: int = FORMAT_VERSION

    @property
    def start(self) -> int:
        """Offset of the first record."""
        return 0 if self.version == _LEGACY_VERSION else len(_FILE_HEADER)


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
        self._write_failures = FailureLog(log, f"spool {self.directory}")
        self._peeked: tuple[int, int] | None = None  # (framed length, records) of the head
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self.directory, 0o700)
        self._lock = _lock_directory(self.directory)
        self._segments: deque[_Segment] = deque()
        self._read_offset = 0
        self._pending_records = 0
        self._last_seq = 0
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
        accepted = self.offer(payload, records)
        if not accepted:
            self.refused(records)
        return accepted

    def offer(self, payload: bytes, records: int) -> bool:
        """`append` that leaves counting a refusal to the caller (who may still deliver it)."""
        if len(payload) > MAX_RECORD_BYTES:
            return False
        blob = _frame(zlib.compress(payload, _COMPRESS_LEVEL, wbits=_GZIP_WBITS), records)
        if self.size_bytes + len(blob) > self.max_bytes:
            return False
        try:
            segment, fd = self._writable_segment()
            written = os.write(fd, blob)
        except OSError as exc:
            self._write_failures.failed(exc, records)
            segment, written = None, -1
        if segment is None or written != len(blob):  # disk full or worse: keep what verified
            self._seal_writer()
            return False
        self._write_failures.succeeded()
        segment.size += written
        segment.records += records
        self._pending_records += records
        return True

    def refused(self, records: int) -> None:
        """Count records the spool could not take."""
        self.stats.dropped_records += records
        self._on_lost(records)

    def _writable_segment(self) -> tuple[_Segment, int]:
        if self._writer is not None and self._segments[-1].size < self.segment_bytes:
            return self._segments[-1], self._writer
        self._seal_writer()
        self._last_seq += 1
        seq = self._last_seq
        path = self.directory / f"{seq:016d}{_SUFFIX}"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
        try:
            os.fchmod(fd, 0o600)
            if os.write(fd, _FILE_HEADER) != len(_FILE_HEADER):
                raise OSError(0, "short write of the segment header")
        except OSError:
            os.close(fd)
            with contextlib.suppress(OSError):
                path.unlink()
            raise
        segment = _Segment(seq, path, len(_FILE_HEADER), 0)
        self._writer = fd
        if not self._segments:
            self._read_offset = segment.start
        self._segments.append(segment)
        return segment, fd

    def _seal_writer(self) -> None:
        if self._writer is not None:
            os.close(self._writer)
            self._writer = None

    # -- reading ------------------------------------------------------------------------
    def peek(self, *, gzipped: bool = False) -> tuple[bytes, int] | None:
        """The oldest request and its log-record count, without removing it; `gzipped` asks
        for the payload as a gzip member (what an HTTP transport with gzip posts)."""
        while self._segments:
            head = self._segments[0]
            if self._read_offset < head.size:
                record = self._read_record(head)
                if record is not None:
                    stored, records = record
                    payload = _convert(stored, head.version == _LEGACY_VERSION, gzipped)
                    if payload is not None:
                        self._peeked = (_HEADER.size + len(stored), records)
                        return payload, records
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
        self._read_offset = self._segments[0].start if self._segments else 0
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
        legacy = 0
        for path in sorted(self.directory.glob(f"*{_SUFFIX}")):
            seq = _seq_of(path)
            if seq is None or not path.is_file():
                continue
            self._last_seq = max(self._last_seq, seq)
            data = path.read_bytes()
            version = _version_of(data)
            if version not in (_LEGACY_VERSION, FORMAT_VERSION):
                log.error(
                    "spool %s: %s has format version %d (this agent reads 1-%d); left in place, not replayed",
                    self.directory, path.name, version, FORMAT_VERSION,
                )  # fmt: skip
                continue
            if seq < cursor_seq:
                path.unlink()
                continue
            segment = _Segment(seq, path, 0, 0, version)
            start = max(cursor_offset if seq == cursor_seq else 0, segment.start)
            segment.size, segment.records, torn = _scan(data, start)
            if torn:
                self.stats.corrupt_tails += 1
            if not self._segments:
                self._read_offset = min(start, segment.size)
            self._segments.append(segment)
            self._pending_records += segment.records
            legacy += segment.records if version == _LEGACY_VERSION else 0
        if legacy:
            log.warning(
                "spool %s: replaying %d records an earlier version stored uncompressed",
                self.directory,
                legacy,
            )

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


def _version_of(data: bytes) -> int:
    """A segment's format version. Version 1 had no header; its first bytes are a record
    length, and `BHSP` read as one is far above `MAX_RECORD_BYTES`, so the two cannot mix up."""
    if data.startswith(_MAGIC) and len(data) > len(_MAGIC):
        return data[len(_MAGIC)]
    if _MAGIC.startswith(data[: len(_MAGIC)]):  # empty, or killed while writing the header
        return FORMAT_VERSION
    return _LEGACY_VERSION


def _convert(stored: bytes, legacy: bool, gzipped: bool) -> bytes | None:
    """A stored payload in the form asked for; None when a compressed one does not inflate."""
    if legacy:
        return zlib.compress(stored, _COMPRESS_LEVEL, wbits=_GZIP_WBITS) if gzipped else stored
    if gzipped:
        return stored
    try:
        return zlib.decompress(stored, wbits=_GZIP_WBITS)
    except zlib.error:
        return None


def _frame(stored: bytes, records: int) -> bytes:
    return _HEADER.pack(len(stored), records, _crc(len(stored), records, stored)) + stored


def _crc(length: int, records: int, payload: bytes) -> int:
    return zlib.crc32(payload, zlib.crc32(struct.pack("<II", length, records)))


def _seq_of(path: Path) -> int | None:
    stem = path.name[: -len(_SUFFIX)]
    return int(stem) if stem.isdigit() else None


def _scan(data: bytes, start: int) -> tuple[int, int, bool]:
    """(verified end offset, records after `start`, whether a bad record ended the file)."""
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
