"""Process lineage as OTLP spans: every process is a span from its fork to its exit.

A span's parent is its parent process's span. Trace ids follow the root ancestor that started
after the agent: a process forked by such a one joins its parent's trace; a process forked
by one already running when the agent started (a container shim, cron, sshd, a login shell,
systemd) starts a trace of its own. So a container start (runc and everything under
it) is one trace, a `kubectl exec` session or a cron job is another, and a long-lived
daemon's trace does not grow for ever with every child it spawns.

Ids are derived, not random: a process's identity is (boot id, pid, start time in clock
ticks since boot, as /proc/<pid>/stat gives it), like Tetragon's exec id; its span id is a
hash of that identity and its trace id a hash of its trace root's identity. So any record of
a process can name its span without coordination, and a restarted agent names the same
spans again.

The enrich stage runs this for every batch whether or not traces are exported, so every
record carries its process's identity and span. Spans are built as protobuf bytes (`wire`),
as log records are, and only while a trace sink takes them: no SDK object per process.
A span is exported when its process exits; processes still running when the agent stops
are exported then, ending at the stop, with `beholder.process.running=true` (see
docs/traces.md for what Tempo and Jaeger show before a process exits).

The open spans (ids, parent, start) are saved to a small state file a few times a minute;
an agent started after a crash or SIGKILL restores them, so a process that outlived the
old agent ends in the span its earlier records named, and one that ended while no agent
watched is exported with `beholder.process.exit_unseen=true`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from beholder.events.facts import Exit, Fork
from beholder.events.model import ContainerInfo, Event, ProcessInfo
from beholder.otel import semconv as sc
from beholder.otel import wire

log = logging.getLogger(__name__)
PROC = Path("/proc")
BOOT_ID = PROC / "sys/kernel/random/boot_id"
MAX_OPEN = 16384  # like the process tree: a node runs far fewer live processes
SAVE_INTERVAL_NS = 2_000_000_000  # open spans saved at most this often (and at shutdown)
STATE_VERSION = 1
_TICK_NS = 1_000_000_000 // os.sysconf("SC_CLK_TCK")
# Span fields (opentelemetry-proto trace.proto)
_TRACE_ID = b"\x0a"  # 1, bytes
_SPAN_ID = b"\x12"  # 2, bytes
_PARENT_SPAN_ID = b"\x22"  # 4, bytes
_NAME = b"\x2a"  # 5, string
_KIND_INTERNAL = b"\x30\x01"  # 6, enum SPAN_KIND_INTERNAL
_START = b"\x39"  # 7, fixed64
_END = b"\x41"  # 8, fixed64
_ATTRIBUTE = b"\x4a"  # 9, KeyValue


@dataclass(frozen=True, slots=True)
class SpanContext:
    """The ids a process's records carry."""

    trace_id: bytes  # 16 bytes
    span_id: bytes  # 8 bytes


def _digest(kind: bytes, identity: str, size: int) -> bytes:
    value = hashlib.blake2b(identity.encode(), digest_size=size, person=kind).digest()
    return value if any(value) else b"\x01" * size  # all-zero ids are invalid in OTLP


def span_id(identity: str) -> bytes:
    return _digest(b"beholder.span", identity, 8)


def trace_id(root_identity: str) -> bytes:
    return _digest(b"beholder.trace", root_identity, 16)


def read_boot_id(path: Path = BOOT_ID) -> str:
    try:
        return path.read_text().strip()
    except OSError:
        return ""


def start_ticks(pid: int, proc: Path = PROC) -> int | None:
    """Field 22 of /proc/<pid>/stat (start time in clock ticks since boot); None when gone."""
    try:
        stat = (proc / str(pid) / "stat").read_bytes()
    except OSError:
        return None
    fields = stat.rpartition(b")")[2].split()
    return int(fields[19]) if len(fields) > 19 else None


@dataclass(slots=True)
class _Open:
    """A process whose span has not ended yet."""

    pid: int
    identity: str
    context: SpanContext
    parent_span_id: bytes
    start_ns: int
    seen_starting: bool  # forked while the agent watched: its children join its trace
    process: ProcessInfo | None = None
    name: str = ""  # the program running at the end: the last exec's, else the task name
    executed: bool = False
    facts: dict[str, int | str | bool] = field(default_factory=dict)


