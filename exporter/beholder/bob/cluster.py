"""Profiles from the cluster: objects the Kubescape storage API serves, parsed like files.

The profile watches (beholder.sources.cluster) hand over every ApplicationProfile,
ContainerProfile and NetworkNeighborhood they hold; each goes through the same parser as
a file. A bad object is one error line naming its plural, namespace and name; the rest
still load.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from beholder.bob.profile import API_GROUP, Profile, ProfileError, parse_document

VERSION = "v1beta1"
PLURALS = {
    "ApplicationProfile": "applicationprofiles",
    "ContainerProfile": "containerprofiles",
    "NetworkNeighborhood": "networkneighborhoods",
}


def profiles_from_objects(objects: Iterable[Mapping[str, Any]]) -> tuple[list[Profile], list[str]]:
    """Parse listed/watched objects (kind and apiVersion filled in); errors as lines."""
    profiles: list[Profile] = []
    errors: list[str] = []
    for item in objects:
        kind = item.get("kind")
        plural = PLURALS.get(kind, f"{kind}") if isinstance(kind, str) else "?"
        meta = item.get("metadata")
        meta = meta if isinstance(meta, Mapping) else {}
        where = f"{plural}/{meta.get('namespace', '')}/{meta.get('name', '?')}"
        try:
            profiles.append(parse_document({"apiVersion": f"{API_GROUP}/{VERSION}", **item}, where))
        except ProfileError as exc:
            errors.append(str(exc))
    return profiles, errors
