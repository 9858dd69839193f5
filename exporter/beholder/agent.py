"""The running agent: records → decode → enrich → evaluate → sinks, in batches.

Two threads. The reader thread only drains the record source (the kernel's ring buffer,
or recorded records in tests) into raw batches and hands them over through a queue
bounded in bytes (what memory it may hold, whatever the batch sizes), so a slow sink can
never stall the kernel side; when the queue is full the batch is dropped and counted
(stage "handover"). The processing thread decodes, enriches, evaluates and emits. Every
loss has a counter in `AgentStats` and a total in the `LossLedger`.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass
from typing import Protocol

from beholder.enrich.enricher import Enricher
from beholder.enrich.process_tree import ProcessTree
from beholder.events import Alert, Event, LossReport, ProcessInfo
from beholder.events.decoding import syscall_name
from beholder.events.interfaces import Evaluator, RecordSource, Sink, SyscallObserver
from beholder.health import Health
from beholder.interest import KernelInterest
from beholder.losses import LossLedger
from beholder.memory import Trimmer
from beholder.sensors.reader import BatchDecoder


class FirstCallers(Mapping[str, ProcessInfo]):
    """Syscall name -> the process that first made it, looked up in the process tree only
    when asked (R0003 asks for the few names it alerts on, not for every name every tick)."""

    def __init__(self, pids: dict[str, int], tree: ProcessTree) -> None:
        self._pids, self._tree = pids, tree

    def __getitem__(self, name: str) -> ProcessInfo:
        return self._tree.get(self._pids[name])

    def __iter__(self) -> Iterator[str]:
        return iter(self._pids)

    def __len__(self) -> int:
        return len(self._pids)


@dataclass(slots=True)
class AgentStats:
    """User-space counters; the kernel's are in `RecordSource.counters()`."""

    batches: int = 0
    records: int = 0
    decoded: int = 0
    decode_errors: int = 0
    queue_dropped_batches: int = 0
    queue_dropped_records: int = 0
    alerts: int = 0
    hidden: int = 0  # events evaluated but not exported: their visibility excludes them
    evaluate_only: int = 0  # of those, sent by the kernel for evaluation only (kernel interest)
    throttled: int = 0  # alerts dropped by alert throttling (counted in metrics too)
    unenriched: int = 0  # container events sent without pod identity while Kubernetes was asked for
    unattributed: int = 0  # events of a cgroup gone before it could be named (sent as host events)
    evaluator_errors: int = 0
    sink_errors: int = 0
    loss_reports: int = 0  # `beholder.agent.loss` records handed to the sinks
    last_error: str = ""


@dataclass(slots=True)
class AgentOptions:
    queue_batches: int = 1024
    queue_bytes: int = 8 << 20  # raw records waiting for the processing thread, Python overhead included
    max_batch: int = 2048  # records per processed batch: decoded events live as long as their batch
    poll_ms: int = 100
    batch_window_s: float = 0.005  # added latency, traded for batches of useful size
    tick_s: float = 1.0  # kernel counters -> metrics
    trim_s: float = 1.0  # glibc's free heap pages back to the kernel (0: never)
    syscall_check_s: float = 5.0  # kernel per-cgroup syscall sets -> profile evaluators
    expect_pods: bool = False  # Kubernetes enrichment was asked for: count events without it


class Metrics(Protocol):
    """What the agent reports to (beholder.otel.metrics.PipelineMetrics fits)."""

    def record_batch(self, events: list[Event], alerts: list[Alert]) -> None: ...

    def suppressed(self, n: int, reason: str = "repeat") -> None: ...


_BYTES_OVERHEAD = 33 + 8  # a CPython bytes object's header, and its slot in the list


def _footprint(raw: list[bytes]) -> int:
    """Memory a raw batch holds: payloads plus CPython's per-bytes-object and list-slot overhead."""
    return sum(map(len, raw)) + _BYTES_OVERHEAD * len(raw)


