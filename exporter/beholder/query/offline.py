"""Recorded files as a stand-in for the live agent: KubeArmor JSON or OTLP JSON lines.

`beholder logs --file` and `beholder summary --file` read here. The format is recognised
from the first bytes (an OTLP line starts with `{"resourceLogs"`); anything else is read as
KubeArmor JSON, one object per line or pretty-printed. A recording's rotated generations are
read before it, gzip-compressed ones unpacked. Progress is reported in characters read so
the CLI can draw a bar over large files.
"""

from __future__ import annotations

import gzip
import io
import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import NamedTuple, TextIO

from beholder.events.model import Alert
from beholder.formats.kubearmor_in import ReadReport, bounded_lines, read_records
from beholder.output.rotation import GZIP_MAGIC, generations
from beholder.query.otlp_file import read_otlp_lines
from beholder.query.records import Record

BATCH = 1024


def _counted(lines: Iterable[str], progress: Callable[[int], None] | None) -> Iterator[str]:
    for line in lines:
        if progress is not None:
            progress(len(line))
        yield line


def _kubearmor(lines: Iterable[str], name: str, report: ReadReport) -> Iterator[Record]:
    for parsed, host in read_records(lines, name, report):
        if isinstance(parsed, Alert):
            yield Record(parsed.event, parsed, host)
        else:
            yield Record(parsed, None, host)


class Recording(NamedTuple):
    name: str
    stream: TextIO
    size: int  # characters the stream holds (a compressed generation's unpacked size)


def open_recordings(paths: Iterable[str | Path]) -> list[Recording]:
    """Each path with its rotated generations before it, oldest first, all opened now: the
    agent may rotate a recording while it is read, and an open file keeps its lines whatever
    its name becomes. A generation compressed between the listing and the open is opened
    under its new name."""
    out = []
    for path in paths:
        for generation in generations(Path(path)):
            try:
                out.append(_open(generation))
            except FileNotFoundError:
                if generation == Path(path):
                    raise
                out.append(_open(generation.with_name(generation.name + ".gz")))
    return out


def _open(path: Path) -> Recording:
    raw = path.open("rb")
    if raw.read(2) != GZIP_MAGIC:
        raw.seek(0)
        size = os.fstat(raw.fileno()).st_size
        return Recording(str(path), io.TextIOWrapper(raw, "utf-8", "replace", newline=""), size)
    raw.seek(-4, 2)  # a gzip member's trailer ends with its unpacked size (modulo 4 GiB)
    size = int.from_bytes(raw.read(4), "little")
    raw.seek(0)
    return Recording(str(path), gzip.open(raw, "rt", encoding="utf-8", errors="replace", newline=""), size)


def read_stream(
    recording: Recording, report: ReadReport, progress: Callable[[int], None] | None = None
) -> Iterator[Record]:
    """Every record of one recorded file; unreadable content is counted in `report`."""
    with recording.stream as stream:
        head = stream.read(4096)
        stream.seek(0)
        if head.lstrip().startswith('{"resourceLogs"'):
            yield from read_otlp_lines(_counted(stream, progress), recording.name, report)
        else:
            yield from _kubearmor(_counted(bounded_lines(stream), progress), recording.name, report)


def read_batches(
    recordings: Iterable[Recording], report: ReadReport, progress: Callable[[int], None] | None = None
) -> Iterator[list[Record]]:
    """Records of all recordings in order, in batches (what the summary and the printer take)."""
    batch: list[Record] = []
    for recording in recordings:
        for record in read_stream(recording, report, progress):
            batch.append(record)
            if len(batch) >= BATCH:
                yield batch
                batch = []
    if batch:
        yield batch
