"""Container identity from cgroup paths.

Every container runtime writes its container id into the cgroup path, each in its own
spelling (cgroupfs and systemd drivers, v1 and v2). Parsing the path is the one way that
works for docker, containerd, CRI-O, podman and plain runc without talking to any of them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

_HEX64 = r"[0-9a-f]{64}"
_UUID = r"[0-9a-f]{8}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{12}"

# (regex on one path segment, runtime); first match from the innermost segment wins.
_SEGMENT_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(rf"^cri-containerd-({_HEX64})\.scope$"), "containerd"),
    (re.compile(rf"^crio-(?:conmon-)?({_HEX64})(?:\.scope)?$"), "cri-o"),
    (re.compile(rf"^docker-({_HEX64})\.scope$"), "docker"),
    (re.compile(rf"^libpod-(?:conmon-)?({_HEX64})(?:\.scope)?$"), "podman"),
    (re.compile(rf"^runc-({_HEX64})\.scope$"), "runc"),
    (re.compile(r"^runc-([A-Za-z0-9][A-Za-z0-9_.+-]*)\.scope$"), "runc"),  # systemd: any runc name
    (re.compile(rf"^({_HEX64})$"), ""),
)
_POD_RE = re.compile(rf"pod({_UUID})(?:\.slice)?$")
_DOCKER_PARENT = re.compile(r"^docker$")


@dataclass(frozen=True, slots=True)
class CgroupIdentity:
    container_id: str
    runtime: str
    pod_uid: str


@lru_cache(maxsize=8192)
def parse_cgroup_path(path: str) -> CgroupIdentity | None:
    """Container id, runtime and pod UID from one cgroup path, or None for host cgroups."""
    segments = [s for s in path.split("/") if s]
    for index in range(len(segments) - 1, -1, -1):
        segment = segments[index]
        for pattern, runtime in _SEGMENT_RULES:
            match = pattern.match(segment)
            if not match:
                continue
            if not runtime and index > 0 and _DOCKER_PARENT.match(segments[index - 1]):
                runtime = "docker"
            pod_uid = ""
            for parent in reversed(segments[:index]):
                pod = _POD_RE.search(parent)
                if pod:
                    pod_uid = pod.group(1).replace("_", "-")
                    break
            return CgroupIdentity(match.group(1), runtime, pod_uid)
    return None


def parse_proc_cgroup(text: str) -> CgroupIdentity | None:
    """Scan every hierarchy in /proc/<pid>/cgroup: on hybrid hosts runc may use only v1."""
    best: CgroupIdentity | None = None
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        found = parse_cgroup_path(parts[2])
        if found and (best is None or (found.pod_uid and not best.pod_uid)):
            best = found
    return best
