"""Read profiles from the cluster (Kubescape's storage API serves them like CRDs).

The Kubernetes client's `CustomObjectsApi` is passed in, so this module stays importable
without a cluster and testable with a stand-in. Each object goes through the same parser
as files; a bad one is one error line naming it, the rest still load.
"""

from __future__ import annotations

from typing import Any, Protocol

from beholder.bob.profile import API_GROUP, Profile, ProfileError, parse_document

VERSION = "v1beta1"
PLURALS = {
    "ApplicationProfile": "applicationprofiles",
    "ContainerProfile": "containerprofiles",
    "NetworkNeighborhood": "networkneighborhoods",
}


class CustomObjects(Protocol):
    """The two calls of kubernetes.client.CustomObjectsApi this module uses."""

    def list_namespaced_custom_object(self, group: str, version: str, namespace: str, plural: str) -> Any: ...

    def list_cluster_custom_object(self, group: str, version: str, plural: str) -> Any: ...


def load_from_cluster(api: CustomObjects, namespace: str = "") -> tuple[list[Profile], list[str]]:
    """Every profile of the three kinds (in one namespace, or all); errors as lines."""
    profiles: list[Profile] = []
    errors: list[str] = []
    for kind, plural in PLURALS.items():
        try:
            if namespace:
                listing = api.list_namespaced_custom_object(API_GROUP, VERSION, namespace, plural)
            else:
                listing = api.list_cluster_custom_object(API_GROUP, VERSION, plural)
        except Exception as exc:  # the API may lack a kind (older storage): report, keep going
            errors.append(
                f"{plural}: cannot list: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
            )
            continue
        for item in (listing or {}).get("items") or []:
            if not isinstance(item, dict):
                errors.append(f"{plural}: item is not an object")
                continue
            item = {"kind": kind, "apiVersion": f"{API_GROUP}/{VERSION}", **item}
            meta = item.get("metadata") or {}
            where = f"{plural}/{meta.get('namespace', '')}/{meta.get('name', '?')}"
            try:
                profiles.append(parse_document(item, where))
            except ProfileError as exc:
                errors.append(str(exc))
    return profiles, errors
