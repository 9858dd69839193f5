"""Kill mode's pod scopes: a selected pod's Block rules in the kernel before its first exec.

A container's own scope is loaded when user space evaluates its first event, which is after
its entrypoint's exec. The pod watcher knows a pod and its labels before its containers
start, and kubelet makes the pod's cgroup before any of them: so each known pod's rules are
loaded under its pod cgroup's id as soon as that directory exists, and bpf/enforce.c falls
back from the caller's cgroup to its nearest ancestor holding rules. The directory is found
by a short poll (`POLL_S`) of the places kubelet's cgroupfs and systemd drivers put it, only
for pods whose directory has not been seen yet.

Only loaded when every container of the pod gets the same rules (`PolicyEngine.pod_rules`),
so the pod scope never kills what a container's own rules would let pass.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from beholder.enrich.k8s.cache import PodCache
from beholder.enrich.k8s.pod import PodContainer
from beholder.events.model import ContainerInfo
from beholder.policy.compile import RuleSet

POLL_S = 0.02  # while some new pod has no cgroup yet; kubelet then starts its sandbox first
NEW_S = 120.0  # a pod known this long without a cgroup (finished, another layout) is looked
SLOW_ROUNDS = 100  # for once every this many rounds only
_QOS = ("", "burstable", "besteffort")  # guaranteed pods sit directly under kubepods


def pod_cgroup_dirs(root: str, pod_uid: str) -> list[str]:
    """Where kubelet puts a pod's cgroup v2 directory (cgroupfs, then systemd driver)."""
    slice_uid = pod_uid.replace("-", "_")
    dirs = [os.path.join(root, "kubepods", qos, f"pod{pod_uid}") for qos in _QOS]
    for qos in _QOS:
        parent = f"kubepods-{qos}.slice" if qos else ""
        name = f"kubepods-{qos}-pod{slice_uid}.slice" if qos else f"kubepods-pod{slice_uid}.slice"
        dirs.append(os.path.join(root, "kubepods.slice", parent, name))
    return dirs


def pod_cgroup_id(roots: tuple[str, ...], pod_uid: str) -> int:
    """The pod cgroup's id (its directory's inode on cgroup v2), 0 while it does not exist."""
    for root in roots:
        for path in pod_cgroup_dirs(root, pod_uid):
            try:
                return os.stat(path).st_ino
            except OSError:
                continue
    return 0


@dataclass(slots=True)
class _Pod:
    record: PodContainer
    info: ContainerInfo  # stable per pod: the engine caches its selection by identity
    scope: int = 0
    known_at: float = 0.0


class PodScopes:
    """Keeps one kill-mode scope per known pod whose cgroup exists, on a thread of its own."""

    def __init__(
        self,
        cache: PodCache,
        rules_of: Callable[[ContainerInfo], RuleSet | None],
        generation: Callable[[], object],
        ensure: Callable[[int, RuleSet], None],
        drop: Callable[[int], None],
        roots: tuple[str, ...],
    ) -> None:
        self._cache = cache
        self._rules_of = rules_of
        self._generation = generation
        self._ensure = ensure
        self._drop = drop
        self._roots = roots
        self._pods: dict[str, _Pod] = {}
        self._seen: tuple[int, object] = (-1, None)
        self._round = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def sync(self) -> None:
        """One round: follow the pod list and the policies, find new pods' cgroups, load."""
        seen = (self._cache.version, self._generation())
        changed = seen[0] != self._seen[0] or seen[1] is not self._seen[1]
        if changed:
            self._seen = seen
            self._follow(self._cache.live_pods())
        self._round += 1
        slow_turn = self._round % SLOW_ROUNDS == 0
        for pod in self._pods.values():
            if not pod.scope and (changed or slow_turn or self._new(pod)):
                pod.scope = pod_cgroup_id(self._roots, pod.record.pod_uid)
                if pod.scope:
                    self._load(pod)
            elif changed:
                self._load(pod)

    def waiting(self) -> bool:
        """Whether some known pod has no cgroup yet (the poll then stays short)."""
        return any(not pod.scope and self._new(pod) for pod in self._pods.values())

    def _new(self, pod: _Pod) -> bool:
        return time.monotonic() - pod.known_at < NEW_S

    def _follow(self, live: list[PodContainer]) -> None:
        now = {r.pod_uid: r for r in live}
        for uid in [uid for uid in self._pods if uid not in now]:
            gone = self._pods.pop(uid)
            if gone.scope:
                self._drop(gone.scope)
        for uid, record in now.items():
            pod = self._pods.get(uid)
            if pod is None or pod.record is not record:
                info = ContainerInfo(container_id="")
                PodCache.apply_to(info, record)
                self._pods[uid] = (
                    _Pod(record, info, 0, time.monotonic())
                    if pod is None
                    else _Pod(record, info, pod.scope, pod.known_at)
                )

    def _load(self, pod: _Pod) -> None:
        rules = self._rules_of(pod.info)
        if rules is None:
            self._drop(pod.scope)
        else:
            self._ensure(pod.scope, rules)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="kill-pod-scopes", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sync()
            self._stop.wait(POLL_S if self.waiting() else 10 * POLL_S)
