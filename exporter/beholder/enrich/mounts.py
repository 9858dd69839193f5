"""A container's mounts as its own processes see them, from `/proc/<pid>/mountinfo`.

Two rules need them and no kernel struct gives them to us: R1004 (exec from a mounted
volume) needs the mount points, R1001 (drifted binary) needs the overlay root's layers:
the image's lower layers and the upper layer, where every file written or changed since
the container started lives. Read once per container, from a live process of it (the
event's own, else one its cgroup lists).
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
ANONYMOUS = ("/memfd:", "/dev/fd/")  # an exe with no file behind it (fileless: R1005's)


@dataclass(frozen=True, slots=True)
class ContainerMounts:
    """What R1001 and R1004 read; empty when no live process of the container answered."""

    upperdir: str = ""  # the overlay root's upper layer, as a path the agent can open
    lowerdirs: tuple[str, ...] = ()  # the image's layers, topmost first, likewise
    mount_points: tuple[str, ...] = ()  # the volumes, as paths inside the container
    other_points: tuple[str, ...] = ()  # /proc, /dev, /sys and what else is not the overlay

    def __bool__(self) -> bool:
        return bool(self.upperdir or self.mount_points)

    def not_in_image(self, path: str) -> bool:
        """The file at `path` (inside the container) is not the image's: it sits in the
        upper layer (written, or an image file changed in place), or no image layer has it
        (written and already deleted by the time we look: `cp x /tmp/y && /tmp/y && rm
        /tmp/y` leaves nothing in the upper layer). Paths on other mounts (volumes,
        /dev/shm, memfd) are not the overlay's and never drifted."""
        if not self.upperdir or not path.startswith("/") or path.startswith(ANONYMOUS):
            return False
        if any(
            path == p or path.startswith(p.rstrip("/") + "/") for p in self.mount_points + self.other_points
        ):
            return False
        if os.path.lexists(self.upperdir + path):
            return True
        return bool(self.lowerdirs) and not any(os.path.lexists(lower + path) for lower in self.lowerdirs)


def parse_mountinfo(text: str, host_root: str = HOST_ROOT) -> ContainerMounts:
    """The upper layer of the `/` overlay and the volume mount points of one mountinfo."""
    upper, lowers = "", []
    points: list[str] = []
    others: list[str] = []
    for line in text.splitlines():
        fields = line.split()
        if "-" not in fields[6:]:
            continue
        dash = fields.index("-", 6)
        point, fstype, options = _unescape(fields[4]), fields[dash + 1], fields[dash + 3 : dash + 4]
        if point == "/":
            if fstype == "overlay" and options:
                for option in options[0].split(","):
                    name, _, value = option.partition("=")
                    if name == "upperdir":
                        upper = _unescape(value)
                    elif name == "lowerdir":
                        lowers = [_unescape(v) for v in value.split(":") if v]
            continue
        if fstype in PSEUDO or any(point == t or point.startswith(t + "/") for t in SYSTEM_TREES):
            others.append(point)
        else:
            points.append(point)
    upper = _reachable(upper, host_root)
    reachable = [_reachable(lower, host_root) for lower in lowers] if upper else []
    return ContainerMounts(
        upper,
        tuple(reachable) if all(reachable) else (),
        tuple(points),
        tuple(dict.fromkeys([*SYSTEM_TREES, *others])),
    )


def _reachable(layer: str, host_root: str) -> str:
    """A layer through the node's root (an agent in its own mount namespace), else as
    written (an agent on the host); "" when neither is a directory we can read."""
    if not layer:
        return ""
    return next((p for p in (host_root.rstrip("/") + layer, layer) if os.path.isdir(p)), "")


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
