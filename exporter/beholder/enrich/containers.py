"""One shared `ContainerInfo` per container, found from the cgroup id its events carry.

The event's cgroup v2 id names the cgroup directory itself (`CgroupPaths`): its path gives
the container id, with no live process needed, so the events of a container whose
processes have all exited are still its own. Hosts without that lookup (no
CAP_DAC_READ_SEARCH, v1-only containers on hybrid hosts) go through /proc/<pid>/cgroup
when a process is new, execs or changes cgroup. Either way the id → container answer is
cached. Container events whose cgroup had vanished before any lookup are counted
(`unattributed`), never silently made host events.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

from beholder.enrich.cgroup import CgroupIdentity, parse_cgroup_path, parse_proc_cgroup
from beholder.enrich.cgroup_path import CgroupPaths
from beholder.enrich.runtimes import guess_runtime, runc_container_of
from beholder.events import ContainerInfo

PROC = Path("/proc")
_LEADING_PARENTS = re.compile(r"^(?:/\.\.)+(?=/|$)")
CGROUP2_ROOTS = ("/sys/fs/cgroup/unified", "/sys/fs/cgroup")  # hybrid hosts first, then pure v2


def container_of(path: str) -> CgroupIdentity | None:
    """The container a cgroup path names: a runtime's id spelling, else a runc container's
    name from runc's own state (`runc run web`)."""
    identity = parse_cgroup_path(path)
    if identity is None:
        name = runc_container_of(_LEADING_PARENTS.sub("", path) or "/")
        identity = CgroupIdentity(name, "runc", "") if name else None
    return identity