class ProcessSpans:
    """Turns enriched batches into finished spans; answers "which span is this pid in"."""

    def __init__(
        self, proc: Path = PROC, boot_id: str | None = None, max_open: int = MAX_OPEN, export: bool = True
    ) -> None:
        self._proc = proc
        self._boot_id = read_boot_id() if boot_id is None else boot_id
        self._boot_wall_ns = time.time_ns() - time.clock_gettime_ns(time.CLOCK_BOOTTIME)
        self._started_ns = time.time_ns()
        self._open: dict[int, _Open] = {}
        self._max_open = max_open
        self.export = export  # encode finished spans (a trace sink takes them); else ids only
        self._finished: list[bytes] = []
        self._changed = False  # the open set changed since the last save
        self._saved_ns = 0

    def context(self, pid: int) -> SpanContext | None:
        span = self._open.get(pid)
        return span.context if span else None

    def take(self) -> list[bytes]:
        """The spans finished since the last call (what the trace sink exports)."""
        finished, self._finished = self._finished, []
        return finished

    def observe(self, events: Iterable[Event]) -> list[bytes]:
        """Stamp a batch's records with their process's ids and follow its process events;
        the encoded spans of the processes that exited (also kept for `take`)."""
        finished: list[bytes] = []
        for ev in events:
            span = self._span(ev.host_pid, ev)
            p = ev.process
            if p is not None:  # the records of this process name it and its span
                span.process = p
                if p.span_id != span.context.span_id:
                    p.entity_id, p.trace_id = span.identity, span.context.trace_id
                    p.span_id = span.context.span_id
            facts = ev.facts
            if isinstance(facts, Fork):
                if facts.child_pid > 0:
                    self._fork(span, facts.child_pid, ev.timestamp_ns, finished)
            elif isinstance(facts, Exit):
                if facts.code is not None:
                    span.facts[sc.PROCESS_EXIT_CODE] = facts.code
                self._end(self._open.pop(ev.host_pid), ev.timestamp_ns, finished)
            elif ev.kind == sc.EVENT_PROCESS_EXEC and ev.retval == 0:
                span.name, span.executed = _name(ev.process) or span.name, True
            elif not span.executed and ev.comm:  # runc and others rename themselves (prctl)
                span.name = ev.comm
        self._finished += finished
        return finished

    def close(self, now_ns: int | None = None) -> list[bytes]:
        """Every span still open, ending now and marked as a process still running."""
        now_ns = time.time_ns() if now_ns is None else now_ns
        spans = [self._encode(span, now_ns, running=True) for span in self._open.values()]
        self._open.clear()
        return spans

    # --- span bookkeeping ------------------------------------------------------------
    def _identity(self, pid: int, fallback_ns: int) -> tuple[str, int]:
        """(identity, start wall-clock ns) from /proc, or from `fallback_ns` when the process is gone."""
        ticks = start_ticks(pid, self._proc)
        if ticks is None:
            ticks = max(fallback_ns - self._boot_wall_ns, 0) // _TICK_NS
            return f"{self._boot_id}:{pid}:{ticks}", fallback_ns
        return f"{self._boot_id}:{pid}:{ticks}", self._boot_wall_ns + ticks * _TICK_NS

    def _span(self, pid: int, ev: Event) -> _Open:
        """The pid's open span; a process first seen now roots a trace of its own.

        One that started after the agent did (its fork unseen: outside a `--cgroup-id` filter,
        like a container's init forked by runc, or lost) counts as seen starting, so its
        children join its trace; one that was already running does not.
        """
        span = self._open.get(pid)
        if span is None:
            identity, start_ns = self._identity(pid, ev.timestamp_ns)
            context = SpanContext(trace_id(identity), span_id(identity))
            new = start_ns >= self._started_ns
            span = _Open(pid, identity, context, b"", start_ns, new, ev.process)
            span.name = _name(ev.process) or ev.comm
            self._add(span)
        return span

    def _fork(self, parent: _Open, child: int, time_ns: int, finished: list[bytes]) -> None:
        stale = self._open.pop(child, None)  # a reused pid whose exit was lost
        if stale is not None:
            self._end(stale, time_ns, finished, running=True)
        identity, _ = self._identity(child, time_ns)
        # The child of a process already running when the agent started roots a new trace.
        trace = parent.context.trace_id if parent.seen_starting else trace_id(identity)
        context = SpanContext(trace, span_id(identity))
        span = _Open(child, identity, context, parent.context.span_id, time_ns, True, parent.process)
        span.name = parent.name
        self._add(span)

    def _add(self, span: _Open) -> None:
        if len(self._open) >= self._max_open:  # exits were lost: drop the oldest (ids stay derivable)
            self._open.pop(next(iter(self._open)))
        self._open[span.pid] = span
        self._changed = True

    def _end(self, span: _Open, end_ns: int, finished: list[bytes], running: bool = False) -> None:
        self._changed = True
        if self.export:
            finished.append(self._encode(span, end_ns, running))

    # --- state across agent restarts -------------------------------------------------
    def save(self, path: Path, now_ns: int | None = None, force: bool = False) -> bool:
        """Write the open spans to `path` (atomically) when they changed, at most every
        `SAVE_INTERVAL_NS` unless `force`; whether it wrote."""
        now_ns = time.time_ns() if now_ns is None else now_ns
        if not self._changed or (not force and now_ns - self._saved_ns < SAVE_INTERVAL_NS):
            return False
        rows = [
            [s.pid, s.identity, s.context.trace_id.hex(), s.parent_span_id.hex(), s.start_ns,
             s.seen_starting, s.name, s.executed]
            for s in self._open.values()
        ]  # fmt: skip
        state = {"version": STATE_VERSION, "boot_id": self._boot_id, "saved_ns": now_ns, "spans": rows}
        temporary = path.with_name(path.name + ".tmp")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            temporary.write_text(json.dumps(state, separators=(",", ":")))
            temporary.replace(path)
        except OSError as exc:
            log.warning("%s: cannot save the open process spans: %s", path, exc.strerror or exc)
            return False
        self._changed, self._saved_ns = False, now_ns
        return True

    def restore(self, path: Path) -> int:
        """Take over the spans a previous agent left open in `path`: a process still running
        (same pid and start time) continues its span; one that ended while no agent watched
        is finished now, ending when it was last known alive. How many were restored."""
        try:
            state = json.loads(path.read_text())
            rows = state["spans"] if state.get("boot_id") == self._boot_id else []
            saved_ns = int(state["saved_ns"])
        except FileNotFoundError:
            return 0
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            log.warning("%s: open process spans not restored: %s", path, exc)
            return 0
        restored = 0
        for row in rows:
            try:
                pid, identity, trace, parent, start_ns, seen, name, executed = row
                span = _Open(int(pid), str(identity), SpanContext(bytes.fromhex(trace), span_id(identity)),
                             bytes.fromhex(parent), int(start_ns), bool(seen), name=str(name),
                             executed=bool(executed))  # fmt: skip
            except (ValueError, TypeError):
                log.warning("%s: a malformed open span skipped", path)
                continue
            if f"{self._boot_id}:{span.pid}:{start_ticks(span.pid, self._proc)}" == span.identity:
                self._open.setdefault(span.pid, span)
                restored += 1
            elif self.export:
                span.facts[sc.BEHOLDER_PROCESS_EXIT_UNSEEN] = True
                self._finished.append(self._encode(span, saved_ns, running=False))
        self._changed = True  # the file now names processes that are gone
        return restored

    # --- encoding --------------------------------------------------------------------
    def _encode(self, span: _Open, end_ns: int, running: bool) -> bytes:
        attributes = [_attribute(k, v) for k, v in _process_facts(span).items()]
        if running:
            attributes.append(_attribute(sc.BEHOLDER_PROCESS_RUNNING, True))
        body = b"".join(
            (
                wire.delimited(_TRACE_ID, span.context.trace_id),
                wire.delimited(_SPAN_ID, span.context.span_id),
                wire.delimited(_PARENT_SPAN_ID, span.parent_span_id) if span.parent_span_id else b"",
                wire.delimited(_NAME, wire.text(span.name or str(span.pid))),
                _KIND_INTERNAL,
                _START,
                wire.fixed64(max(span.start_ns, 0)),
                _END,
                wire.fixed64(max(end_ns, span.start_ns, 0)),
                *attributes,
            )
        )
        return wire.delimited(wire.FIELD_2, body)  # ScopeSpans.spans


