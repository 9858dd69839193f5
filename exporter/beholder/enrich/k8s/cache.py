"""The node's pods, indexed by container id and pod UID, bounded and thread-safe.

The watcher thread writes; the pipeline reads once per new container (not per event), so a
single lock is enough. Deleted pods and replaced container ids stay for a grace period so
events read from the ring buffer after the pod is gone are still enriched. Both indexes
are LRU-bounded so a churning node cannot grow the agent without limit.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from beholder.enrich.k8s.pod import PodContainer, normalize_pod_uid, pod_records, split_container_id
from beholder.events.model import ContainerInfo

DEFAULT_MAX_PODS = 2048
DEFAULT_GRACE_S = 120.0
_CONTAINERS_PER_POD = 8


@dataclass(slots=True)
class _Slot:
    record: PodContainer
    expires: float | None = None  # None while the pod (or container) is live
    container_ids: tuple[str, ...] = ()  # pod slots only: which container slots are theirs


class PodCache:
    """Answers "which pod is this container in" without ever calling the API."""

    def __init__(
        self,
        max_pods: int = DEFAULT_MAX_PODS,
        grace_s: float = DEFAULT_GRACE_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._max_pods = max_pods
        self._max_containers = max_pods * _CONTAINERS_PER_POD
        self._grace_s = grace_s
        self._clock = clock
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._pods: OrderedDict[str, _Slot] = OrderedDict()
        self._containers: OrderedDict[str, _Slot] = OrderedDict()
        self._next_expiry = math.inf  # earliest grace deadline: sweeping before it is skipped
        self._pending: OrderedDict[str, ContainerInfo] = OrderedDict()  # attached, pod not known yet
        self.version = 0  # bumped by every write: readers of `live_pods` know when to look again

    # -- readers (pipeline) ------------------------------------------------------------------

    def lookup(self, container_id: str, pod_uid: str = "") -> PodContainer | None:
        """The container's record, else its pod's record, else None. Never waits on the API."""
        cid = split_container_id(container_id)[1] if container_id else ""
        uid = normalize_pod_uid(pod_uid) if pod_uid else ""
        with self._lock:
            return self._find(cid, uid, self._clock())

    def wait_for(self, container_id: str, pod_uid: str, timeout_s: float) -> PodContainer | None:
        """Like `lookup`, but give a starting pod up to `timeout_s` to report the container id.

        Falls back to the pod-level record (or None) when the id does not show up in time.
        This blocks the calling thread: only worth it while a watcher feeds the cache
        (`PodWatcher.enabled` and `stats().connected`), and only for a container's first event.
        """
        cid = split_container_id(container_id)[1] if container_id else ""
        uid = normalize_pod_uid(pod_uid) if pod_uid else ""
        deadline = time.monotonic() + timeout_s
        with self._changed:
            while True:
                found = self._find(cid, "", self._clock()) if cid else None
                remaining = deadline - time.monotonic()
                if found is not None or remaining <= 0:
                    return found or self._find("", uid, self._clock())
                self._changed.wait(remaining)

    @staticmethod
    def apply_to(info: ContainerInfo, found: PodContainer) -> None:
        """Fill the shared ContainerInfo; what the cgroup already told us is kept when K8s is silent."""
        info.runtime = info.runtime or found.runtime
        info.name = found.name or info.name
        info.image = found.image or info.image
        info.image_id = found.image_id or info.image_id
        info.pod_uid = found.pod_uid or info.pod_uid
        info.pod_name = found.pod_name or info.pod_name
        info.namespace = found.namespace or info.namespace
        if found.labels:
            info.labels = dict(found.labels)
        if found.annotations:
            info.annotations = dict(found.annotations)
        info.workload_kind = found.workload_kind or info.workload_kind
        info.workload_name = found.workload_name or info.workload_name
        info.service_account = found.service_account or info.service_account
        info.declared_execs = found.declared_execs or info.declared_execs

    def attach(self, info: ContainerInfo) -> bool:
        """Fill `info` now if its container is known, else as soon as the watcher stores it.

        Made for the pipeline's new-container hook: a container first seen while the API was
        down, or before kubelet reported its id, gets its pod fields when they arrive, and
        all its later events share them through the one ContainerInfo. A pod-only match
        fills the pod fields now and keeps waiting for the container's own. Returns whether
        the container itself was found. Waiting containers are bounded like the cache.
        """
        cid = split_container_id(info.container_id)[1]
        with self._lock:
            found = self._find(cid, normalize_pod_uid(info.pod_uid), self._clock())
            if found is not None:
                self.apply_to(info, found)
            if found is not None and found.container_id:
                return True
            if cid:
                self._pending[cid] = info
                self._pending.move_to_end(cid)
                while len(self._pending) > self._max_containers:
                    self._pending.popitem(last=False)
            return False

    def size(self) -> tuple[int, int]:
        """(pods, containers) currently held, including those in their grace period."""
        with self._lock:
            return len(self._pods), len(self._containers)

    # -- writers (watcher) -------------------------------------------------------------------

    def upsert(self, pod: Mapping[str, Any]) -> bool:
        """Store an ADDED/MODIFIED pod; False when the object has no UID and was skipped."""
        return self._write([pod], expires_in=None, full_list=False) == 0

    def delete(self, pod: Mapping[str, Any]) -> bool:
        """A DELETED pod: keep it for the grace period, then forget it."""
        return self._write([pod], expires_in=self._grace_s, full_list=False) == 0

    def replace(self, pods: Iterable[Mapping[str, Any]]) -> int:
        """A fresh list: store every pod, start the grace period of pods no longer listed.

        Returns how many objects were skipped for lacking a UID.
        """
        return self._write(pods, expires_in=None, full_list=True)

    def live_containers(self) -> list[PodContainer]:
        """Every container record not in its grace period (for diagnostics, not the hot path)."""
        with self._lock:
            return [slot.record for slot in self._containers.values() if slot.expires is None]

    def live_pods(self) -> list[PodContainer]:
        """Every pod-level record not in its grace period (kill mode's pod scopes; not the hot path)."""
        with self._lock:
            return [slot.record for slot in self._pods.values() if slot.expires is None]

    def expire(self) -> None:
        """Drop entries whose grace period is over."""
        with self._lock:
            self._sweep(self._clock())

    # -- internals (lock held) ---------------------------------------------------------------

    def _find(self, cid: str, uid: str, now: float) -> PodContainer | None:
        for key, index in ((cid, self._containers), (uid, self._pods)):
            slot = index.get(key) if key else None
            if slot is not None and (slot.expires is None or slot.expires > now):
                index.move_to_end(key)
                if slot.record.pod_uid in self._pods:  # a used container keeps its pod recent too
                    self._pods.move_to_end(slot.record.pod_uid)
                return slot.record
        return None

    def _write(self, pods: Iterable[Mapping[str, Any]], expires_in: float | None, full_list: bool) -> int:
        """Parse outside the lock (readers never wait on JSON walking), then apply under it."""
        parsed = [pod_records(pod) for pod in pods]
        stored = [(base, records) for base, records in parsed if base.pod_uid]
        with self._changed:
            now = self._clock()
            expires = None if expires_in is None else self._deadline(now + expires_in)
            for base, records in stored:
                self._store(base, records, expires, now)
                if self._pending:
                    self._fill_pending(base, records)
            if full_list:
                listed = {base.pod_uid for base, _ in stored}
                for uid, slot in self._pods.items():
                    if uid not in listed and slot.expires is None:
                        self._retire(slot, now + self._grace_s)
            self._sweep(now)
            self.version += 1
            self._changed.notify_all()
        return len(parsed) - len(stored)

    def _store(
        self, base: PodContainer, records: list[PodContainer], expires: float | None, now: float
    ) -> None:
        uid = base.pod_uid
        ids = tuple(r.container_id for r in records)
        old = self._pods.get(uid)
        if old is not None:
            for cid in set(old.container_ids) - set(ids):
                gone = self._containers.get(cid)
                if gone is not None and gone.expires is None:
                    gone.expires = self._deadline(now + self._grace_s)
        for record in records:
            self._put(self._containers, record.container_id, _Slot(record, expires), self._max_containers)
        self._put(self._pods, uid, _Slot(base, expires, ids), self._max_pods)

    def _fill_pending(self, base: PodContainer, records: list[PodContainer]) -> None:
        """Hand the pod's fields to attached containers that were waiting for them."""
        for record in records:
            info = self._pending.pop(record.container_id, None)
            if info is not None:
                self.apply_to(info, record)
        for info in self._pending.values():
            if info.pod_uid and normalize_pod_uid(info.pod_uid) == base.pod_uid:
                self.apply_to(info, base)

    def _retire(self, pod: _Slot, ends: float) -> None:
        pod.expires = self._deadline(ends)
        for cid in pod.container_ids:
            slot = self._containers.get(cid)
            if slot is not None and slot.expires is None:
                slot.expires = ends

    def _put(self, index: OrderedDict[str, _Slot], key: str, slot: _Slot, limit: int) -> None:
        index[key] = slot
        index.move_to_end(key)
        while len(index) > limit:
            _, evicted = index.popitem(last=False)
            for cid in evicted.container_ids:  # an evicted pod takes its containers along
                self._containers.pop(cid, None)

    def _deadline(self, when: float) -> float:
        self._next_expiry = min(self._next_expiry, when)
        return when

    def _sweep(self, now: float) -> None:
        """Drop expired entries; a no-op until the earliest deadline, so a watch event stays O(1)."""
        if now < self._next_expiry:
            return
        self._next_expiry = math.inf
        for index in (self._pods, self._containers):
            for key, slot in list(index.items()):
                if slot.expires is None:
                    continue
                if slot.expires <= now:
                    del index[key]
                else:
                    self._next_expiry = min(self._next_expiry, slot.expires)
