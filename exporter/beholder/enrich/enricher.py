"""The enrich stage: attach process and container identity to every event of a batch.

Process-changing events (fork, exec, exit, chdir) update the tree first, so the events
after them in the same batch already see the new state. Then every record gets its
process's stable identity and span ids (`otel.traces.ProcessSpans`), traces exported or
not. Relative file paths are made absolute against the process's cwd here, once, for every
consumer downstream.
"""

from __future__ import annotations

import os
from dataclasses import replace

from beholder.enrich.cgroup_name import CgroupNames
from beholder.enrich.containers import ContainerRegistry
from beholder.enrich.process_tree import ProcessTree, ns_ppid_of, read_proc, resolve_path
from beholder.events import Event, Operation, ProcessInfo, kinds
from beholder.events.decoding import AT_FDCWD
from beholder.events.facts import Credentials, Exec, FileAccess, Fork
from beholder.otel.traces import ProcessSpans
from beholder.redact import Redactor

_EXECS = frozenset({"execve", "execveat"})
_FD_IS_TARGET = ("fchmod", "fchown", "fchdir")  # fd names the file itself, not a directory


def _relative(path: str) -> bool:
    return bool(path) and path[0] != "/"


class Enricher:
    def __init__(
        self,
        tree: ProcessTree | None = None,
        containers: ContainerRegistry | None = None,
        redactor: Redactor | None = None,
        spans: ProcessSpans | None = None,
    ) -> None:
        self.tree = tree or ProcessTree()
        self.spans = spans or ProcessSpans(export=False)  # a trace sink turns export on
        self.containers = containers or ContainerRegistry()
        self.cgroups = CgroupNames(self.containers.paths, self.tree.proc)
        self.redactor = redactor
        self.unattributed = 0  # events of a container cgroup that vanished before it was named
        if redactor is not None:  # every command line the tree learns, from any source
            self.tree.redact = redactor.redact_cmdline

    def start(self) -> int:
        """Load the processes already running; their containers resolve lazily."""
        return self.tree.bootstrap()

    def enrich(self, events: list[Event]) -> None:
        tree = self.tree
        vanished = self.containers.vanished
        for ev in events:
            op = ev.operation
            if op is Operation.PROCESS:
                proc = self._process_event(ev)
            else:
                proc = tree.get(ev.host_pid, ev)
                if op is Operation.FILE:
                    self._file_event(ev, proc.cwd)
                elif op is Operation.SYSCALL and ev.retval == 0 and isinstance(ev.facts, Credentials):
                    proc = tree.on_credentials(ev.host_pid, ev.syscall, ev.facts)
            if ev.cgroup_id != proc.cgroup_id:  # once per process and cgroup, not per event
                proc.cgroup_id = ev.cgroup_id
                proc.container = self.containers.resolve(ev.host_pid, ev.cgroup_id)
                proc.cgroup = self.cgroups.name(ev.cgroup_id, ev.host_pid)
            if ev.ns_pid and ev.ns_pid != proc.ns_pid:
                self._learn_ns_pid(proc, ev.ns_pid)
            # an exec's event keeps the process as this exec left it: a wrapper that execs its
            # successor within microseconds (pg_wrapper, docker-entrypoint scripts) shares the
            # pid, and rules read the batch after the successor's exec updated the tree
            ev.process = replace(proc) if op is Operation.PROCESS and ev.syscall in _EXECS else proc
            ev.container = proc.container
            if proc.container is None and ev.cgroup_id in vanished:
                self.unattributed += 1
        self.spans.observe(events)
        tree.reap()

    def _learn_ns_pid(self, proc: ProcessInfo, ns_pid: int) -> None:
        """The kernel told us the namespace pid; the parent's follows from the parent's own
        (not from its container: runc's late cgroup move may attribute the two differently)."""
        proc.ns_pid = ns_pid
        proc.ns_ppid = ns_ppid_of(proc, self.tree.processes.get(proc.ppid))

    def _process_event(self, ev: Event) -> ProcessInfo:
        tree = self.tree
        kind = ev.kind
        if kind == kinds.PROCESS_FORK:
            fork = ev.facts
            assert isinstance(fork, Fork)
            tree.on_fork(fork.parent_pid, fork.child_pid, ev)
            return tree.get(fork.parent_pid, ev)
        if kind == kinds.PROCESS_EXIT:
            proc = tree.get(ev.host_pid, ev)
            tree.on_exit(ev.host_pid)
            return proc
        if self.redactor is not None:  # once per exec: secrets never reach a sink or a rule
            self._redact(ev)
        if isinstance(ev.facts, Exec):
            ev.facts.caller = self._caller(ev.host_pid)
        if ev.retval == 0:  # a successful exec: new program, maybe a new container
            proc = tree.on_exec(ev)
            proc.container = self.containers.resolve(ev.host_pid, ev.cgroup_id) or proc.container
            if ev.cgroup_id != proc.cgroup_id:
                proc.cgroup_id = ev.cgroup_id
                proc.cgroup = self.cgroups.name(ev.cgroup_id, ev.host_pid)
            self._exec_path(ev, proc.exe)
            return proc
        proc = tree.get(ev.host_pid, ev)
        self._exec_path(ev, resolve_path(ev.resource, proc.cwd))
        return proc

    @staticmethod
    def _exec_path(ev: Event, path: str) -> None:
        ev.resource = path
        if isinstance(ev.facts, Exec):
            ev.facts.path = path

    def _caller(self, pid: int) -> str:
        """The binary that called exec: the process's image until now, as the tree knew it.

        A process first seen at its exec (started before the agent, or outside its view)
        has no known image: its parent's, read from /proc now if need be, is the best
        witness (a fork that execs has its parent's image until the exec).
        """
        known = self.tree.processes.get(pid)
        if known is not None and known.exe:
            return known.exe
        live = read_proc(pid, self.tree.proc)
        return self.tree.get(live.ppid).exe if live is not None and live.ppid > 0 else ""

    def _redact(self, ev: Event) -> None:
        argv = self.redactor.redact_argv(ev.argv)  # type: ignore[union-attr]
        if argv is not ev.argv:
            ev.argv = argv

    def _file_event(self, ev: Event, cwd: str) -> None:
        """Make every path of a file event absolute, as KubeArmor does and OTel's `file.path` means.

        A path is relative to the *at() call's directory fd, else to the cwd; when neither can
        be known (the process is gone) it is joined with the cwd /proc still shows, or with "/".
        """
        access = ev.facts
        if not isinstance(access, FileAccess):
            return
        if _relative(access.path) or _relative(access.new_path) or _relative(access.target):
            base = self._base(ev, access, cwd)  # looked up only when a path needs it
            access.path = resolve_path(access.path, base)
            access.new_path = resolve_path(access.new_path, base)
            access.target = resolve_path(access.target, base)
        path = ev.resource = access.path
        if ev.kind == kinds.FILE_CHDIR and ev.retval == 0:
            self.tree.on_chdir(ev.host_pid, path)

    def _base(self, ev: Event, access: FileAccess, cwd: str) -> str:
        """The directory relative paths of this call start from (see `_file_event`)."""
        dirfd = access.dirfd
        base = ""
        if dirfd is not None and dirfd != AT_FDCWD and ev.syscall not in _FD_IS_TARGET:
            base = self._dirfd_path(ev.host_pid, dirfd)
        return base or cwd or self.tree.live_cwd(ev.host_pid) or "/"

    def _dirfd_path(self, pid: int, fd: int) -> str:
        """Directory an *at() call was relative to (racy by nature: best effort)."""
        try:
            return os.readlink(self.tree.proc / str(pid) / "fd" / str(fd))
        except OSError:
            return ""