class Agent:
    """Runs `source`'s records through the stages. `losses` totals every stage's losses,
    the agent's own and those the sinks count themselves (give them the same ledger)."""

    def __init__(
        self,
        options: AgentOptions,
        source: RecordSource,
        sinks: list[Sink],
        evaluators: list[Evaluator] | None = None,
        *,
        syscall_observers: list[SyscallObserver] | None = None,
        enricher: Enricher | None = None,
        on_batch: Callable[[list[Event], list[Alert]], None] | None = None,
        metrics: Metrics | None = None,
        losses: LossLedger | None = None,
        health: Health | None = None,
        telemetry: Callable[[list[Event]], list[Event]] | None = None,
        alert_filter: Callable[[list[Alert]], tuple[list[Alert], int]] | None = None,
        interest: KernelInterest | None = None,
    ) -> None:
        self.options = options
        self.source = source
        self.sinks = sinks
        self.evaluators = evaluators or []
        self.syscall_observers = syscall_observers or []
        self.enricher = enricher or Enricher()
        self.on_batch = on_batch
        self.metrics = metrics
        self.losses = losses or LossLedger()
        self.health = health or Health()
        self.telemetry = telemetry  # which evaluated events leave as telemetry (visibility)
        self.alert_filter = alert_filter  # alert throttling: (kept, dropped)
        self.interest = interest  # what the kernel sends per cgroup, classified here
        self.stats = AgentStats()
        self._decoder = BatchDecoder()
        self._reported: dict[str, int] = {}  # counters already pushed to metrics
        self._loss_reported: dict[str, int] = {}  # loss totals already reported to the sinks
        self._loss_at = time.time_ns()
        self._next_tick = self._next_syscall_check = self._next_interest = 0.0
        self._trim = Trimmer(options.trim_s) if options.trim_s else None
        self.enricher.containers.on_cgroup.append(source.watch_cgroup)
        self._queue: queue.Queue[tuple[list[bytes], int] | None] = queue.Queue(maxsize=options.queue_batches)
        # bytes handed over and taken back: each written by one thread only, so no lock
        self._handed_bytes = self._taken_bytes = 0
        self._stop = threading.Event()
        self._reader_thread = threading.Thread(target=self._read_loop, name="beholder-ringbuf", daemon=True)
        # Load the running processes now, right after the probes attached and before anyone
        # is told the agent is ready: a process that exits between the two would otherwise
        # be unknown when its children's events (recorded meanwhile) name it as their parent.
        self.enricher.start()
        self.health.ready = True  # the probes are attached: the kernel is recording from here on
        self.health.beat()

    # --- reader thread ---------------------------------------------------------------
    def _read_loop(self) -> None:
        source = self.source
        wait, collect = source.wait, source.collect
        window = self.options.batch_window_s
        while not self._stop.is_set():
            wait(self.options.poll_ms)
            # poll wakes on the first record; under load, waiting a moment and draining again
            # turns thousands of tiny batches into a few large ones (per-batch costs dominate).
            if source.pending() and window:
                time.sleep(window)
                collect()
            self._hand_over()
        source.pause()
        while True:  # each collect stops at the reader's limit: drain until nothing is left
            collect()
            if not source.pending():
                break
            self._hand_over()
        self._queue.put(None)

    def _hand_over(self) -> None:
        raw = self.source.take()
        step = self.options.max_batch
        for start in range(0, len(raw), step):  # bounded batches bound the processing side's peaks
            self._hand_over_batch(raw[start : start + step])

    def _hand_over_batch(self, raw: list[bytes]) -> None:
        size = _footprint(raw)
        try:
            if self._handed_bytes - self._taken_bytes + size > self.options.queue_bytes:
                raise queue.Full
            self._queue.put_nowait((raw, size))
            self._handed_bytes += size
        except queue.Full:
            self.stats.queue_dropped_batches += 1
            self.stats.queue_dropped_records += len(raw)

    # --- processing thread -----------------------------------------------------------
    def start(self) -> None:
        self._reader_thread.start()

    def stop(self) -> None:
        self.health.ready = False
        self._stop.set()

    def run(self, duration_s: float | None = None) -> AgentStats:
        """Process until `stop()` or the duration ends, then drain and flush everything."""
        self.start()
        deadline = time.monotonic() + duration_s if duration_s else None
        while True:
            self.health.beat()
            if deadline is not None and time.monotonic() >= deadline:
                self.stop()
                deadline = None
            self._periodic()
            try:
                item = self._queue.get(timeout=0.2)
            except queue.Empty:
                continue
            if item is None:
                break
            raw, size = item
            self._taken_bytes += size
            self.process(raw)
        self._reader_thread.join(timeout=5)
        self._periodic(force=True)
        for sink in self.sinks:
            self._guard(sink.flush)
        return self.stats

    def process(self, raw: list[bytes]) -> None:
        stats = self.stats
        stats.batches += 1
        stats.records += len(raw)
        decoder = self._decoder
        before = decoder.stats.decode_errors
        events = decoder.decode_batch(raw)
        stats.decode_errors += decoder.stats.decode_errors - before
        stats.decoded += len(events)
        self.enricher.enrich(events)
        stats.unattributed = self.enricher.unattributed
        if self.interest is not None and decoder.decoder.unclassified:
            self._classify()
        alerts: list[Alert] = []
        for evaluator in self.evaluators:
            try:
                alerts += evaluator.evaluate(events)
            except Exception as exc:  # one broken rule set must not stop the others
                stats.evaluator_errors += 1
                stats.last_error = f"{type(evaluator).__name__}: {exc}"
        if self.alert_filter is not None and alerts:
            alerts, dropped = self.alert_filter(alerts)
            if dropped:
                stats.throttled += dropped
                if self.metrics is not None:
                    self._guard(self.metrics.suppressed, dropped, "alert_throttle")
        stats.alerts += len(alerts)
        if self.options.expect_pods:
            stats.unenriched += sum(1 for ev in events if ev.container and not ev.container.pod_name)
        shown = events if self.telemetry is None else self.telemetry(events)
        if decoder.decoder.evaluate_only != stats.evaluate_only:
            stats.evaluate_only = decoder.decoder.evaluate_only
            shown = [event for event in shown if not event.evaluate_only]
        stats.hidden += len(events) - len(shown)
        self._deliver(shown, alerts)

    def _classify(self) -> None:
        """Give the kernel a plan for each cgroup it flagged as unclassified; one that cannot
        be told apart yet (container or host) stays flagged and is tried again later."""
        assert self.interest is not None
        decoder = self._decoder.decoder
        flagged, decoder.unclassified = decoder.unclassified, {}
        known = self.enricher.containers.classification
        found = [(cg, *known(cg, pid)) for cg, pid in flagged.items()]
        self.interest.classify((cg, container) for cg, ok, container in found if ok)

    def _deliver(self, events: list[Event], alerts: list[Alert]) -> None:
        for sink in self.sinks:
            self._guard(sink.emit, events, alerts)
        if self.metrics is not None:
            self._guard(self.metrics.record_batch, events, alerts)
        if self.on_batch is not None:
            self._guard(self.on_batch, events, alerts)

    def _periodic(self, force: bool = False) -> None:
        """Work on a clock, not per event: counters to metrics, syscall sets to profiles."""
        now = time.monotonic()
        if force or now >= self._next_tick:
            self._next_tick = now + self.options.tick_s
            self._report_losses()
        if self.interest is not None and (force or now >= self._next_interest):
            self._next_interest = now + self.options.tick_s
            self.interest.refresh()
        if force or now >= self._next_syscall_check:
            self._next_syscall_check = now + self.options.syscall_check_s
            self._check_syscalls()
        if self._trim is not None:
            self._trim(now)

    def _report_losses(self) -> None:
        """Kernel, hand-over and decode counters into the loss totals (the sinks count their
        own); every stage's new losses to the sinks as `LossReport`s (log records), at most
        once a tick."""
        kernel = self.source.counters()
        own = {
            "ringbuf": kernel["lost"],
            "handover": self.stats.queue_dropped_records,
            "decode": self.stats.decode_errors,
        }
        metered = self._delta("suppressed", kernel["suppressed"])
        if metered and self.metrics is not None:
            self._guard(self.metrics.suppressed, metered)
        for stage, total in own.items():
            self._guard(self.losses.lost, stage, self._delta(stage, total))
        totals = self.losses.totals()
        now = time.time_ns()
        reports = [
            LossReport(stage, total - self._loss_reported.get(stage, 0), total, now - self._loss_at, now)
            for stage, total in sorted(totals.items())
            if total > self._loss_reported.get(stage, 0)
        ]
        self._loss_reported.update(totals)
        self._loss_at = now
        if reports:
            self.stats.loss_reports += len(reports)
            for sink in self.sinks:
                self._guard(sink.report_losses, reports)

    def _delta(self, stage: str, total: int) -> int:
        delta = total - self._reported.get(stage, 0)
        self._reported[stage] = total
        return delta

    def _check_syscalls(self) -> None:
        observers = self.syscall_observers
        if not observers:
            return
        containers = self.enricher.containers.by_cgroup
        alerts: list[Alert] = []
        callers = self.source.syscall_callers()
        for cgroup_id, counts in self.source.syscall_counts().items():
            info = containers.get(cgroup_id)
            if info is None:
                continue
            names = {syscall_name(nr) for nr in counts}
            pids = {syscall_name(nr): pid for nr, pid in callers.get(cgroup_id, {}).items() if pid}
            first = FirstCallers(pids, self.enricher.tree)
            for observer in observers:
                alerts += observer.observe_syscalls(info, names, first) or []
        if alerts:
            self.stats.alerts += len(alerts)
            self._deliver([], alerts)

    def _guard(self, fn: Callable[..., None], *args: object) -> None:
        try:
            fn(*args)
        except Exception as exc:  # a failing sink is counted, the others still get the batch
            self.stats.sink_errors += 1
            self.stats.last_error = f"{getattr(fn, '__qualname__', fn)}: {exc}"

    def close(self) -> None:
        for sink in self.sinks:
            self._guard(sink.close)
        self.source.close()

    def report(self) -> dict[str, object]:
        """Kernel and user-space counters in one dict (the --stats-file content)."""
        return {
            "kernel": self.source.counters(),
            "agent": asdict(self.stats),
            "sensors": self.sensor_report(),
            "syscalls": self.container_syscalls(),
            "syscall_callers": self.container_syscall_callers(),
            **({"interest": self.interest.report()} if self.interest is not None else {}),
        }

    def container_syscalls(self) -> dict[str, dict[str, int]]:
        """Container id -> {syscall name: calls}, from the kernel's per-cgroup counters."""
        by_cgroup = self.enricher.containers.by_cgroup
        out: dict[str, dict[str, int]] = {}
        for cgroup_id, counts in self.source.syscall_counts().items():
            info = by_cgroup.get(cgroup_id)
            if info is not None:
                row = out.setdefault(info.container_id, {})
                for nr, calls in counts.items():
                    name = syscall_name(nr)
                    row[name] = row.get(name, 0) + calls
        return out

    def container_syscall_callers(self) -> dict[str, dict[str, int]]:
        """Container id -> {syscall name: pid of its first caller}, for R0003 in a replay."""
        by_cgroup = self.enricher.containers.by_cgroup
        out: dict[str, dict[str, int]] = {}
        for cgroup_id, pids in self.source.syscall_callers().items():
            info = by_cgroup.get(cgroup_id)
            if info is not None:
                row = out.setdefault(info.container_id, {})
                for nr, pid in pids.items():
                    row.setdefault(syscall_name(nr), pid)
        return out

    def sink_report(self) -> dict[str, dict[str, int]]:
        """What each sink still holds (after `close`: spooled to disk for the next start)."""
        return {type(sink).__name__: {"pending_records": int(sink.pending_records)} for sink in self.sinks}

    def sensor_report(self) -> dict[str, str]:
        report = dict.fromkeys(self.source.sensors, "running")
        report.update({name: f"refused: {why}" for name, why in self.source.refused.items()})
        return report
