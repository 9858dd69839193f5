"""Name the other end of a connection: `pod/name` or `svc/name` with namespace and labels.

The summary asks a `PeerResolver` for each peer address; `StaticPeers` answers from pod
and service objects as the Kubernetes API returns them (`status.podIPs`, `spec.clusterIPs`),
which is what the pod watcher or a `kubectl get -o json` dump provides.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class Peer:
    kind: str  # "pod" or "svc"
    name: str
    namespace: str = ""
    labels: tuple[tuple[str, str], ...] = field(default=())

    @property
    def display(self) -> str:
        return f"{self.kind}/{self.name}"

    @property
    def label_text(self) -> str:
        return ",".join(f"{k}={v}" for k, v in self.labels)


class PeerResolver(Protocol):
    def resolve(self, address: str) -> Peer | None: ...


def _ips(obj: Mapping[str, Any], section: str, plural: str, singular: str) -> list[str]:
    part = obj.get(section)
    if not isinstance(part, Mapping):
        return []
    found = [str(part[singular])] if isinstance(part.get(singular), str) else []
    for item in part.get(plural) or []:
        ip = item.get("ip") if isinstance(item, Mapping) else item
        if isinstance(ip, str) and ip not in found:
            found.append(ip)
    return [ip for ip in found if ip and ip != "None"]


def _peer(obj: Mapping[str, Any], kind: str) -> Peer | None:
    meta = obj.get("metadata")
    if not isinstance(meta, Mapping) or not isinstance(meta.get("name"), str):
        return None
    labels = meta.get("labels") if isinstance(meta.get("labels"), Mapping) else {}
    return Peer(kind, meta["name"], str(meta.get("namespace", "")), tuple(sorted(labels.items())))


class StaticPeers:
    """Address → Peer from pod and service objects; services win over pods on a shared IP."""

    def __init__(self, pods: Iterable[Mapping[str, Any]] = (), services: Iterable[Mapping[str, Any]] = ()):
        self._by_ip: dict[str, Peer] = {}
        for pod in pods:
            peer = _peer(pod, "pod")
            if peer is not None and not pod.get("spec", {}).get("hostNetwork"):
                self._by_ip.update(dict.fromkeys(_ips(pod, "status", "podIPs", "podIP"), peer))
        for svc in services:
            peer = _peer(svc, "svc")
            if peer is not None:
                self._by_ip.update(dict.fromkeys(_ips(svc, "spec", "clusterIPs", "clusterIP"), peer))

    @classmethod
    def from_list(cls, doc: Any) -> StaticPeers:
        """From `kubectl get pods,services -A -o json` (a `List` of Pod and Service items)."""
        items = doc.get("items") if isinstance(doc, Mapping) else None
        if not isinstance(items, list):
            raise ValueError("expected a Kubernetes List with items (kubectl get pods,services -A -o json)")
        objects = [i for i in items if isinstance(i, Mapping)]
        return cls(
            [i for i in objects if i.get("kind") == "Pod"], [i for i in objects if i.get("kind") == "Service"]
        )

    def resolve(self, address: str) -> Peer | None:
        return self._by_ip.get(address)
