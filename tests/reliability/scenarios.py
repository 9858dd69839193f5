"""The load and outage scenarios, shared by the short tests and `bench/soak.py` (long runs).

Markers are `/bin/echo beholder-marker N` execs run one after another, so the order in
which their log records reach the collector proves the pipeline kept order end to end.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord
from otel_export.receiver import Collector, GrpcReceiver

from beholder.otel import semconv as sc
from beholder.otel.spool import Spool
from reliability.burst_agent import MARKER
from reliability.conftest import agent_args
from reliability.harness import (
    MixedWorkload,
    RssSampler,
    RssTrend,
    build_loops,
    lost_by_stage,
    otlp_env,
    rss_trend,
)
from support.agent_process import AgentProcess

SHORTFALL_STAGES = ("export_queue", "export", "spool")  # after the OTLP sink took the records
# The kernel keeps tracing the host between the agent's last ring-buffer drain and its
# final counter read, so a few records are emitted but never read. Bounded, and reported
# to the pipeline owner (stop emission before the last drain to make this exactly 0).
SHUTDOWN_SLACK = 200


def unread_at_exit(stats: dict[str, Any]) -> int:
    """Records the kernel emitted that user space neither read nor counted as dropped."""
    agent = stats["agent"]
    return stats["kernel"]["emitted"] - agent["records"] - agent["queue_dropped_records"]


@dataclass
class Books:
    """Kernel, agent and collector counters of one run."""

    stats: dict[str, Any]
    exported: int  # log records at the collector, the agent's loss reports included
    lost: dict[str, int]
    spooled: int  # still on disk at exit: kept, replayed by the next start
    loss_records: dict[str, int] = field(default_factory=dict)  # stage -> count, from beholder.agent.loss

    @property
    def kernel(self) -> dict[str, int]:
        return self.stats["kernel"]

    @property
    def agent(self) -> dict[str, Any]:
        return self.stats["agent"]

    def balanced(self, slack: int = SHUTDOWN_SLACK) -> bool:
        """Kernel: seen = emitted + suppressed + lost. User: every record decoded or counted.
        Export: exported + counted losses + still spooled = events + alerts + loss reports sent."""
        k, a = self.kernel, self.agent
        shortfall = sum(self.lost.get(stage, 0) for stage in SHORTFALL_STAGES)
        return (
            k["seen"] == k["emitted"] + k["suppressed"] + k["lost"]
            and 0 <= unread_at_exit(self.stats) <= slack
            and a["decoded"] + a["decode_errors"] == a["records"]
            and self.exported + shortfall + self.spooled == a["decoded"] + a["alerts"] + a["loss_reports"]
        )

    def summary(self) -> dict[str, Any]:
        return {"kernel": self.kernel, "agent": {k: v for k, v in self.agent.items() if v != ""},
                "exported": self.exported, "lost": self.lost, "spooled": self.spooled,
                "loss_records": self.loss_records,
                "unread_at_exit": unread_at_exit(self.stats),
                "balanced": self.balanced()}  # fmt: skip


@dataclass
class LoadRun:
    books: Books
    trend: RssTrend
    samples_mib: list[float]
    memory_largest: dict[str, float] = field(default_factory=dict)  # MiB per component (smaps)
    memory_last: dict[str, float] = field(default_factory=dict)


@dataclass
class OutageRun:
    books: Books
    markers_sent: int
    markers_received: list[int]


def start_agent(
    workdir: Path, receiver: GrpcReceiver, extra: Iterable[str] = (), outputs: tuple[str, ...] = ("otlp",)
) -> AgentProcess:
    """`beholder run` with the policy, the profile and OTLP to `receiver` (set only for the child)."""
    with mock.patch.dict(os.environ, otlp_env(receiver.url)):
        return AgentProcess(workdir, [*agent_args(workdir), *extra], outputs=outputs).start()


@contextmanager
def agent_running(
    workdir: Path, receiver: GrpcReceiver, extra: Iterable[str] = (), outputs: tuple[str, ...] = ("otlp",)
) -> Iterator[AgentProcess]:
    """`start_agent`, and never leave the agent behind when the caller fails before stopping it."""
    agent = start_agent(workdir, receiver, extra, outputs)
    try:
        yield agent
    finally:
        if agent.proc is not None and agent.proc.poll() is None:
            agent.proc.kill()
            agent.proc.wait()


def _books(agent: AgentProcess, collector: Collector) -> Books:
    stats = agent.stop(timeout=120)
    spooled = Spool(agent.workdir / "spool", max_bytes=1 << 40).pending_records
    losses = loss_reports(collector.records())
    return Books(stats, collector.total, lost_by_stage(collector.metrics), spooled, losses)


def loss_reports(records: list[LogRecord]) -> dict[str, int]:
    """Stage -> records lost, summed over the agent's `beholder.agent.loss` log records."""
    out: dict[str, int] = {}
    for record in records:
        if record.event_name == sc.EVENT_AGENT_LOSS:
            attrs = {a.key: a.value for a in record.attributes}
            stage = attrs[sc.BEHOLDER_STAGE].string_value
            out[stage] = out.get(stage, 0) + attrs[sc.BEHOLDER_LOSS_COUNT].int_value
    return out


