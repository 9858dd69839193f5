"""Events shaped as the kernel sensors decode them, for the profile-engine tests."""

from __future__ import annotations

import itertools
import os

from beholder.events.model import ContainerInfo, Event, Operation, ProcessInfo
from beholder.formats.kubearmor_in import with_facts

_pids = itertools.count(1000)
_clock = itertools.count(1_751_923_318_287_348_855, 1_000_000)


def container(name: str = "app", namespace: str = "default", **kwargs: object) -> ContainerInfo:
    cid = kwargs.pop("container_id", None) or f"{abs(hash((name, namespace))):064x}"[:64]
    return ContainerInfo(container_id=str(cid), name=name, namespace=namespace, **kwargs)


def _event(op: Operation, syscall: str, c: ContainerInfo, proc: ProcessInfo, **kw: object) -> Event:
    data = kw.pop("data", None)
    return with_facts(
        Event(
            timestamp_ns=next(_clock),
            operation=op,
            syscall=syscall,
            retval=int(kw.pop("retval", 0)),
            host_pid=proc.pid,
            host_tid=proc.pid,
            uid=proc.uid,
            gid=proc.gid,
            comm=proc.comm,
            cgroup_id=7,
            process=proc,
            container=c,
            **kw,
        ),
        data,  # type: ignore[arg-type]
    )


def process(
    exe: str, comm: str = "", parent_exe: str = "/bin/sh", cwd: str = "/", pid: int = 0
) -> ProcessInfo:
    pid = pid or next(_pids)
    return ProcessInfo(
        pid=pid,
        ppid=pid - 1,
        comm=(comm or os.path.basename(exe))[:15],
        exe=exe,
        parent_exe=parent_exe,
        cwd=cwd,
    )


def exec_event(
    c: ContainerInfo,
    path: str,
    argv: tuple[str, ...] = (),
    exe: str = "",
    parent_exe: str = "/bin/sh",
    cwd: str = "/",
    retval: int = 0,
) -> Event:
    argv = argv or (path,)
    proc = process(exe or path, os.path.basename(argv[0] if argv else path), parent_exe, cwd)
    return _event(
        Operation.PROCESS,
        "execve",
        c,
        proc,
        resource=path,
        argv=argv,
        data={"argv": " ".join(argv[1:])},
        retval=retval,
    )


def open_event(
    c: ContainerInfo, path: str, flags: str = "O_RDONLY", proc: ProcessInfo | None = None, retval: int = 3
) -> Event:
    proc = proc or process("/bin/cat")
    return _event(
        Operation.FILE, "openat", c, proc, resource=path, data={"fd": "-100", "flags": flags}, retval=retval
    )


def dns_event(c: ContainerInfo, name: str, proc: ProcessInfo | None = None) -> Event:
    proc = proc or process("/usr/bin/getent")
    qname = name if name.endswith(".") else name + "."
    return _event(
        Operation.NETWORK,
        "sendto",
        c,
        proc,
        resource=qname,
        data={
            "fd": "3",
            "qname": qname,
            "qtype": "A",
            "sa_family": "AF_INET",
            "sin_port": "53",
            "sin_addr": "10.43.0.10",
        },
    )


def connect_event(
    c: ContainerInfo, address: str, port: int, proc: ProcessInfo | None = None, retval: int = 0
) -> Event:
    proc = proc or process("/usr/bin/nc")
    fields = {"sa_family": "AF_INET", "sin_port": str(port), "sin_addr": address}
    return _event(
        Operation.NETWORK,
        "connect",
        c,
        proc,
        retval=retval,
        resource=" ".join(f"{k}={v}" for k, v in fields.items()),
        data={"fd": "3", **fields},
    )


def capability_event(c: ContainerInfo, cap: str, proc: ProcessInfo | None = None) -> Event:
    proc = proc or process("/bin/ping")
    return _event(Operation.CAPABILITY, "cap_capable", c, proc, resource=cap, data={"capability": cap})


def syscall_event(
    c: ContainerInfo, name: str, proc: ProcessInfo | None = None, retval: int = 0, **data: str
) -> Event:
    proc = proc or process("/usr/bin/perl")
    return _event(Operation.SYSCALL, name, c, proc, retval=retval, data=dict(data))


def symlink_event(c: ContainerInfo, target: str, link: str, proc: ProcessInfo | None = None) -> Event:
    proc = proc or process("/bin/ln")
    return _event(Operation.FILE, "symlinkat", c, proc, resource=link, data={"target": target})


def link_event(
    c: ContainerInfo, old: str, new: str, proc: ProcessInfo | None = None, retval: int = 0
) -> Event:
    proc = proc or process("/bin/ln")
    return _event(
        Operation.FILE, "linkat", c, proc, resource=old, data={"fd": "-100", "newpath": new}, retval=retval
    )
