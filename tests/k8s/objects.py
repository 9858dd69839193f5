"""Cluster objects as `kubectl apply -f` would send them, for the fake API server."""

from __future__ import annotations

from typing import Any

KUBEARMOR = "security.kubearmor.com/v1"
KUBESCAPE = "spdx.softwarecomposition.kubescape.io/v1beta1"


def ksp(name: str, namespace: str, spec: dict[str, Any], kind: str = "KubeArmorPolicy") -> dict[str, Any]:
    """A KubeArmorPolicy (or, with `kind`, a host or cluster policy; those have no namespace)."""
    meta = {"name": name, "namespace": namespace} if namespace else {"name": name}
    return {"apiVersion": KUBEARMOR, "kind": kind, "metadata": meta, "spec": spec}


def audit_exec(path: str, labels: dict[str, str], action: str = "Audit") -> dict[str, Any]:
    """A policy spec that matches exec of `path` in containers with `labels`."""
    return {
        "selector": {"matchLabels": labels},
        "process": {"matchPaths": [{"path": path}]},
        "severity": 5,
        "action": action,
    }


def namespace(name: str, **annotations: str) -> dict[str, Any]:
    """A Namespace with KubeArmor annotations (`kubearmor_visibility=…` → `kubearmor-visibility`)."""
    notes = {k.replace("_", "-"): v for k, v in annotations.items()}
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": name, "labels": {"kubernetes.io/metadata.name": name}, "annotations": notes},
        "spec": {"finalizers": ["kubernetes"]},
        "status": {"phase": "Active"},
    }


def application_profile(
    name: str, namespace: str, container: str, execs: list[str], workload: tuple[str, str] | None = None
) -> dict[str, Any]:
    """A user-defined ApplicationProfile allowing `execs` for one container."""
    labels = (
        {"kubescape.io/workload-kind": workload[0], "kubescape.io/workload-name": workload[1]}
        if workload
        else {}
    )
    return {
        "apiVersion": KUBESCAPE,
        "kind": "ApplicationProfile",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": labels,
            "annotations": {"kubescape.io/status": "completed", "kubescape.io/completion": "complete"},
        },
        "spec": {
            "architectures": ["amd64"],
            "containers": [
                {
                    "name": container,
                    "execs": [{"path": p, "args": [p]} for p in execs],
                    "opens": [],
                    "syscalls": [],
                    "capabilities": [],
                    "endpoints": [],
                }
            ],
        },
    }
