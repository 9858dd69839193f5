"""The process tree: who is this pid, who is its parent, what does it run, where.

Built from /proc once at start, then kept current by the kernel's fork, exec, exit and
chdir events, so lookups on the hot path are dict reads. /proc is read only when a
process is new to us (exec, or a pid seen for the first time), never per event.
"""

from __future__ import annotations

import os
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TypeVar

from beholder.events import Event, ProcessInfo
from beholder.events.facts import Credentials

PROC = Path("/proc")
T = TypeVar("T", int, int | None)
DEAD_GRACE_S = 5.0  # late events of an exited process still find it


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="backslashreplace")
    except OSError:
        return ""


def _readlink(path: Path) -> str:
    try:
        return os.readlink(path)
    except OSError:
        return ""


def read_proc(pid: int, proc: Path = PROC) -> ProcessInfo | None:
    """Snapshot one live process from /proc; None when it is already gone."""
    base = proc / str(pid)
    status = _read(base / "status")
    if not status:
        return None
    info = ProcessInfo(pid=pid)
    for line in status.splitlines():
        key, _, value = line.partition(":")
        value = value.strip()
        if key == "Name":
            info.comm = value
        elif key == "PPid":
            info.ppid = int(value)
        elif key == "Uid":  # real, effective, saved, filesystem
            ids = value.split()
            info.uid, info.euid = int(ids[0]), int(ids[1])
        elif key == "Gid":
            info.gid = int(value.split()[0])
        elif key == "NSpid":
            info.ns_pid = int(value.split()[-1])
    tty = _controlling_tty(_read(base / "stat"))
    info.interactive = None if tty is None else tty != 0
    info.exe = _readlink(base / "exe").removesuffix(" (deleted)")
    info.cwd = _readlink(base / "cwd")
    info.cmdline = _read(base / "cmdline").rstrip("\0").replace("\0", " ")
    return info


def _controlling_tty(stat: str) -> int | None:
    """Field 7 of /proc/<pid>/stat (tty_nr: the controlling terminal, 0 for none)."""
    fields = stat.rpartition(")")[2].split()
    return int(fields[4]) if len(fields) > 4 else None


def _changed(current: T, asked: int | None) -> T | int:
    """An id after a set*id call: `asked` unless the call left it alone (None or -1)."""
    return current if asked is None or asked < 0 else asked


def _names_no_file(path: str) -> bool:
    """Exec paths that name a descriptor or a magic link rather than a file."""
    return not path.startswith("/") or path.startswith(("/proc/", "/dev/fd/"))


def _runc_copy(exe: str, previous: str, argv: tuple[str, ...]) -> bool:
    """`runc init` run from the sealed memfd copy runc makes of its own binary
    (`/memfd:runc_cloned:/proc/self/exe`; an empty name or `/` when the process was gone
    before /proc was read). Only runc re-executing itself as `runc init` qualifies: any other
    exec from a memfd (fileless malware) keeps the name that shows it."""
    in_memory = _names_no_file(exe) or exe == "/" or exe.startswith("/memfd:runc_cloned:")
    return in_memory and os.path.basename(previous) == "runc" and argv[:2] == ("runc", "init")


def resolve_path(path: str, cwd: str) -> str:
    """Absolute, normalised form of a path a process passed relative to its cwd."""
    if not path or path.startswith("/"):
        return path
    if not cwd:
        return path
    return os.path.normpath(os.path.join(cwd, path))


def ns_ppid_of(info: ProcessInfo, parent: ProcessInfo | None) -> int:
    """The parent's pid as the process's own pid namespace sees it (KubeArmor's `PPID`).

    A container's first process (pid 1 inside) has its parent outside the namespace,
    where it has no number: 0, as KubeArmor reports it.
    """
    if info.ns_pid == info.pid:  # the host's namespace (or not known to differ)
        return info.ppid
    if info.ns_pid == 1 or parent is None or parent.ns_pid == parent.pid:
        return 0
    return parent.ns_pid


