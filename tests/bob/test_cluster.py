"""Profiles listed from the cluster go through the same parser as files."""

from __future__ import annotations

from typing import Any

import yaml

from beholder.bob.cluster import load_from_cluster
from conftest import REFERENCE, require

PROFILES = REFERENCE / "kubescape" / "profiles"


class FakeCustomObjects:
    """Serves the reference profiles as the storage API would list them."""

    def __init__(self, broken_plural: str = "") -> None:
        self.items: dict[str, list[dict[str, Any]]] = {}
        for path in sorted(PROFILES.glob("*.yaml")):
            doc = yaml.safe_load(path.read_text())
            plural = doc["kind"].lower() + "s"
            doc.pop("kind")  # list items from the API may omit kind/apiVersion
            self.items.setdefault(plural, []).append(doc)
        self.items.setdefault("applicationprofiles", []).append({"metadata": {"name": "broken"}, "spec": []})
        self.broken = broken_plural
        self.calls: list[tuple[str, str]] = []

    def list_namespaced_custom_object(self, group: str, version: str, namespace: str, plural: str) -> Any:
        self.calls.append((namespace, plural))
        items = [i for i in self.items.get(plural, []) if i["metadata"].get("namespace") == namespace]
        return {"items": items}

    def list_cluster_custom_object(self, group: str, version: str, plural: str) -> Any:
        if plural == self.broken:
            raise RuntimeError("(404)\nReason: Not Found")
        self.calls.append(("", plural))
        return {"items": self.items.get(plural, [])}


def test_all_kinds_load_from_the_cluster_and_a_bad_object_is_one_line() -> None:
    require(PROFILES.is_dir(), f"{PROFILES} missing")
    profiles, errors = load_from_cluster(FakeCustomObjects())
    assert len(profiles) == len(list(PROFILES.glob("*.yaml")))
    assert {p.kind for p in profiles} == {"ApplicationProfile", "ContainerProfile", "NetworkNeighborhood"}
    assert errors == ["applicationprofiles//broken: spec: expected a mapping, got list"]


def test_namespace_filter_and_missing_kind_are_reported_not_fatal() -> None:
    require(PROFILES.is_dir(), f"{PROFILES} missing")
    api = FakeCustomObjects(broken_plural="containerprofiles")
    profiles, _ = load_from_cluster(api, "argocd")
    assert {p.namespace for p in profiles} == {"argocd"}
    assert api.calls == [
        ("argocd", "applicationprofiles"),
        ("argocd", "containerprofiles"),
        ("argocd", "networkneighborhoods"),
    ]
    _, errors = load_from_cluster(api)
    assert (
        errors[-1] == "containerprofiles: cannot list: (404)"
        or "containerprofiles: cannot list: (404)" in errors
    )
