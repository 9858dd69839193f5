"""Lookups in rendered manifests, shared by the manifest and agent-container tests."""

from __future__ import annotations

from typing import Any


def find(docs: list[dict[str, Any]], kind: str, name: str | None = None) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)]


def one(docs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    found = find(docs, kind, name)
    assert len(found) == 1, f"{kind}/{name}: {len(found)} rendered"
    return found[0]


def pod_specs(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [d["spec"]["template"]["spec"] for d in docs if d["kind"] in ("DaemonSet", "Deployment")]


def agent_pod(docs: list[dict[str, Any]]) -> dict[str, Any]:
    return one(docs, "DaemonSet", "beholder")["spec"]["template"]


def container(pod_spec: dict[str, Any], name: str) -> dict[str, Any]:
    return next(c for c in pod_spec["containers"] if c["name"] == name)


def env_of(c: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e["value"] for e in c.get("env", []) if "value" in e}


def arg(c: dict[str, Any], flag: str) -> list[str]:
    return [a.split("=", 1)[1] for a in c.get("args", []) if a.startswith(f"{flag}=")]
