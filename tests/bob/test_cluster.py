"""Profiles watched from the cluster go through the same parser as files."""

from __future__ import annotations

from typing import Any

import yaml

from beholder.bob.cluster import profiles_from_objects
from conftest import REFERENCE, require

PROFILES = REFERENCE / "kubescape" / "profiles"


def _listed() -> list[dict[str, Any]]:
    """The reference profiles as a watch store holds them (kind filled in, apiVersion not)."""
    items = []
    for path in sorted(PROFILES.glob("*.yaml")):
        doc = yaml.safe_load(path.read_text())
        doc.pop("apiVersion")
        items.append(doc)
    return items


def test_all_kinds_parse_and_a_bad_object_is_one_line_naming_it() -> None:
    require(PROFILES.is_dir(), f"{PROFILES} missing")
    broken = {"kind": "ApplicationProfile", "metadata": {"name": "broken", "namespace": "shop"}, "spec": []}
    profiles, errors = profiles_from_objects([*_listed(), broken])
    assert len(profiles) == len(list(PROFILES.glob("*.yaml")))
    assert {p.kind for p in profiles} == {"ApplicationProfile", "ContainerProfile", "NetworkNeighborhood"}
    assert errors == ["applicationprofiles/shop/broken: spec: expected a mapping, got list"]


def test_namespaces_of_listed_profiles_are_kept() -> None:
    require(PROFILES.is_dir(), f"{PROFILES} missing")
    profiles, _ = profiles_from_objects(_listed())
    expected = {d["metadata"].get("namespace", "") for d in _listed()}
    assert {p.namespace for p in profiles} == expected
