"""The agent's batching, hand-over and loss accounting, on recorded records (no root, no BPF)."""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping

from beholder.agent import Agent, AgentOptions, _footprint
from beholder.events import Alert, ContainerInfo, Event, LossReport, ProcessInfo
from beholder.losses import LossLedger
from beholder.output.sinks import NativeJsonSink
from support.recorded_source import RecordedSource, exec_record, open_record

FAST = {"poll_ms": 5, "batch_window_s": 0.0, "tick_s": 0.05, "syscall_check_s": 0.05}


class ListSink:
    """Keeps what it is given; `hold` (when set) blocks the first batch until it is released."""

    def __init__(self, hold: threading.Event | None = None) -> None:
        self.batches: list[list[Event]] = []
        self.alerts: list[Alert] = []
        self.losses: dict[str, int] = {}
        self.first = threading.Event()
        self._hold = hold

    def emit(self, events: list[Event], alerts: list[Alert]) -> None:
        if events:
            self.batches.append(events)
        self.alerts += alerts
        self.first.set()
        if self._hold is not None:
            self._hold.wait(timeout=30)

    def report_losses(self, reports: list[LossReport]) -> None:
        for report in reports:
            self.losses[report.stage] = self.losses.get(report.stage, 0) + report.count

    pending_records = 0  # nothing buffered: the batches are kept as they come

    def flush(self) -> None:
        """Nothing to flush."""

    def close(self) -> None:
        """Nothing to release."""


class BrokenSink(ListSink):
    def emit(self, events: list[Event], alerts: list[Alert]) -> None:
        raise OSError("disk on fire")


def run_through(agent: Agent, source: RecordedSource) -> None:
    """Run until every recorded chunk was handed over, then stop, drain and close."""
    worker = threading.Thread(target=agent.run)
    worker.start()
    assert source.drained.wait(timeout=30)
    agent.stop()
    worker.join(timeout=30)
    assert not worker.is_alive()
    agent.close()


def paths(sink: ListSink) -> list[str]:
    return [event.resource for batch in sink.batches for event in batch]


def test_records_reach_the_sinks_in_order_in_batches_of_at_most_max_batch() -> None:
    chunks = [
        [open_record(f"/a/{i}") for i in range(10)],
        [open_record(f"/b/{i}") for i in range(2500)],
        [open_record(f"/c/{i}") for i in range(7)],
    ]
    source = RecordedSource(chunks)
    sink = ListSink()
    agent = Agent(AgentOptions(max_batch=1000, **FAST), source, [sink])
    run_through(agent, source)
    assert [len(batch) for batch in sink.batches] == [10, 1000, 1000, 500, 7]
    assert paths(sink) == [f"/a/{i}" for i in range(10)] + [f"/b/{i}" for i in range(2500)] + [
        f"/c/{i}" for i in range(7)
    ]
    assert (agent.stats.records, agent.stats.decoded, agent.stats.batches) == (2517, 2517, 5)
    assert source.paused and source.closed
    assert agent.losses.totals() == {} and sink.losses == {}


def test_a_full_hand_over_queue_drops_whole_batches_and_counts_them_everywhere() -> None:
    chunks = [[open_record(f"/{n}/{i}") for i in range(5)] for n in range(10)]
    hold = threading.Event()
    sink = ListSink(hold)
    # chunk 1 waits until the processing thread holds chunk 0 inside the sink
    source = RecordedSource(chunks, gates={1: sink.first})
    room = 2 * _footprint(chunks[0])  # two batches may wait
    agent = Agent(AgentOptions(queue_bytes=room, **FAST), source, [sink])
    worker = threading.Thread(target=agent.run)
    worker.start()
    assert source.drained.wait(timeout=30)
    hold.set()
    agent.stop()
    worker.join(timeout=30)
    agent.close()
    assert [path.split("/")[1] for path in paths(sink)[::5]] == ["0", "1", "2"]
    assert (agent.stats.queue_dropped_batches, agent.stats.queue_dropped_records) == (7, 35)
    assert agent.stats.records + agent.stats.queue_dropped_records == 50
    assert agent.losses.totals() == {"handover": 35}
    assert sink.losses == {"handover": 35}  # the loss records say the same


def test_kernel_decode_and_output_losses_reach_one_ledger_and_the_loss_records() -> None:
    source = RecordedSource(
        [[open_record("/x"), b"torn", open_record("/y")], [open_record("/z")]], counters={"lost": 7}
    )
    losses = LossLedger()
    listening = ListSink()
    full_disk = NativeJsonSink("/dev/full", losses=losses)  # every write: ENOSPC
    agent = Agent(AgentOptions(**FAST), source, [full_disk, listening], losses=losses)
    run_through(agent, source)
    assert paths(listening) == ["/x", "/y", "/z"]
    assert full_disk.lost == 3
    assert losses.totals() == {"ringbuf": 7, "decode": 1, "output": 3}
    assert listening.losses == losses.totals()
    assert agent.stats.sink_errors == 0  # a sink's write error is its loss, not the agent's error


def test_a_failing_sink_is_counted_and_the_others_still_get_every_batch() -> None:
    source = RecordedSource([[open_record("/1")], [open_record("/2")]])
    sink = ListSink()
    agent = Agent(AgentOptions(**FAST), source, [BrokenSink(), sink])
    run_through(agent, source)
    assert paths(sink) == ["/1", "/2"]
    assert agent.stats.sink_errors >= 2 and "disk on fire" in agent.stats.last_error


class SyscallRecorder:
    def __init__(self) -> None:
        self.seen: dict[str, set[str]] = {}
        self.first: dict[str, ProcessInfo] = {}

    def observe_syscalls(
        self, c: ContainerInfo, names: set[str], by: Mapping[str, ProcessInfo]
    ) -> list[Alert]:
        self.seen.setdefault(c.container_id, set()).update(names)
        self.first.update({name: by[name] for name in names if name in by})
        return []


def test_the_kernel_syscall_sets_reach_the_declared_observers_by_container() -> None:
    me = os.getpid()  # the kernel's first caller of read in cgroup 77: a live process
    syscalls = {77: {0: 5, 1: 2}, 78: {3: 1}}
    source = RecordedSource([[exec_record(["/bin/true"])]], syscalls=syscalls, callers={77: {0: me, 1: 0}})
    observer = SyscallRecorder()
    agent = Agent(AgentOptions(**FAST), source, [ListSink()], syscall_observers=[observer])
    agent.enricher.containers.by_cgroup[77] = ContainerInfo(container_id="c77", name="web")
    run_through(agent, source)
    assert observer.seen == {"c77": {"read", "write"}}  # cgroup 78 belongs to no known container
    assert list(observer.first) == ["read"] and observer.first["read"].pid == me  # with its process
    assert observer.first["read"].comm
