"""One shared `ContainerInfo` per container, found from the process's cgroups.

Lookups go through /proc/<pid>/cgroup only when a process is new, execs or changes
cgroup; the v2 cgroup id of a container is then cached so processes that are already
gone by the time we look (short-lived execs) still resolve.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

from beholder.enrich.cgroup import CgroupIdentity, parse_cgroup_path, parse_proc_cgroup
from beholder.enrich.runtimes import guess_runtime
from beholder.events import ContainerInfo

PROC = Path("/proc")
_LEADING_PARENTS = re.compile(r"^(?:/\.\.)+(?=/|$)")
CGROUP2_ROOTS = ("/sys/fs/cgroup/unified", "/sys/fs/cgroup")  # hybrid hosts first, then pure v2


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

    def _info(self, identity: CgroupIdentity, pid: int) -> ContainerInfo:
        info = self.by_id.get(identity.container_id)
        if info is None:
            if len(self.by_id) >= self.max_size:
                self.by_id.pop(next(iter(self.by_id)))
            runtime = identity.runtime or guess_runtime(pid, identity.container_id, self.proc)
            info = ContainerInfo(identity.container_id, runtime=runtime, pod_uid=identity.pod_uid)
            self.by_id[identity.container_id] = info
            for callback in self.on_new:
                callback(info)
        return info

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
        try:
            text = (self.proc / str(pid) / "cgroup").read_text()
        except OSError:
            return self.by_cgroup.get(cgroup_id)
        identity = parse_proc_cgroup(text)
        if identity is None:
            return None
        unified = next((line[3:] for line in text.splitlines() if line.startswith("0::")), "")
        if parse_cgroup_path(unified) != identity or not cgroup_id:
            return self._info(identity, pid)  # v1-only container (hybrid host): nothing to verify
        if self._cgroup_inode(unified) != cgroup_id:
            # The event predates the move into the container's cgroup (runc init joins late):
            # it happened outside the container.
            return self.by_cgroup.get(cgroup_id)
        info = self._info(identity, pid)
        if len(self.by_cgroup) >= self.max_size:
            self.by_cgroup.pop(next(iter(self.by_cgroup)))
        self.by_cgroup[cgroup_id] = info
        if cgroup_id not in self._announced:
            # a callback returning False (pid namespace not entered yet) is retried later
            results = [callback(cgroup_id, pid) for callback in self.on_cgroup]
            if all(result is not False for result in results):
                self._announced.add(cgroup_id)
        return info