class ProcessTree:
    """pid -> ProcessInfo, bounded; exited processes linger briefly for late events."""

    # A node runs a few thousand processes; the bound matters when exits are lost (an overloaded
    # ring buffer drops them too), so the tree cannot grow with the churn.
    def __init__(self, max_size: int = 16384, proc: Path = PROC) -> None:
        self.proc = proc
        self.max_size = max_size
        self.processes: dict[int, ProcessInfo] = {}
        self._dead: OrderedDict[int, float] = OrderedDict()
        # Applied to every command line read from /proc, whichever path reads it (the
        # enricher sets the redactor here), so no unredacted text enters the tree.
        self.redact: Callable[[str], str] | None = None

    def _read_proc(self, pid: int) -> ProcessInfo | None:
        info = read_proc(pid, self.proc)
        if info is not None and self.redact is not None and info.cmdline:
            info.cmdline = self.redact(info.cmdline)
        return info

    def live_cwd(self, pid: int) -> str:
        """The process's cwd as /proc shows it now ("" when it is gone)."""
        return _readlink(self.proc / str(pid) / "cwd")

    def bootstrap(self) -> int:
        """Load every live process; returns how many were found."""
        for entry in self.proc.iterdir():
            if entry.name.isdigit():
                info = self._read_proc(int(entry.name))
                if info:
                    self.processes[info.pid] = info
        for info in self.processes.values():
            parent = self.processes.get(info.ppid)
            info.parent_exe = parent.exe if parent else ""
            info.ns_ppid = ns_ppid_of(info, parent)
        return len(self.processes)

    def get(self, pid: int, event: Event | None = None) -> ProcessInfo:
        """The process, learning it from /proc (or the event alone) on first sight."""
        info = self.processes.get(pid)
        if info is None:
            info = self._read_proc(pid) or ProcessInfo(pid=pid, ns_pid=pid)
            if event is not None and not info.comm:
                info.comm, info.uid, info.gid = event.comm, event.uid, event.gid
            self._link_parent(info)
            self._store(info)
        return info

    def _link_parent(self, info: ProcessInfo) -> None:
        parent = self.processes.get(info.ppid)
        if (parent is None or not parent.exe) and info.ppid > 0:
            # A parent the tree never learned (it appeared between the probes' attach and the
            # bootstrap, or was evicted): /proc still knows it while its child lives.
            known = self._read_proc(info.ppid)
            if known is not None and known.exe and (parent is None or known.ppid == parent.ppid):
                parent = parent or known
                parent.exe = known.exe
                self._store(parent)
        if parent is not None:
            info.parent_exe = parent.exe
            info.ns_ppid = ns_ppid_of(info, parent)
        elif info.ns_pid == 1 and info.pid != 1:
            info.ns_ppid = 0
        else:
            info.ns_ppid = info.ns_ppid or info.ppid

    def _store(self, info: ProcessInfo) -> None:
        self._dead.pop(info.pid, None)  # a reused pid is a new, live process
        if len(self.processes) >= self.max_size:
            self._evict()
        self.processes[info.pid] = info

    def _evict(self) -> None:
        """Drop exited processes first, then the oldest-inserted ones."""
        while self._dead and len(self.processes) >= self.max_size:
            pid, _ = self._dead.popitem(last=False)
            self.processes.pop(pid, None)
        while len(self.processes) >= self.max_size:
            self.processes.pop(next(iter(self.processes)))

    # --- kernel events that change the tree ---------------------------------------
    def on_fork(self, parent_pid: int, child_pid: int, event: Event) -> ProcessInfo:
        parent = self.get(parent_pid, event)
        child = ProcessInfo(
            pid=child_pid,
            ppid=parent_pid,
            comm=parent.comm,
            exe=parent.exe,
            cmdline=parent.cmdline,
            parent_exe=parent.exe,
            cwd=parent.cwd,
            uid=parent.uid,
            gid=parent.gid,
            euid=parent.euid,
            interactive=parent.interactive,
            start_ns=event.timestamp_ns,
            cgroup_id=parent.cgroup_id,
            cgroup=parent.cgroup,
        )
        if parent.ns_pid == parent.pid:
            child.ns_pid, child.ns_ppid = child_pid, parent_pid
        else:  # in a pid namespace: the child's first event carries its inner pid
            child.ns_ppid = parent.ns_pid
        child.container = parent.container
        self._store(child)
        return child

    def on_exec(self, event: Event) -> ProcessInfo:
        info = self.processes.get(event.host_pid)
        if info is None:
            info = self.get(event.host_pid, event)
        previous = info.exe
        info.exe = resolve_path(event.resource, info.cwd)
        if info.exe in ("/proc/self/exe", f"/proc/{event.host_pid}/exe") and previous:
            info.exe = previous  # re-exec of itself (runc init, busybox applets)
        info.comm = event.comm
        info.uid, info.gid = event.uid, event.gid
        info.start_ns = info.start_ns or event.timestamp_ns
        fresh = self._read_proc(event.host_pid)
        if fresh is not None and fresh.exe and _names_no_file(info.exe):
            # execveat(fd, "", AT_EMPTY_PATH) or /proc/self/exe (runc, busybox applets):
            # the file itself is only known to the live process.
            info.exe = fresh.exe
        if _runc_copy(info.exe, previous, event.argv):
            # runc re-executes a sealed in-memory copy of itself (`runc init`, which starts
            # every container process and `runc exec`): it has no path, runc's is named
            info.exe = previous
        if event.argv:
            info.cmdline = " ".join(event.argv)
        else:  # the kernel could not read argv (page not yet faulted in): ask /proc
            info.cmdline = fresh.cmdline if fresh is not None and fresh.cmdline else info.exe
        if fresh is not None:
            info.ns_pid = fresh.ns_pid
            info.euid = fresh.euid  # a set-user-ID program changes it here
            info.interactive = fresh.interactive
            info.cwd = fresh.cwd or info.cwd
            if fresh.ppid and fresh.ppid != info.ppid:
                info.ppid = fresh.ppid
            self._link_parent(info)
        return info

    def on_credentials(self, pid: int, syscall: str, change: Credentials) -> ProcessInfo:
        """Follow a successful set*uid/set*gid: the ids it set (-1 or None leaves one as it was).

        The process gets a new `ProcessInfo` (the tree's from now on), so the records before
        the call, encoded later, keep the ids they were made with. setuid/setgid set the
        effective id, and the real one too when the caller is root; setfs*id changes neither
        id the tree keeps.
        """
        info = self.get(pid)
        new = replace(info)
        if change.group:
            privileged = syscall != "setgid" or info.euid == 0
            new.gid = _changed(new.gid, change.gid if privileged else None)
        elif syscall == "setuid":
            new.uid = _changed(new.uid, change.uid if info.euid == 0 else None)
            new.euid = _changed(new.euid, change.uid)
        else:
            new.uid, new.euid = _changed(new.uid, change.uid), _changed(new.euid, change.euid)
        if (new.uid, new.euid, new.gid) == (info.uid, info.euid, info.gid):
            return info
        self.processes[pid] = new
        return new

    def on_exit(self, pid: int) -> None:
        if pid in self.processes:
            self._dead[pid] = time.monotonic()

    def on_chdir(self, pid: int, path: str) -> None:
        """Follow a successful chdir: the path it was given, already made absolute."""
        info = self.processes.get(pid)
        if info is not None and path.startswith("/"):
            info.cwd = os.path.normpath(path)
        elif info is not None:  # fchdir: only the live process can tell
            info.cwd = _readlink(self.proc / str(pid) / "cwd") or info.cwd

    def reap(self, now: float | None = None) -> int:
        """Forget processes that exited more than the grace period ago."""
        now = time.monotonic() if now is None else now
        removed = 0
        while self._dead:
            pid, when = next(iter(self._dead.items()))
            if now - when < DEAD_GRACE_S:
                break
            self._dead.popitem(last=False)
            self.processes.pop(pid, None)
            removed += 1
        return removed
