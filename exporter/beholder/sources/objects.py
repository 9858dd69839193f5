"""The current objects of one watched kind, as the API server last described them.

A list+watch loop writes (replace on every list, upsert/delete per watch event); after
each change the store tells its owner, which rebuilds whatever depends on the kind. Items
of a CRD list may lack `kind`/`apiVersion`, so the store puts them back: every consumer
parses objects exactly as it parses files.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any


def object_key(obj: Mapping[str, Any]) -> tuple[str, str] | None:
    """(namespace, name), or None for an object without a name."""
    meta = obj.get("metadata")
    if not isinstance(meta, Mapping) or not isinstance(meta.get("name"), str) or not meta["name"]:
        return None
    namespace = meta.get("namespace")
    return (namespace if isinstance(namespace, str) else "", meta["name"])


class ObjectStore:
    """Thread-safe map (namespace, name) → object; `on_change(kind)` runs after each change."""

    def __init__(self, kind: str, api_version: str, on_change: Callable[[str], None]) -> None:
        self.kind = kind
        self.api_version = api_version
        self._on_change = on_change
        self._lock = threading.Lock()
        self._objects: dict[tuple[str, str], dict[str, Any]] = {}

    def objects(self) -> list[dict[str, Any]]:
        """Every object held, sorted by namespace and name (a stable order for the engines)."""
        with self._lock:
            return [self._objects[key] for key in sorted(self._objects)]

    def __len__(self) -> int:
        with self._lock:
            return len(self._objects)

    def replace(self, items: Iterable[Mapping[str, Any]]) -> int:
        fresh: dict[tuple[str, str], dict[str, Any]] = {}
        skipped = 0
        for item in items:
            key = object_key(item)
            if key is None:
                skipped += 1
                continue
            fresh[key] = self._typed(item)
        with self._lock:
            self._objects = fresh
        self._on_change(self.kind)
        return skipped

    def upsert(self, obj: Mapping[str, Any]) -> bool:
        key = object_key(obj)
        if key is None:
            return False
        with self._lock:
            self._objects[key] = self._typed(obj)
        self._on_change(self.kind)
        return True

    def delete(self, obj: Mapping[str, Any]) -> bool:
        key = object_key(obj)
        if key is None:
            return False
        with self._lock:
            self._objects.pop(key, None)
        self._on_change(self.kind)
        return True

    def _typed(self, obj: Mapping[str, Any]) -> dict[str, Any]:
        return {"apiVersion": self.api_version, "kind": self.kind, **obj}