def _name(process: ProcessInfo | None) -> str:
    if process is None:
        return ""
    return process.exe.rpartition("/")[2] or process.comm


def _process_facts(span: _Open) -> dict[str, int | str | bool]:
    """The process's facts as span attributes (registry keys), read when the span ends."""
    facts: dict[str, int | str | bool] = {
        sc.PROCESS_PID: span.pid,
        sc.BEHOLDER_PROCESS_ENTITY_ID: span.identity,
    }
    p = span.process
    if p is not None:
        pairs: tuple[tuple[str, int | str], ...] = (
            (sc.PROCESS_PARENT_PID, p.ppid),
            (sc.PROCESS_VPID, p.ns_pid),
            (sc.PROCESS_EXECUTABLE_PATH, p.exe),
            (sc.PROCESS_EXECUTABLE_NAME, p.exe.rpartition("/")[2]),
            (sc.PROCESS_COMMAND_LINE, p.cmdline),
            (sc.PROCESS_WORKING_DIRECTORY, p.cwd),
            (sc.PROCESS_LINUX_CGROUP, p.cgroup),
        )
        facts.update((k, v) for k, v in pairs if v)
        facts[sc.PROCESS_REAL_USER_ID] = p.uid
        if p.euid is not None:
            facts[sc.PROCESS_USER_ID] = p.euid
        if p.interactive is not None:
            facts[sc.PROCESS_INTERACTIVE] = p.interactive
        if p.container is not None:
            facts.update(_container_facts(p.container))
    facts.update(span.facts)
    return facts


def _container_facts(c: ContainerInfo) -> dict[str, str]:
    pairs = (
        (sc.CONTAINER_ID, c.container_id),
        (sc.K8S_CONTAINER_NAME if c.pod_name else sc.CONTAINER_NAME, c.name),
        (sc.K8S_POD_NAME, c.pod_name),
        (sc.K8S_POD_UID, c.pod_uid),
        (sc.K8S_NAMESPACE_NAME, c.namespace),
    )
    return {k: v for k, v in pairs if v}


def _attribute(name: str, value: int | str | bool) -> bytes:
    """One Span.attributes field (a KeyValue), for the few values a process span holds."""
    if isinstance(value, bool):
        any_value = wire.AV_BOOL_TRUE if value else b"\x10\x00"
    elif isinstance(value, int):
        any_value = wire.AV_INT + wire.varint(value)
    else:
        any_value = wire.delimited(wire.AV_STRING, wire.text(value))
    return wire.delimited(_ATTRIBUTE, wire.key(name) + wire.delimited(wire.FIELD_2, any_value))
