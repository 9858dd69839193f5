"""The kernel as the agent's `RecordSource`: the loaded program's ring buffer and maps."""

from __future__ import annotations

from beholder.events.abi import Interest, PathPrefix
from beholder.sensors.program import Program, ProgramOptions
from beholder.sensors.reader import RingReader


class KernelSource:
    """Loads the BPF program (`SensorError` when no sensor can run) and reads its ring buffer."""

    def __init__(self, options: ProgramOptions) -> None:
        self.program = Program(options)
        self.reader = RingReader(self.program)

    @property
    def sensors(self) -> list[str]:
        """The sensors that run."""
        return [sensor.name for sensor in self.program.sensors]

    @property
    def refused(self) -> dict[str, str]:
        """Sensors that cannot run here, each with a one-line reason."""
        return self.program.refused

    def wait(self, timeout_ms: int) -> None:
        self.reader.ring.poll(timeout_ms)

    def collect(self) -> None:
        self.reader.consume()

    def pending(self) -> int:
        return self.reader.pending()

    def take(self) -> list[bytes]:
        return self.reader.take()

    def pause(self) -> None:
        self.program.pause()

    def counters(self) -> dict[str, int]:
        return self.program.stats()

    def watch_cgroup(self, cgroup_id: int, pid: int) -> bool:
        self.program.count_syscalls_of(cgroup_id)
        return self.program.register_pidns(cgroup_id, pid)

    def syscall_counts(self) -> dict[int, dict[int, int]]:
        return self.program.syscall_counts()

    def syscall_callers(self) -> dict[int, dict[int, int]]:
        return self.program.syscall_callers()

    def set_slot(self, slot: int, row: Interest) -> None:
        """One row of the kernel's `interest` array (kernel interest, `beholder.interest`)."""
        self.program.maps["interest"].set(slot, row)

    def point(self, cgroup_id: int, slot: int) -> None:
        """Which interest row a cgroup's events follow."""
        self.program.maps["cgroup_interest"].set(cgroup_id, slot)

    def forget(self, cgroup_id: int) -> None:
        """Drop a cgroup's entry: its next record is flagged unclassified again."""
        self.program.maps["cgroup_interest"].delete(cgroup_id)

    def set_prefixes(self, rows: list[PathPrefix]) -> None:
        """The path prefixes evaluate-only opens are sent under (`beholder.interest`)."""
        table = self.program.maps["interest_prefixes"]
        for index, row in enumerate(rows):
            table.set(index, row)

    def slow_detach(self) -> str:
        """What stopping will wait for, when it is long enough to say so ("" when not)."""
        hooks = self.program.hooks
        if hooks.raw:
            return ""
        return f"detaching {len(hooks.tracepoints())} syscall tracepoints (the kernel waits for RCU at each)"

    def close(self) -> None:
        self.reader.ring.close()
        self.program.close()
