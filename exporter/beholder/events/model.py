"""The one event shape every stage shares.

An `Event` is what the kernel saw plus what user space learned about the process and its
container. The KubeArmor JSON line and the OTel log record are two renderings of it; an
`Alert` is an `Event` plus the rule that fired. Slots dataclasses keep the hot path cheap:
enrichment attaches shared `ProcessInfo`/`ContainerInfo` objects by reference instead of
copying a dozen strings into every event.
"""

from __future__ import annotations

import enum
import os
from dataclasses import dataclass, field

from beholder.events.facts import Facts


class Operation(enum.Enum):
    """Event class, spelled as KubeArmor's `Operation` field spells it."""

    PROCESS = "Process"
    FILE = "File"
    NETWORK = "Network"
    SYSCALL = "Syscall"
    CAPABILITY = "Capabilities"

    # Members are singletons compared by identity; Enum's own `__hash__` is Python code
    # (hash of the name), run per event wherever an operation keys a dict or a Counter.
    __hash__ = object.__hash__


class Action(enum.Enum):
    """What a matched rule asks for (KubeArmor spelling)."""

    ALLOW = "Allow"
    AUDIT = "Audit"
    BLOCK = "Block"


@dataclass(slots=True)
class ContainerInfo:
    """Who a cgroup belongs to; one object per container, shared by its events."""

    container_id: str
    runtime: str = ""
    name: str = ""
    image: str = ""
    image_id: str = ""
    pod_uid: str = ""
    pod_name: str = ""
    namespace: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    workload_kind: str = ""
    workload_name: str = ""
    service_account: str = ""
    cgroup_dir: str = ""  # its cgroup v2 directory on the host: cgroup.procs lists its live processes
    annotations: dict[str, str] = field(default_factory=dict)  # the pod's kubearmor-* annotations
    # argv vectors its pod spec declares (command + args, exec lifecycle hooks): expected execs
    declared_execs: tuple[tuple[str, ...], ...] = ()


@dataclass(slots=True)
class ProcessInfo:
    """What the process tree knows about one process; shared by all its events."""

    pid: int
    ppid: int = 0
    ns_pid: int = 0
    ns_ppid: int = 0
    comm: str = ""
    exe: str = ""
    cmdline: str = ""
    parent_exe: str = ""
    cwd: str = ""
    uid: int = 0
    gid: int = 0
    euid: int | None = None  # effective uid: /proc at exec, then the set*uid calls seen (None: unknown)
    interactive: bool | None = None  # has a controlling terminal (/proc stat tty_nr at exec; None: unknown)
    cgroup: str = ""  # process.linux.cgroup, `0::<cgroup v2 path>` of its current cgroup
    start_ns: int = 0
    cgroup_id: int = 0
    container: ContainerInfo | None = None
    # The process's identity and span (otel.traces), derived for every process; records carry them.
    entity_id: str = ""
    trace_id: bytes = b""
    span_id: bytes = b""


