"""The process tree follows fork, exec, chdir and exit events without racing /proc."""

from __future__ import annotations

from pathlib import Path

from beholder.enrich.enricher import Enricher
from beholder.enrich.process_tree import ProcessTree
from beholder.events import Event, Operation


def event(op: Operation, syscall: str, pid: int, resource: str = "", **data: str) -> Event:
    return Event(1, op, syscall, 0, pid, pid, 0, 0, "comm", 7, resource=resource, data=dict(data))


def fake_proc(root: Path, pid: int, ppid: int, exe: str, cwd: str) -> None:
    base = root / str(pid)
    base.mkdir(parents=True)
    (base / "status").write_text(f"Name:\tx\nPPid:\t{ppid}\nUid:\t0 0 0 0\nGid:\t0 0 0 0\nNSpid:\t{pid}\n")
    (base / "exe").symlink_to(exe)
    (base / "cwd").symlink_to(cwd)
    (base / "cmdline").write_bytes(exe.encode() + b"\0")


def test_fork_exec_chdir_exit(tmp_path: Path) -> None:
    fake_proc(tmp_path, 100, 1, "/usr/bin/bash", "/home")
    tree = ProcessTree(proc=tmp_path)
    enricher = Enricher(tree=tree)
    enricher.containers.proc = tmp_path
    tree.bootstrap()
    fork = event(Operation.PROCESS, "fork", 100, "101", parent_pid="100", child_pid="101")
    chdir = event(Operation.FILE, "chdir", 101, "/srv")
    exe = Event(
        2, Operation.PROCESS, "execve", 0, 101, 101, 0, 0, "cat", 7, resource="bin/cat", argv=("cat", "x")
    )
    opened = event(Operation.FILE, "openat", 101, "x", fd="-100", flags="O_RDONLY")
    enricher.enrich([fork, chdir, exe, opened])
    child = tree.processes[101]
    assert child.ppid == 100 and child.parent_exe == "/usr/bin/bash"
    assert child.cwd == "/srv"
    assert child.exe == "/srv/bin/cat" and child.cmdline == "cat x"
    assert opened.resource == "/srv/x"
    assert opened.process is child and exe.process is child


def test_reexec_of_proc_self_exe_keeps_the_binary(tmp_path: Path) -> None:
    tree = ProcessTree(proc=tmp_path)
    enricher = Enricher(tree=tree)
    enricher.containers.proc = tmp_path
    first = Event(
        1, Operation.PROCESS, "execve", 0, 5, 5, 0, 0, "sh", 1, resource="/bin/busybox", argv=("sh",)
    )
    again = Event(
        2, Operation.PROCESS, "execve", 0, 5, 5, 0, 0, "ls", 1, resource="/proc/self/exe", argv=("ls",)
    )
    enricher.enrich([first, again])
    assert tree.processes[5].exe == "/bin/busybox"
    assert tree.processes[5].cmdline == "ls"


def test_exited_processes_are_reaped_after_the_grace_period(tmp_path: Path) -> None:
    tree = ProcessTree(proc=tmp_path)
    tree.get(9)
    tree.on_exit(9)
    assert 9 in tree.processes
    assert tree.reap(now=10**9) == 1 and 9 not in tree.processes


def test_tree_is_bounded(tmp_path: Path) -> None:
    tree = ProcessTree(max_size=100, proc=tmp_path)
    for pid in range(1, 1000):
        tree.get(pid)
    assert len(tree.processes) <= 100
