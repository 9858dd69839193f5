"""`beholder run --enforce kill`: turn the loaded program's kill maps on for the policy engine.

Kill mode needs the kernel half (bpf/enforce.c, compiled in when `--enforce kill` is given)
and the policy engine's rules; this wires one to the other and says at start what will
and will not be enforced, never leaving a Block rule silently unenforced.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from beholder.enrich.cgroup_path import CgroupPaths
from beholder.enrich.containers import CGROUP2_ROOTS
from beholder.enrich.k8s.cache import PodCache
from beholder.policy.kernel_rules import KillSync
from beholder.policy.pod_scopes import PodScopes
from beholder.sensors.killmode import KillMaps

if TYPE_CHECKING:
    from beholder.policy.evaluate import PolicyEngine
    from beholder.sensors.kernel import Feature
    from beholder.sensors.source import KernelSource

ENFORCE_MODES = ("off", "kill")
# what each class of Block rule needs running to be killed
_NEEDS = {"process": "exec paths (and fromSource)", "file": "file opens", "network": "socket protocols"}


def start_kill_mode(
    source: KernelSource, engine: PolicyEngine | None, say: Callable[[str], None], pods: PodCache | None
) -> tuple[list[str], PodScopes | None]:
    """Attach kill mode to the engine; the start-up lines to print, and the pod scopes to run
    (None without a pod watcher: a container's rules then wait for its first event)."""
    if engine is None:
        return ["kill mode: no policy given (--policy or the cluster's): nothing to enforce"], None
    maps = KillMaps(source.program.maps)
    sync = KillSync(maps.load, say, cgroup_alive(CgroupPaths(CGROUP2_ROOTS)))
    engine.enforce_in_kernel(sync)
    lines = [
        "kill mode on: a Block rule on an exec path, a file open or a socket protocol sends the "
        "caller SIGKILL at syscall entry (Enforcer BPF-SIGKILL, Result 'Killed (SIGKILL)'); "
        "rules the kernel cannot judge stay 'Audit (Block)'"
    ]
    scopes = None
    if pods is not None:
        scopes = PodScopes(
            pods, engine.pod_rules, lambda: engine.generation, sync.ensure, sync.drop, CGROUP2_ROOTS
        )
        lines.append(
            "kill mode: a known pod's rules are loaded under its pod cgroup as soon as kubelet makes it"
        )
    else:
        lines.append("kill mode: no pod watcher: a container's rules reach the kernel after its first event")
    running = set(source.sensors)
    lines += [
        f"kill mode: sensor {name} is off: Block rules on {what} are not enforced"
        for name, what in _NEEDS.items()
        if name not in running
    ]
    return lines, scopes


def cgroup_alive(paths: CgroupPaths) -> Callable[[int], bool]:
    """Whether a cgroup id still names a cgroup (True when that cannot be looked up: a scope
    is only removed when its cgroup is known to be gone)."""

    def alive(cgroup_id: int) -> bool:
        return paths.path(cgroup_id) is not None or not paths.available

    return alive


def kill_report(source: KernelSource) -> dict[str, object]:
    """Kill mode's counters for the stats file: calls killed, paths unreadable at entry."""
    maps = source.program.maps
    if "enforce_stats" not in maps:
        return {}
    return {"mode": "kill", **KillMaps.read_stats(maps)}


def bpf_lsm_line(features: list[Feature]) -> str:
    """The one start-up line on BPF-LSM: what the trial attach found, and that no Block is
    ever reported as a BPF-LSM refusal by this agent (its LSM programs are not attached)."""
    lsm = next((f for f in features if f.name == "bpf-lsm"), None)
    if lsm is None or lsm.available is None:
        found = f"unknown ({lsm.detail if lsm else 'not checked'})"
    elif lsm.available:
        found = "attach works here, but this agent does not attach its BPF-LSM programs yet"
    else:
        found = lsm.detail
    return f"BPF-LSM: {found}; no Block is denied with -EPERM (docs/enforcement.md)"
