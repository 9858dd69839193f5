"""`process.linux.cgroup` for a cgroup id: `0::/system.slice/cron.service`, once per id.

OpenTelemetry asks for the text of /proc/<pid>/cgroup; on a cgroup v2 host that is one
line, `0::<path>`. The path comes from the cgroup id the kernel put on the event (a kernfs
file handle, `CgroupPaths`), so it is the cgroup the process was in when it acted, and one
lookup serves every process of that cgroup; /proc is the fallback when handles are refused.
"""

from __future__ import annotations

from pathlib import Path

from beholder.enrich.cgroup_path import CgroupPaths
from beholder.enrich.process_tree import PROC

MAX_NAMES = 16384


class CgroupNames:
    """cgroup id -> `0::<path>`, remembered (bounded) once found."""

    def __init__(self, paths: CgroupPaths, proc: Path = PROC, max_size: int = MAX_NAMES) -> None:
        self._paths = paths
        self._proc = proc
        self._max_size = max_size
        self._names: dict[int, str] = {}

    def name(self, cgroup_id: int, pid: int) -> str:
        """The cgroup's `process.linux.cgroup` text; "" when neither the id nor /proc says."""
        found = self._names.get(cgroup_id)
        if found is not None:
            return found
        path = self._paths.path(cgroup_id) if cgroup_id and self._paths.available else None
        if path is None:  # the process's own view, not remembered: it may have moved since
            return self._from_proc(pid)
        if len(self._names) >= self._max_size:
            self._names.clear()  # ids are never reused: forgetting costs a lookup
        name = self._names[cgroup_id] = f"0::{path}"
        return name

    def _from_proc(self, pid: int) -> str:
        try:
            text = (self._proc / str(pid) / "cgroup").read_text()
        except OSError:
            return ""
        return next((line for line in text.splitlines() if line.startswith("0::")), "")
