"""Read recorded events back: Beholder native JSON lines here, KubeArmor JSON and OTLP
JSON lines through the shared offline readers of `beholder logs`.

`profile learn --from FILE` replays what `beholder run` wrote (or what KubeArmor logged)
through the same learner the live pipeline feeds. Lines that are not events (alerts,
garbage, lines longer than a record may be) are counted and skipped, never fatal.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from beholder.events.model import ContainerInfo, Event, Operation, ProcessInfo
from beholder.formats.kubearmor_in import MAX_RECORD_BYTES, ReadReport, bounded_lines, with_facts
from beholder.query.offline import open_recordings, read_batches

BATCH = 1024


@dataclass(slots=True)
class ReadStats:
    events: int = 0
    skipped: int = 0
    first_error: str = ""


def read_events(path: Path, stats: ReadStats | None = None) -> Iterator[list[Event]]:
    """Batches of events from a recorded file; `stats` counts what was skipped."""
    stats = stats if stats is not None else ReadStats()
    if _is_native(path):
        yield from _native_batches(path, stats)
        return
    report = ReadReport()
    for records in read_batches(open_recordings([path]), report):
        events = [r.event for r in records if r.alert is None]
        stats.events += len(events)
        stats.skipped += len(records) - len(events)
        yield events
    stats.skipped += report.bad
    stats.first_error = stats.first_error or (report.errors[0] if report.errors else "")


def _is_native(path: Path) -> bool:
    """Beholder's own lines carry `timestamp_ns`; KubeArmor's and OTLP's never do."""
    with path.open(encoding="utf-8", errors="replace") as stream:
        for line in bounded_lines(stream):
            if line.strip():
                return line.lstrip().startswith("{") and '"timestamp_ns"' in line
    return False


def _native_batches(path: Path, stats: ReadStats) -> Iterator[list[Event]]:
    batch: list[Event] = []
    with path.open(encoding="utf-8", errors="replace") as stream:
        for number, line in enumerate(bounded_lines(stream), 1):
            if not line.strip():
                continue
            try:
                if len(line) > MAX_RECORD_BYTES:
                    raise ValueError(f"line longer than {MAX_RECORD_BYTES} characters")
                event = parse_line(json.loads(line))
            except (ValueError, TypeError, KeyError, AttributeError) as exc:
                stats.skipped += 1
                stats.first_error = stats.first_error or f"{path}:{number}: {type(exc).__name__}: {exc}"
                continue
            if event is None:
                stats.skipped += 1
                continue
            stats.events += 1
            batch.append(event)
            if len(batch) >= BATCH:
                yield batch
                batch = []
    if batch:
        yield batch


def parse_line(doc: Any) -> Event | None:
    """One decoded native JSON object → Event, or None for a record that is not an event."""
    if not isinstance(doc, dict) or "alert" in doc or "operation" not in doc:
        return None
    return _native(doc)


def _process(fields: dict[str, Any]) -> ProcessInfo:
    """Span ids are written as hex (as OTLP/JSON writes them) and held as bytes."""
    ids = {k: bytes.fromhex(v) for k in ("trace_id", "span_id") if isinstance(v := fields.get(k), str)}
    return ProcessInfo(**(fields | ids))


def _native(d: dict[str, Any]) -> Event:
    proc, ctr = d.get("process"), d.get("container")
    event = Event(
        timestamp_ns=int(d["timestamp_ns"]),
        operation=Operation(d["operation"]),
        syscall=str(d["syscall"]),
        retval=int(d.get("retval", 0)),
        host_pid=int(d.get("host_pid", 0)),
        host_tid=int(d.get("host_tid", 0)),
        uid=int(d.get("uid", 0)),
        gid=int(d.get("gid", 0)),
        comm=str(d.get("comm", "")),
        cgroup_id=int(d.get("cgroup_id", 0)),
        resource=str(d.get("resource", "")),
        argv=tuple(str(a) for a in d.get("argv") or ()),
        process=_process(proc) if isinstance(proc, dict) else None,
        container=_container(ctr) if isinstance(ctr, dict) else None,
    )
    return with_facts(event, {str(k): str(v) for k, v in (d.get("data") or {}).items()})


def _container(d: dict[str, Any]) -> ContainerInfo:
    """JSON gives lists where the model keeps tuples (the pod spec's declared argvs)."""
    execs = d.get("declared_execs") or ()
    return ContainerInfo(**{**d, "declared_execs": tuple(tuple(str(a) for a in argv) for argv in execs)})