def run_load(workdir: Path, rate: int, duration_s: float, warmup_s: float) -> LoadRun:
    """Mixed workload at `rate` events/s; RSS sampled after `warmup_s`."""
    collector = Collector(keep=worth_keeping)
    with GrpcReceiver(collector) as receiver, agent_running(workdir, receiver) as agent:
        workload = MixedWorkload(build_loops(workdir), rate)
        workload.start()
        workload.stop_event.wait(warmup_s)
        sampler = RssSampler(agent.pid).start()
        workload.stop_event.wait(duration_s)
        workload.stop()
        samples = sampler.stop()
        books = _books(agent, collector)
    return LoadRun(books, rss_trend(samples), samples, sampler.largest_breakdown, sampler.last_breakdown)


class _Markers(threading.Thread):
    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.sent = 0
        self.stop_event = threading.Event()

    def run(self) -> None:
        while not self.stop_event.wait(0.05):
            subprocess.run(["/bin/echo", MARKER, str(self.sent)], stdout=subprocess.DEVNULL, check=True)
            self.sent += 1


def marker_number(record: LogRecord) -> int | None:
    """N of a marker exec event (not an alert about one), else None."""
    if record.event_name != sc.EVENT_PROCESS_EXEC:
        return None
    attrs = {a.key: a.value for a in record.attributes}
    if sc.SECURITY_RULE_UUID in attrs or sc.PROCESS_COMMAND_ARGS not in attrs:
        return None
    args = [v.string_value for v in attrs[sc.PROCESS_COMMAND_ARGS].array_value.values]
    return int(args[2]) if len(args) == 3 and args[1] == MARKER else None


def marker_numbers(records: list[LogRecord]) -> list[int]:
    """The N of every marker exec event (not alerts) in arrival order."""
    return [n for n in map(marker_number, records) if n is not None]


def worth_keeping(record: LogRecord) -> bool:
    """What long runs keep of the collector's records: markers and the agent's loss reports."""
    return record.event_name == sc.EVENT_AGENT_LOSS or marker_number(record) is not None


def _await_markers(collector: Collector, sent: int, timeout_s: float) -> None:
    """Let the spool drain: wait until the last marker has arrived (or the timeout)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and len(marker_numbers(collector.records())) < sent:
        time.sleep(1)


def run_outage(
    workdir: Path, rate: int, down_s: float, up_s: float, drain_timeout_s: float = 120
) -> OutageRun:
    """The collector is down for `down_s` under load, up for `up_s`; the agent stops once drained."""
    collector = Collector(keep=worth_keeping)
    receiver = GrpcReceiver(collector).start()
    try:
        with agent_running(workdir, receiver) as agent:
            receiver.stop()
            markers = _Markers()
            workload = MixedWorkload(build_loops(workdir), rate)
            workload.start()
            markers.start()
            workload.stop_event.wait(down_s)
            receiver.start()
            workload.stop_event.wait(up_s)
            markers.stop_event.set()
            markers.join()
            workload.stop()
            _await_markers(collector, markers.sent, drain_timeout_s)
            books = _books(agent, collector)
    finally:
        receiver.stop()
    return OutageRun(books, markers.sent, marker_numbers(collector.records()))