class ContainerRegistry:
    def __init__(
        self, proc: Path = PROC, max_size: int = 16384, cgroup_roots: tuple[str, ...] = CGROUP2_ROOTS
    ) -> None:
        self.proc = proc
        self.cgroup_roots = cgroup_roots
        self.max_size = max_size
        self.by_id: dict[str, ContainerInfo] = {}
        self.by_cgroup: dict[int, ContainerInfo] = {}
        self.on_new: list[Callable[[ContainerInfo], None]] = []
        self.on_cgroup: list[Callable[[int, int], object]] = []  # (cgroup id, a live pid in it)
        self._announced: set[int] = set()
        self.paths = CgroupPaths(cgroup_roots)
        self._plain: set[int] = set()  # cgroup ids whose path names no container (host cgroups)
        self.vanished: set[int] = set()  # cgroup ids gone before they could be looked up

    def _info(self, identity: CgroupIdentity, pid: int, retry: bool = True) -> ContainerInfo:
        """The container's one `ContainerInfo`; its runtime is guessed once when it is new
        (before `on_new` sees it) and, with `retry`, again on a later lookup while unknown."""
        info = self.by_id.get(identity.container_id)
        if info is None:
            if len(self.by_id) >= self.max_size:
                self.by_id.pop(next(iter(self.by_id)))
            info = ContainerInfo(identity.container_id, runtime=identity.runtime, pod_uid=identity.pod_uid)
            self._fill_runtime(info, pid)
            self.by_id[identity.container_id] = info
            for callback in self.on_new:
                callback(info)
        elif retry:
            self._fill_runtime(info, pid)
        return info

    def _fill_runtime(self, info: ContainerInfo, pid: int) -> None:
        """A runtime the cgroup path does not name, from the process (retried while unknown:
        the first process seen may already be reparented, or runc's state not yet written)."""
        if not info.runtime:
            info.runtime = guess_runtime(pid, info.container_id, self.proc)

    def _cgroup_inode(self, path: str) -> int:
        """cgroup v2 ids are the inode numbers of the cgroup directories.

        In a pod with its own cgroup namespace (a DaemonSet), paths read as `/../../kubepods/…`:
        relative to the agent's own cgroup, whose depth the `..`s climb back to the root.
        """
        path = _LEADING_PARENTS.sub("", path) or "/"
        for root in self.cgroup_roots:
            try:
                return os.stat(root + path).st_ino
            except OSError:
                continue
        return 0

    def resolve(self, pid: int, cgroup_id: int) -> ContainerInfo | None:
        """The container a process was in when it raised an event of cgroup `cgroup_id`."""
        if cgroup_id and cgroup_id not in self._plain:
            info = self._from_cgroup_id(cgroup_id, pid)
            if info is not None:
                self._remember(cgroup_id, info, pid)
                return info
        try:
            text = (self.proc / str(pid) / "cgroup").read_text()
        except OSError:
            found = self.by_cgroup.get(cgroup_id)
            if found is None and cgroup_id and cgroup_id not in self._plain:
                self._bounded_add(self.vanished, cgroup_id)
            return found
        unified = next((line[3:] for line in text.splitlines() if line.startswith("0::")), "")
        identity = parse_proc_cgroup(text) or (container_of(unified) if unified else None)
        if identity is None:
            if cgroup_id and self._cgroup_inode(unified) == cgroup_id:
                self._bounded_add(self._plain, cgroup_id)  # the event's own cgroup: a host one
            return None
        if container_of(unified) != identity or not cgroup_id:
            # v1-only container (hybrid host): nothing to verify
            return self._info(identity, pid, retry=False)
        if self._cgroup_inode(unified) != cgroup_id:
            # The event predates the move into the container's cgroup (runc init joins late):
            # it happened outside the container.
            return self.by_cgroup.get(cgroup_id)
        info = self._info(identity, pid)
        self._remember(cgroup_id, info, pid, unified)
        return info

    def _cgroup_dir(self, cgroup_id: int, proc_path: str) -> str:
        """The container's cgroup directory (ownerOnly lists its cgroup.procs): named by the
        cgroup id its events carry, as attribution names it; /proc's path only where the id
        lookup is unavailable."""
        found = self.paths.path(cgroup_id) if self.paths.available else None
        if found is not None:
            return self.paths.root + found
        if not proc_path:
            return ""  # gone before it could be named: never the root's (every process)
        path = _LEADING_PARENTS.sub("", proc_path) or "/"
        return next((root + path for root in self.cgroup_roots if os.path.isdir(root + path)), "")

    def _from_cgroup_id(self, cgroup_id: int, pid: int) -> ContainerInfo | None:
        """The container named by the cgroup's own path; None for host cgroups and unknowns."""
        info = self.by_cgroup.get(cgroup_id)
        if info is not None:
            self._fill_runtime(info, pid)
            return info
        if not self.paths.available:
            return None
        path = self.paths.path(cgroup_id)
        if path is None:
            return None
        identity = container_of(path)
        if identity is None:
            self._bounded_add(self._plain, cgroup_id)
            return None
        return self._info(identity, pid)

    def _remember(self, cgroup_id: int, info: ContainerInfo, pid: int, proc_path: str = "") -> None:
        if not info.cgroup_dir:
            info.cgroup_dir = self._cgroup_dir(cgroup_id, proc_path)
        if self.by_cgroup.get(cgroup_id) is not info:
            if len(self.by_cgroup) >= self.max_size:
                self.by_cgroup.pop(next(iter(self.by_cgroup)))
            self.by_cgroup[cgroup_id] = info
        if cgroup_id not in self._announced:
            # a callback returning False (pid namespace not entered yet) is retried later
            results = [callback(cgroup_id, pid) for callback in self.on_cgroup]
            if all(result is not False for result in results):
                self._announced.add(cgroup_id)

    def classification(self, cgroup_id: int, pid: int) -> tuple[bool, ContainerInfo | None]:
        """(known, container) for a cgroup `pid` raised events in: a container's cgroup, a
        host cgroup (None), or not known yet (looked up now when it was never looked up)."""
        info = self.by_cgroup.get(cgroup_id)
        if info is None and cgroup_id not in self._plain:
            info = self.resolve(pid, cgroup_id)
        if info is not None:
            return True, info
        return cgroup_id in self._plain, None

    def _bounded_add(self, ids: set[int], cgroup_id: int) -> None:
        if len(ids) >= self.max_size:
            ids.clear()  # ids are never reused: forgetting old ones only costs a lookup
        ids.add(cgroup_id)
