"""Read a running agent's BPF maps from a test: kernel state, not timing.

The map fds live in the agent process; `pidfd_getfd` (root) duplicates one here. A map is
recognised by its shape in /proc/<pid>/fdinfo (type, key and value size, entries), which
is unique among the agent's maps for the ones tests read.
"""

from __future__ import annotations

import ctypes
import os
from collections.abc import Iterator
from pathlib import Path

from beholder.events.abi import STAT_NAMES, Interest
from beholder.sensors.bpfmaps import BpfMap

PIDFD_GETFD = 438  # x86_64
BPF_MAP_TYPE_HASH, BPF_MAP_TYPE_ARRAY, BPF_MAP_TYPE_PERCPU_ARRAY, BPF_MAP_TYPE_LRU_HASH = 1, 2, 6, 9
_libc = ctypes.CDLL(None, use_errno=True)


def _shape(fdinfo: Path) -> tuple[int, int, int, int] | None:
    fields = dict(line.split(":", 1) for line in fdinfo.read_text().splitlines() if ":" in line)
    if "map_type" not in fields:
        return None
    return tuple(int(fields[k].strip()) for k in ("map_type", "key_size", "value_size", "max_entries"))  # type: ignore[return-value]


def _map_fds(pid: int, shape: tuple[int, int, int, int]) -> Iterator[int]:
    """A duplicate of each of the agent's map fds with this shape (the caller closes it)."""
    for fdinfo in Path(f"/proc/{pid}/fdinfo").iterdir():
        try:
            if _shape(fdinfo) != shape:
                continue
        except OSError:
            continue
        pidfd = os.pidfd_open(pid)
        try:
            fd = _libc.syscall(PIDFD_GETFD, pidfd, int(fdinfo.name), 0)
        finally:
            os.close(pidfd)
        if fd < 0:
            raise OSError(ctypes.get_errno(), f"pidfd_getfd({pid}, {fdinfo.name})")
        yield fd


def _map_fd(pid: int, shape: tuple[int, int, int, int]) -> int:
    for fd in _map_fds(pid, shape):
        return fd
    raise LookupError(f"agent {pid} holds no BPF map shaped {shape}")


def enforce_scopes(pid: int) -> set[int]:
    """Kill mode's scopes holding rules in the agent's kernel (`enforce_scopes`: 0 is the host).
    `cgroup_allow` has the same shape; it is empty unless the agent is given `--cgroup-id`."""
    scopes: set[int] = set()
    for fd in _map_fds(pid, (BPF_MAP_TYPE_HASH, 8, 1, 4096)):
        table = BpfMap("enforce_scopes", fd, ctypes.c_uint64, ctypes.c_uint8)
        try:
            scopes |= {int(key.value) for key, _ in table.items()}  # type: ignore[attr-defined]
        finally:
            os.close(fd)
    return scopes


class AgentMaps:
    """The agent's kernel counters and its cgroup → interest entries."""

    def __init__(self, pid: int) -> None:
        self._stats = BpfMap(
            "stats",
            _map_fd(pid, (BPF_MAP_TYPE_PERCPU_ARRAY, 4, 8, len(STAT_NAMES))),
            ctypes.c_uint32,
            ctypes.c_uint64,
            per_cpu=True,
        )
        self._cgroups = BpfMap(
            "cgroup_interest",
            _map_fd(pid, (BPF_MAP_TYPE_LRU_HASH, 8, 4, 65536)),
            ctypes.c_uint64,
            ctypes.c_uint32,
        )
        slots = BPF_MAP_TYPE_ARRAY, 4, ctypes.sizeof(Interest), 256
        self._slots = BpfMap("interest", _map_fd(pid, slots), ctypes.c_uint32, Interest)

    def stats(self) -> dict[str, int]:
        """The kernel's counters (seen, emitted, …) summed over CPUs."""
        return {
            name: sum(int(v.value) for v in self._stats.per_cpu_values(i))
            for i, name in enumerate(STAT_NAMES)
        }

    def interest_of(self, cgroup_id: int) -> Interest | None:
        """The interest row the kernel applies to `cgroup_id`; None while it is unclassified."""
        slot = self._cgroups.get(cgroup_id)
        if slot is None:
            return None
        row = self._slots.get(int(slot.value))  # type: ignore[attr-defined]
        assert isinstance(row, Interest)
        return row

    def close(self) -> None:
        for table in (self._stats, self._cgroups, self._slots):
            os.close(table.fd)
