"""Recorded files as a stand-in for the live agent: KubeArmor JSON or OTLP JSON lines.

`beholder logs --file` and `beholder summary --file` read here. The format is recognised
from the first bytes (an OTLP line starts with `{"resourceLogs"`); anything else is read as
KubeArmor JSON, one object per line or pretty-printed. Progress is reported in bytes so the
CLI can draw a bar over large files.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from beholder.events.model import Alert
from beholder.formats.kubearmor_in import ReadReport, bounded_lines, read_records
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


def read_file(
    path: Path, report: ReadReport, progress: Callable[[int], None] | None = None
) -> Iterator[Record]:
    """Every record of one recorded file; unreadable content is counted in `report`."""
    with path.open(encoding="utf-8", errors="replace", newline="") as stream:
        head = stream.read(4096)
        stream.seek(0)
        if head.lstrip().startswith('{"resourceLogs"'):
            yield from read_otlp_lines(_counted(stream, progress), str(path), report)
        else:
            yield from _kubearmor(_counted(bounded_lines(stream), progress), str(path), report)


def read_batches(
    paths: Iterable[Path], report: ReadReport, progress: Callable[[int], None] | None = None
) -> Iterator[list[Record]]:
    """Records of all files in order, in batches (what the summary and the printer take)."""
    batch: list[Record] = []
    for path in paths:
        for record in read_file(path, report, progress):
            batch.append(record)
            if len(batch) >= BATCH:
                yield batch
                batch = []
    if batch:
        yield batch
