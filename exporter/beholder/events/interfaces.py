"""The small interfaces the pipeline stages meet at.

Every stage works on whole batches (lists), never one event at a time, so a stage's cost
per event is a loop body, not a call chain.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from beholder.events.model import Alert, ContainerInfo, Event, LossReport, ProcessInfo
from beholder.events.needs import Needs


@dataclass(frozen=True, slots=True)
class HostIdentity:
    """Who is observing: KubeArmor's HostName/ClusterName, OTel's host.* and k8s.node.*."""

    host_name: str
    node_name: str = ""  # "" when not known to be a Kubernetes node
    cluster_name: str = ""  # "" when not given; KubeArmor's renderings print `default`

    @property
    def cluster_label(self) -> str:
        """KubeArmor's ClusterName, which is `default` when the cluster has no name."""
        return self.cluster_name or "default"


class Evaluator(Protocol):
    """Policy or profile engine: reads an enriched batch, returns the alerts it raises."""

    def evaluate(self, events: list[Event]) -> list[Alert]: ...


@runtime_checkable
class Interested(Protocol):
    """An evaluator that can say which events it reads from a container (None: the host), so
    the kernel sends only those; an evaluator without it is sent everything."""

    def needs(self, container: ContainerInfo | None) -> Needs: ...


class SyscallObserver(Protocol):
    """A profile engine or learner that also reads each container's syscall set, which the
    kernel counts per cgroup (no event per call)."""

    def observe_syscalls(
        self,
        container: ContainerInfo,
        syscall_names: set[str],
        callers: Mapping[str, ProcessInfo] | None = None,
    ) -> list[Alert] | None:
        """`callers`: syscall name -> the process that first made it, where the kernel knows."""
        ...


class Sink(Protocol):
    """Where a batch goes (console, KubeArmor JSON, OTLP file, OTLP exporter).

    `emit` must not block on the network: exporters queue and return. `report_losses`
    places the agent's loss records among the events, where readers see the gap.
    """

    def emit(self, events: list[Event], alerts: list[Alert]) -> None: ...

    def report_losses(self, reports: list[LossReport]) -> None: ...

    @property
    def pending_records(self) -> int:
        """Records accepted and not yet written or exported (after `close`: kept for the next start)."""
        ...

    def flush(self) -> None: ...

    def close(self) -> None: ...


class LossCounter(Protocol):
    """Where a stage counts the records it lost (`beholder.losses.LossLedger`)."""

    def lost(self, stage: str, n: int) -> None: ...


class RecordSource(Protocol):
    """Raw kernel records and the kernel side's controls and counters.

    In production the ring buffer and maps of the loaded BPF program
    (`beholder.sensors.source.KernelSource`); in tests, recorded records, so batching,
    hand-over and loss accounting run without root.
    """

    def wait(self, timeout_ms: int) -> None:
        """Block until records may have arrived (or the timeout passed), collecting them."""
        ...

    def collect(self) -> None:
        """Collect whatever has been committed, without waiting."""
        ...

    def pending(self) -> int:
        """Records collected and not yet taken."""
        ...

    def take(self) -> list[bytes]:
        """The records collected since the last call."""
        ...

    def pause(self) -> None:
        """Stop producing, so that draining afterwards reads everything ever sent."""
        ...

    def counters(self) -> dict[str, int]:
        """The kernel's counters: seen, emitted, suppressed (repeats folded), lost (ring full)."""
        ...

    def watch_cgroup(self, cgroup_id: int, pid: int) -> bool:
        """A container cgroup appeared (`pid` lives in it): report namespace pids and count its
        syscalls from now on. False: retry later (the pid namespace is not entered yet)."""
        ...

    def syscall_counts(self) -> dict[int, dict[int, int]]:
        """cgroup id -> {syscall number: calls} (non-zero only)."""
        ...

    def syscall_callers(self) -> dict[int, dict[int, int]]:
        """cgroup id -> {syscall number: pid of its first caller} (R0003 names that process)."""
        ...

    @property
    def sensors(self) -> list[str]:
        """The sensors that run."""
        ...

    def slow_detach(self) -> str:
        """What closing will wait for, when long enough to tell the user ("" when not)."""
        ...

    @property
    def refused(self) -> dict[str, str]:
        """Sensors that cannot run here, each with a one-line reason."""
        ...

    def close(self) -> None: ...
