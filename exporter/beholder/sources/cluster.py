"""Watch what the cluster says about security: KubeArmor CRDs, namespaces, Kubescape profiles.

One `ListWatch` thread per resource, cluster-wide (policies, namespaces and profiles are
not bound to a node), each feeding an `ObjectStore`. Read-only: the agent needs only
list and watch on exactly these resources (deploy/kustomize/base/rbac.yaml). A resource
the cluster does not serve (Kubescape not installed: 404) is one warning and a retry with
backoff, like any outage; the other resources are not affected.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from beholder.enrich.k8s.backoff import Backoff
from beholder.enrich.k8s.listwatch import ListWatch
from beholder.sources.objects import ObjectStore

if TYPE_CHECKING:
    from kubernetes import client


@dataclass(frozen=True, slots=True)
class Resource:
    """One kind the agent watches, and where the API serves it."""

    kind: str
    group: str  # "" for the core API
    version: str
    plural: str

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version


KUBEARMOR_GROUP = "security.kubearmor.com"
KUBESCAPE_GROUP = "spdx.softwarecomposition.kubescape.io"
POLICY_RESOURCES = (
    Resource("KubeArmorPolicy", KUBEARMOR_GROUP, "v1", "kubearmorpolicies"),
    Resource("KubeArmorHostPolicy", KUBEARMOR_GROUP, "v1", "kubearmorhostpolicies"),
    Resource("KubeArmorClusterPolicy", KUBEARMOR_GROUP, "v1", "kubearmorclusterpolicies"),
)
NAMESPACES = Resource("Namespace", "", "v1", "namespaces")
PROFILE_RESOURCES = (
    Resource("ApplicationProfile", KUBESCAPE_GROUP, "v1beta1", "applicationprofiles"),
    Resource("ContainerProfile", KUBESCAPE_GROUP, "v1beta1", "containerprofiles"),
    Resource("NetworkNeighborhood", KUBESCAPE_GROUP, "v1beta1", "networkneighborhoods"),
)
RESOURCES = (*POLICY_RESOURCES, NAMESPACES, *PROFILE_RESOURCES)


class ClusterWatches:
    """The stores and watch threads of every watched resource; `on_change(kind)` after changes."""

    def __init__(
        self,
        api: client.ApiClient,
        source: str,
        on_change: Callable[[str], None],
        *,
        resources: tuple[Resource, ...] = RESOURCES,
        backoff: Callable[[], Backoff] = Backoff,
        **loop_options: Any,
    ) -> None:
        from kubernetes import client

        core = client.CoreV1Api(api)
        custom = client.CustomObjectsApi(api)
        self.source = source
        self.stores: dict[str, ObjectStore] = {}
        self.loops: dict[str, ListWatch] = {}
        for resource in resources:
            store = ObjectStore(resource.kind, resource.api_version, on_change)
            request = _custom_request(custom, resource) if resource.group else core.list_namespace
            self.stores[resource.kind] = store
            self.loops[resource.kind] = ListWatch(
                resource.plural, request, store, source=source, backoff=backoff(), **loop_options
            )

    def start(self) -> None:
        for loop in self.loops.values():
            loop.start()

    def stop(self) -> None:
        for loop in self.loops.values():
            loop.stop()

    def objects(self, resources: tuple[Resource, ...]) -> list[dict[str, Any]]:
        """The current objects of these kinds (empty for a kind not watched)."""
        return [obj for r in resources if r.kind in self.stores for obj in self.stores[r.kind].objects()]

    def listed(self) -> bool:
        """Every resource has been listed at least once (the first snapshot is complete)."""
        return all(loop.lists for loop in self.loops.values())

    def settled(self) -> bool:
        """Every resource has been listed or has failed at least once (a diagnostic can report)."""
        return all(loop.lists or loop.errors for loop in self.loops.values())

    def stats(self) -> dict[str, dict[str, Any]]:
        """Per kind: held objects and the loop's counters (stats file, `beholder k8s`)."""
        return {
            kind: {
                "objects": len(self.stores[kind]),
                "connected": loop.connected,
                "lists": loop.lists,
                "events": loop.events,
                "gone": loop.gone,
                "errors": loop.errors,
                "last_error": loop.last_error,
            }
            for kind, loop in self.loops.items()
        }


def _custom_request(custom: client.CustomObjectsApi, resource: Resource) -> Callable[..., Any]:
    def request(**params: Any) -> Any:
        return custom.list_cluster_custom_object(resource.group, resource.version, resource.plural, **params)

    return request
