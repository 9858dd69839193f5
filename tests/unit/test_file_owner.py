"""ownerOnly needs the file's owner as the process saw it, also once that process has exited."""

from __future__ import annotations

import os
from pathlib import Path

from beholder.events import ContainerInfo, Event, Operation
from beholder.policy.evaluate import FileOwners

USER1 = 1000


def _open(pid: int, path: str, container: ContainerInfo | None) -> Event:
    return Event(1, Operation.FILE, "openat", 3, pid, pid, 0, 0, "cat", 7, resource=path, container=container)


def _container_root(tmp_path: Path, member: int) -> tuple[Path, ContainerInfo]:
    """A fake /proc whose `member` has the container's rootfs as root; its cgroup lists it."""
    rootfs = tmp_path / "rootfs"
    secret = rootfs / "home" / "user1" / "secret_data1.txt"
    secret.parent.mkdir(parents=True)
    secret.write_text("secret file user1\n")
    os.chown(secret, USER1, USER1)
    proc = tmp_path / "proc"
    (proc / str(member)).mkdir(parents=True)
    (proc / str(member) / "root").symlink_to(rootfs)
    cgroup = tmp_path / "cgroup"
    cgroup.mkdir()
    (cgroup / "cgroup.procs").write_text(f"{member}\n")
    return proc, ContainerInfo("c1", cgroup_dir=str(cgroup))


def test_owner_is_read_through_the_container_when_the_process_is_gone(tmp_path: Path) -> None:
    proc, container = _container_root(tmp_path, member=300)
    owners = FileOwners(proc)
    gone = _open(999, "/home/user1/secret_data1.txt", container)  # /proc/999 does not exist
    assert owners(gone, "/home/user1/secret_data1.txt") == USER1


def test_the_process_own_root_comes_first(tmp_path: Path) -> None:
    proc, container = _container_root(tmp_path, member=300)
    other = tmp_path / "other-root" / "home" / "user1"
    other.mkdir(parents=True)
    (other / "secret_data1.txt").write_text("x")  # owned by root in this process's view
    (proc / "301").mkdir()
    (proc / "301" / "root").symlink_to(tmp_path / "other-root")
    assert (
        FileOwners(proc)(
            _open(301, "/home/user1/secret_data1.txt", container), "/home/user1/secret_data1.txt"
        )
        == 0
    )


def test_nothing_left_of_the_container_means_unknown(tmp_path: Path) -> None:
    proc, container = _container_root(tmp_path, member=300)
    (Path(container.cgroup_dir) / "cgroup.procs").write_text("")
    assert (
        FileOwners(proc)(
            _open(999, "/home/user1/secret_data1.txt", container), "/home/user1/secret_data1.txt"
        )
        is None
    )
    unknown = ContainerInfo("c2")  # never resolved to a cgroup directory
    assert FileOwners(proc)(_open(999, "/x", unknown), "/x") is None


def test_a_host_event_reads_the_host_root(tmp_path: Path) -> None:
    owned = tmp_path / "owned"
    owned.write_text("x")
    os.chown(owned, USER1, USER1)
    assert FileOwners(tmp_path / "no-proc")(_open(999, str(owned), None), str(owned)) == USER1
