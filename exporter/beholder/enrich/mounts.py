"""A container's mounts as its own processes see them, from `/proc/<pid>/mountinfo`.

Two rules need them and no kernel struct gives them to us: R1004 (exec from a mounted
volume) needs the mount points, R1001 (drifted binary) needs the overlay root's upper
layer, where every file written or changed since the container started lives. Read once
per container, from a live process of it (the event's own, else one its cgroup lists).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from beholder.events.model import ContainerInfo

# file systems of the runtime's own making, never a pod's volume
PSEUDO = frozenset({"proc", "sysfs", "cgroup", "cgroup2", "devpts", "mqueue", "devtmpfs", "securityfs"})
SYSTEM_TREES = ("/proc", "/sys", "/dev")
HOST_ROOT = "/proc/1/root"  # the node's root as the agent sees it (hostPID); "/" on a plain host
MEMBERS_TRIED = 4


@dataclass(frozen=True, slots=True)
class ContainerMounts:
    """What R1001 and R1004 read; empty when no live process of the container answered."""

    upperdir: str = ""  # the overlay root's upper layer, as a path the agent can open
    mount_points: tuple[str, ...] = ()  # the volumes, as paths inside the container

    def __bool__(self) -> bool:
        return bool(self.upperdir or self.mount_points)

    def in_upper_layer(self, path: str) -> bool:
        """The file at `path` (inside the container) was written after the image: it sits
        in the upper layer (a copy-up of an image file changed in place counts too)."""
        return bool(self.upperdir and path.startswith("/") and os.path.lexists(self.upperdir + path))


def parse_mountinfo(text: str, host_root: str = HOST_ROOT) -> ContainerMounts:
    """The upper layer of the `/` overlay and the volume mount points of one mountinfo."""
    upper = ""
    points: list[str] = []
    for line in text.splitlines():
        fields = line.split()
        if "-" not in fields[6:]:
            continue
        dash = fields.index("-", 6)
        point, fstype, options = _unescape(fields[4]), fields[dash + 1], fields[dash + 3 : dash + 4]
        if point == "/":
            if fstype == "overlay" and options:
                for option in options[0].split(","):
                    if option.startswith("upperdir="):
                        upper = _unescape(option.removeprefix("upperdir="))
            continue
        if fstype in PSEUDO or any(point == t or point.startswith(t + "/") for t in SYSTEM_TREES):
            continue
        points.append(point)
    return ContainerMounts(_reachable(upper, host_root), tuple(points))


def _reachable(upper: str, host_root: str) -> str:
    """The upper layer through the node's root (an agent in its own mount namespace), else
    as written (an agent on the host); "" when neither is a directory we can read."""
    if not upper:
        return ""
    return next((p for p in (host_root.rstrip("/") + upper, upper) if os.path.isdir(p)), "")


def _unescape(text: str) -> str:
    """mountinfo writes space, tab, newline and backslash as octal escapes (`\\040`)."""
    if "\\" not in text:
        return text
    return text.encode().decode("unicode_escape").encode("latin-1").decode(errors="replace")


def container_mounts(container: ContainerInfo, pid: int, proc: str = "/proc") -> ContainerMounts:
    """Mounts of `container`, read through `pid` (a process of it), else through the first
    live members of its cgroup."""
    candidates = [pid] if pid > 0 else []
    if container.cgroup_dir:
        try:
            members = Path(container.cgroup_dir, "cgroup.procs").read_text().split()
        except OSError:
            members = []
        candidates += [int(m) for m in members[:MEMBERS_TRIED] if m.isdigit()]
    for candidate in candidates:
        try:
            text = Path(f"{proc}/{candidate}/mountinfo").read_text()
        except OSError:
            continue
        found = parse_mountinfo(text)
        if found:
            return found
    return ContainerMounts()
