"""Which runtime runs a container whose cgroup path does not say (plain runc, or kubelet's
cgroupfs driver, where the path is only `<pod>/<64-hex id>`).

Two clues, both read once per new container: the process's own ancestry (`runc init`, the
`runc run` that waits for it, a containerd shim, conmon), and runc's state directory, whose
`state.json` names the container's cgroup. Neither is guessed from anything else.
"""

from __future__ import annotations

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
