"""The enrich stage: attach process and container identity to every event of a batch.

Process-changing events (fork, exec, exit, chdir) update the tree first, so the events
after them in the same batch already see the new state. Relative file paths are made
absolute against the process's cwd here, once, for every consumer downstream.
"""

from __future__ import annotations

import os

from beholder.enrich.containers import ContainerRegistry
from beholder.enrich.process_tree import ProcessTree, resolve_path
from beholder.events import Event, Operation, ProcessInfo
from beholder.redact import Redactor

_RELATIVE_FILE_KEYS = ("newpath", "target")
_FD_IS_TARGET = ("fchmod", "fchown", "fchdir")  # fd names the file itself, not a directory


class Enricher:
    def __init__(
        self,
        tree: ProcessTree | None = None,
        containers: ContainerRegistry | None = None,
        redactor: Redactor | None = None,
    ) -> None:
        self.tree = tree or ProcessTree()
        self.containers = containers or ContainerRegistry()
        self.redactor = redactor

    def start(self) -> int:
        """Load the processes already running; their containers resolve lazily."""
        found = self.tree.bootstrap()
        if self.redactor is not None:
            for info in self.tree.processes.values():
                info.cmdline = self.redactor.redact_cmdline(info.cmdline)
        return found

    def enrich(self, events: list[Event]) -> None:
        tree = self.tree
        for ev in events:
            op = ev.operation
            if op is Operation.PROCESS:
                proc = self._process_event(ev)
            else:
                proc = tree.get(ev.host_pid, ev)
                if op is Operation.FILE:
                    self._file_event(ev, proc.cwd)
            if ev.cgroup_id != proc.cgroup_id:
                proc.cgroup_id = ev.cgroup_id
                proc.container = self.containers.resolve(ev.host_pid, ev.cgroup_id)
            if ev.ns_pid and ev.ns_pid != proc.ns_pid:
                self._learn_ns_pid(proc, ev.ns_pid)
            ev.process = proc
            ev.container = proc.container
        tree.reap()

    def _learn_ns_pid(self, proc: ProcessInfo, ns_pid: int) -> None:
        """The kernel told us the namespace pid; the parent's is ns_ppid if it shares the container."""
        proc.ns_pid = ns_pid
        parent = self.tree.processes.get(proc.ppid)
        same = parent is not None and parent.container is proc.container
        proc.ns_ppid = parent.ns_pid if same and parent is not None else proc.ppid

    def _process_event(self, ev: Event) -> ProcessInfo:
        tree = self.tree
        if ev.syscall == "fork":
            parent, child = int(ev.data["parent_pid"]), int(ev.data["child_pid"])
            tree.on_fork(parent, child, ev)
            return tree.get(parent, ev)
        if ev.syscall == "exit":
            proc = tree.get(ev.host_pid, ev)
            tree.on_exit(ev.host_pid)
            return proc
        if self.redactor is not None:  # once per exec: secrets never reach a sink or a rule
            self._redact(ev)
        if ev.retval == 0:  # a successful exec: new program, maybe a new container
            proc = tree.on_exec(ev)
            proc.container = self.containers.resolve(ev.host_pid, ev.cgroup_id) or proc.container
            proc.cgroup_id = ev.cgroup_id
            ev.resource = proc.exe
            return proc
        proc = tree.get(ev.host_pid, ev)
        ev.resource = resolve_path(ev.resource, proc.cwd)
        return proc

    def _redact(self, ev: Event) -> None:
        argv = self.redactor.redact_argv(ev.argv)  # type: ignore[union-attr]
        if argv is not ev.argv:
            ev.argv = argv
            ev.data["argv"] = " ".join(argv[1:])

    def _file_event(self, ev: Event, cwd: str) -> None:
        fd = ev.data.get("fd", "-100")
        base = cwd if fd == "-100" or ev.syscall in _FD_IS_TARGET else self._dirfd_path(ev.host_pid, fd)
        ev.resource = resolve_path(ev.resource, base)
        for key in _RELATIVE_FILE_KEYS:
            if key in ev.data:
                ev.data[key] = resolve_path(ev.data[key], base)
        if ev.syscall in ("chdir", "fchdir") and ev.retval == 0:
            self.tree.on_chdir(ev.host_pid, ev.resource)

    def _dirfd_path(self, pid: int, fd: str) -> str:
        """Directory an *at() call was relative to (racy by nature: best effort)."""
        try:
            return os.readlink(self.tree.proc / str(pid) / "fd" / fd)
        except OSError:
            return ""