@dataclass(slots=True, init=False)
class Event:
    """One kernel observation, decoded and (later) enriched.

    `kind` is the event name from semconv/registry/events.yaml and `facts` its typed facts
    (which class follows from the kind); consumers switch on `kind` and read `facts`.
    `resource` is the path or name the call named (the file, the program, the DNS name, a
    mount target; absolute once enriched), "" when it names none: what KubeArmor prints in
    `Resource` for sockets, addresses, capabilities and the rest is rendered from the facts
    in `formats/`, as are the arguments. `process` and `container` are filled by the enrich
    stage; until then they are None.
    """

    timestamp_ns: int
    operation: Operation
    syscall: str
    retval: int
    host_pid: int
    host_tid: int
    uid: int
    gid: int
    comm: str
    cgroup_id: int
    kind: str = ""  # set by whoever creates the event: the decoder, a reader, `kinds.kind_of`
    resource: str = ""
    argv: tuple[str, ...] = ()
    ns_pid: int = 0  # pid in the container's pid namespace when the kernel knew it
    repeat_count: int = 0
    truncated: bool = False
    killed: bool = False  # kill mode sent the caller SIGKILL at this call's entry
    evaluate_only: bool = False  # the kernel sent it for evaluation only: never exported as telemetry
    process: ProcessInfo | None = None
    container: ContainerInfo | None = None
    facts: Facts | None = None

    # Written out rather than generated: compiled (beholder.native), this is a native
    # constructor; dataclasses' generated `__init__` stays interpreted even then, and one
    # runs per kernel record. The signature is the generated one's (same order, defaults).
    def __init__(
        self,
        timestamp_ns: int,
        operation: Operation,
        syscall: str,
        retval: int,
        host_pid: int,
        host_tid: int,
        uid: int,
        gid: int,
        comm: str,
        cgroup_id: int,
        kind: str = "",
        resource: str = "",
        argv: tuple[str, ...] = (),
        ns_pid: int = 0,
        repeat_count: int = 0,
        truncated: bool = False,
        killed: bool = False,
        evaluate_only: bool = False,
        process: ProcessInfo | None = None,
        container: ContainerInfo | None = None,
        facts: Facts | None = None,
    ) -> None:
        self.timestamp_ns = timestamp_ns
        self.operation = operation
        self.syscall = syscall
        self.retval = retval
        self.host_pid = host_pid
        self.host_tid = host_tid
        self.uid = uid
        self.gid = gid
        self.comm = comm
        self.cgroup_id = cgroup_id
        self.kind = kind
        self.resource = resource
        self.argv = argv
        self.ns_pid = ns_pid
        self.repeat_count = repeat_count
        self.truncated = truncated
        self.killed = killed
        self.evaluate_only = evaluate_only
        self.process = process
        self.container = container
        self.facts = facts

    @property
    def result(self) -> str:
        """KubeArmor's `Result`: `Passed`, the errno text of a failed call, or `Killed
        (SIGKILL)` when kill mode killed the caller at the call's entry (whatever the call
        itself returned in the kernel, the caller never saw it)."""
        return KILLED_RESULT if self.killed else result_text(self.retval)

    @property
    def is_container(self) -> bool:
        return self.container is not None


MONITOR_ENFORCER = "eBPF Monitor"  # KubeArmor's name for "observed, not enforced"
KILL_ENFORCER = "BPF-SIGKILL"  # kill mode: the caller was sent SIGKILL at syscall entry
KILLED_RESULT = "Killed (SIGKILL)"
SYSTEM_EVENT = "SystemEvent"  # KubeArmor record type of the agent's own notices (AlertThreshold)


@dataclass(slots=True)
class Alert:
    """An event that matched a policy rule or broke a behaviour profile."""

    event: Event
    source: str  # "policy" or "profile"
    rule_id: str  # policy name, or a Kubescape rule id such as R0001
    rule_name: str
    action: Action
    severity: int  # KubeArmor 1-10; profile rules map their severity onto this scale
    message: str = ""
    tags: tuple[str, ...] = ()
    enforcer: str = MONITOR_ENFORCER
    policy_type: str = ""  # MatchedPolicy / MatchedHostPolicy for KubeArmor alerts
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def result(self) -> str:
        return self.event.result

    @property
    def outcome(self) -> Action:
        """What happened to the call: Block only when an enforcer really refused it.

        A Block rule on a node that only monitors (KubeArmor's "Audit (Block)", enforcer
        `eBPF Monitor`) let the call run, so its outcome is Audit, from every source.
        """
        if self.action is Action.BLOCK and (
            self.enforcer == MONITOR_ENFORCER or (self.event.retval >= 0 and not self.event.killed)
        ):
            return Action.AUDIT
        return self.action


@dataclass(frozen=True, slots=True)
class LossReport:
    """Records one pipeline stage lost since the previous report (the agent's own log record).

    Metrics carry the same counts; this makes the gap visible where people read the records.
    """

    stage: str  # ringbuf, handover, decode, export_queue, export, spool
    count: int
    total: int
    interval_ns: int
    time_ns: int

    @property
    def message(self) -> str:
        return f"lost {self.count} records at stage {self.stage} ({self.total} since start)"


def result_text(retval: int) -> str:
    """Map a syscall return value to KubeArmor's `Result` text."""
    if retval >= 0:
        return "Passed"
    return os.strerror(-retval)
