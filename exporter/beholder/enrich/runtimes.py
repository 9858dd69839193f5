"""Which runtime runs a container whose cgroup path does not say (plain runc, or kubelet's
cgroupfs driver, where the path is only `<pod>/<64-hex id>`).

Two clues, both read once per new container: the process's own ancestry (`runc init`, the
`runc run` that waits for it, a containerd shim, conmon), and runc's state directory, whose
`state.json` names the container's cgroup. Neither is guessed from anything else.
"""

from __future__ import annotations

import json
from pathlib import Path

PROC = Path("/proc")
RUNC_ROOT = Path("/run/runc")
# Process names (comm, 15 characters) of runtimes; runc's init renames itself `runc:[2:INIT]`
# and runs from a sealed memfd copy, so its name, not its exe, says what it is.
_BY_COMM = (("runc", "runc"), ("crun", "crun"), ("containerd-shim", "containerd"), ("conmon", "cri-o"))
_ANCESTORS = 6  # the workload, runc init's stages, runc run or the shim: never further up


def _parent(pid: int, proc: Path) -> int:
    try:
        status = (proc / str(pid) / "status").read_text()
    except OSError:
        return 0
    line = next((x for x in status.splitlines() if x.startswith("PPid:")), "PPid:\t0")
    return int(line.split()[1])


def _comm(pid: int, proc: Path) -> str:
    try:
        return (proc / str(pid) / "comm").read_text().strip()
    except OSError:
        return ""


def from_ancestry(pid: int, proc: Path = PROC) -> str:
    """The runtime that is the process itself or one of its nearest ancestors."""
    for _ in range(_ANCESTORS):
        if pid <= 1:
            return ""
        comm = _comm(pid, proc)
        runtime = next((name for prefix, name in _BY_COMM if comm.startswith(prefix)), "")
        if runtime:
            return runtime
        pid = _parent(pid, proc)
    return ""


def from_runc_state(container_id: str, root: Path = RUNC_ROOT) -> str:
    """`runc` when a container in runc's state directory has this id in its cgroup path."""
    try:
        states = list(root.glob("*/state.json"))
    except OSError:
        return ""
    for state in states:
        try:
            if container_id in state.read_text(errors="replace"):
                return "runc"
        except OSError:
            continue
    return ""


def guess_runtime(pid: int, container_id: str, proc: Path = PROC, runc_root: Path = RUNC_ROOT) -> str:
    return from_ancestry(pid, proc) or from_runc_state(container_id, runc_root)


def runc_container_of(cgroup_path: str, root: Path = RUNC_ROOT) -> str:
    """The runc container whose cgroup is `cgroup_path` (relative to the cgroup root), by its
    runc name: `runc run web` gives no 64-hex id to recognise, only `/web` (cgroupfs) or a
    `cgroupsPath` of the caller's choosing. runc's state names each container's cgroup."""
    leaf = cgroup_path.rstrip("/").rpartition("/")[2]
    if not leaf:
        return ""
    own = root / leaf
    if own.is_dir() and not (own / "state.json").exists():
        return leaf  # `runc run` has created the container and not yet written its state
    try:
        states = sorted(root.glob("*/state.json"), key=lambda p: p.parent.name != leaf)
    except OSError:
        return ""
    for state in states:
        try:
            doc = json.loads(state.read_text(errors="replace"))
        except (OSError, ValueError):
            continue
        paths = doc.get("cgroup_paths") if isinstance(doc, dict) else None
        unified = paths.get("", "") if isinstance(paths, dict) else ""
        if isinstance(unified, str) and unified.endswith(cgroup_path) and cgroup_path != "/":
            return str(doc.get("id") or state.parent.name)
    return ""
