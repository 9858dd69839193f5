"""Event builders and an engine factory shared by the policy tests.

Events are shaped exactly as the sensors decode them (see the issue's examples): exec has
the new executable as resource, open carries fd/flags, socket prints domain/type/protocol.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from beholder.events.interfaces import HostIdentity
from beholder.events.model import ContainerInfo, Event, Operation, ProcessInfo
from beholder.formats.kubearmor_in import with_facts
from beholder.policy import PolicyEngine

USER1 = 1000
# File owners the owner-only tests rely on (everything else is owned by root).
OWNERS = {
    "/home/user1/secret_data1.txt": USER1,
    "/home/user1/hello": USER1,
    "/home/user1/dir1/key1.txt": USER1,
}


def owner_of(_event: Event, path: str) -> int:
    return OWNERS.get(path, 0)


def container(name: str = "ubuntu-1", namespace: str = "multiubuntu", **labels: str) -> ContainerInfo:
    return ContainerInfo(container_id=f"id-{namespace}-{name}", name=name, namespace=namespace, labels=labels)


def _event(
    op: Operation, syscall: str, resource: str, exe: str, parent: str, uid: int, **kw: object
) -> Event:
    proc = ProcessInfo(pid=4242, ppid=4241, exe=exe, parent_exe=parent, uid=uid, cmdline=exe)
    data = kw.pop("data", None)
    return with_facts(
        Event(
            timestamp_ns=1,
            operation=op,
            syscall=syscall,
            retval=kw.pop("retval", 0),  # type: ignore[arg-type]
            host_pid=4242,
            host_tid=4242,
            uid=uid,
            gid=uid,
            comm=exe.rsplit("/", 1)[-1],
            cgroup_id=7,
            resource=resource,
            process=proc,
            **kw,  # type: ignore[arg-type]
        ),
        data,  # type: ignore[arg-type]
    )


@dataclass(frozen=True)
class Events:
    """Builders for the event kinds policies match."""

    def exec(
        self, path: str, parent: str = "/bin/bash", uid: int = 0, ctr: ContainerInfo | None = None
    ) -> Event:
        return _event(Operation.PROCESS, "execve", path, path, parent, uid, container=ctr, argv=(path,))

    def open(
        self,
        path: str,
        exe: str = "/bin/cat",
        flags: str = "O_RDONLY",
        uid: int = 0,
        ctr: ContainerInfo | None = None,
        retval: int = 3,
    ) -> Event:
        data = {"fd": "-100", "flags": flags}
        return _event(
            Operation.FILE, "openat", path, exe, "/bin/bash", uid, data=data, container=ctr, retval=retval
        )

    def socket(
        self,
        kind: str,
        protocol: int | str,
        exe: str,
        ctr: ContainerInfo | None = None,
        family: str = "AF_INET",
    ) -> Event:
        resource = f"domain={family} type={kind} protocol={protocol}"
        return _event(Operation.NETWORK, "socket", resource, exe, "/bin/bash", 0, container=ctr)

    def capability(self, name: str, exe: str, ctr: ContainerInfo | None = None) -> Event:
        data = {"capability": name}
        return _event(
            Operation.CAPABILITY, "cap_capable", name, exe, "/bin/bash", 0, data=data, container=ctr
        )

    def syscall(self, name: str, exe: str, resource: str = "", ctr: ContainerInfo | None = None) -> Event:
        return _event(
            Operation.SYSCALL, name, resource, exe, "/bin/bash", 0, data={"userid": "0"}, container=ctr
        )


@pytest.fixture
def ev() -> Events:
    return Events()


EngineFactory = Callable[..., PolicyEngine]


@pytest.fixture
def engine_from(tmp_path: Path) -> EngineFactory:
    """Build an engine from YAML texts or paths; fails the test on any load error."""

    def build(*sources: str | Path, host: str = "kubearmor-dev", **options: object) -> PolicyEngine:
        paths = []
        for i, src in enumerate(sources):
            if isinstance(src, Path):
                paths.append(src)
            else:
                path = tmp_path / f"policy-{i}.yaml"
                path.write_text(src)
                paths.append(path)
        options.setdefault("owner_of", owner_of)
        engine, errors = PolicyEngine.load(paths, HostIdentity(host), **options)
        assert errors == []
        return engine

    return build
