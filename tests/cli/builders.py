"""Small event builders for the CLI, summary and query tests."""

from __future__ import annotations

from beholder.events.decoding import address_resource
from beholder.events.model import Action, Alert, ContainerInfo, Event, Operation, ProcessInfo
from beholder.formats.kubearmor_in import with_facts

SOCKADDR_ORDER = (
    "sa_family",
    "sin_port",
    "sin_addr",
    "sin6_port",
    "sin6_addr",
    "sun_path",
    "nl_pid",
    "nl_groups",
)

WEB = ContainerInfo("c0ffee" * 10, name="web", pod_name="web-1", namespace="dvwa", labels={"app": "web"})
DB = ContainerInfo("beef" * 16, name="db", pod_name="db-0", namespace="data", labels={"app": "db"})
T0 = 1_672_835_738_000_000_000  # Wed Jan  4 12:35:38 UTC 2023


def event(
    operation: Operation,
    syscall: str,
    resource: str = "",
    *,
    exe: str = "/usr/sbin/apache2",
    parent: str = "/bin/bash",
    container: ContainerInfo | None = WEB,
    data: dict[str, str] | None = None,
    retval: int = 0,
    pid: int = 100,
    ts: int = T0,
) -> Event:
    proc = ProcessInfo(pid=pid, exe=exe, parent_exe=parent, comm=exe.rsplit("/", 1)[-1], container=container)
    return with_facts(
        Event(
            timestamp_ns=ts,
            operation=operation,
            syscall=syscall,
            retval=retval,
            host_pid=pid,
            host_tid=pid,
            uid=0,
            gid=0,
            comm=proc.comm,
            cgroup_id=7,
            resource=resource,
            argv=(resource,) if syscall == "execve" else (),
            process=proc,
            container=container,
        ),
        data,
    )


def exec_of(path: str, **kw) -> Event:
    return event(Operation.PROCESS, "execve", path, **kw)


def open_of(path: str, **kw) -> Event:
    return event(Operation.FILE, "openat", path, data={"fd": "-100", "flags": "O_RDONLY"}, **kw)


def net(syscall: str, fd: str = "3", resource: str = "", **fields: str) -> Event:
    """A network event; its Resource is the sockaddr text, as the sensor writes it."""
    pid = int(fields.pop("pid", "100"))
    address = {k: fields[k] for k in SOCKADDR_ORDER if k in fields}
    return event(
        Operation.NETWORK, syscall, resource or address_resource(address), data={"fd": fd, **fields}, pid=pid
    )


def alert_on(ev: Event, action: Action = Action.BLOCK, rule: str = "block-cat") -> Alert:
    """A rule's alert; a Block comes from an enforcer (BPF-LSM), as only an enforcer blocks."""
    enforcer = "BPFLSM" if action is Action.BLOCK else "eBPF Monitor"
    return Alert(
        event=ev, source="policy", rule_id=rule, rule_name=rule, action=action, severity=5, enforcer=enforcer
    )
