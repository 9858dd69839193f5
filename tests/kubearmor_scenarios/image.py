"""KubeArmor's test image and its pods, rebuilt from Debian packages.

The image (kubearmor/ubuntu-w-utils) is Ubuntu 18.04 with network tools, two users' worth
of files and two small C programs. Debian bookworm without merged /usr keeps the paths the
policies name (/bin/cat, /bin/dash, /bin/su, /usr/bin/curl, /usr/bin/head); the Dockerfile's
own steps run as a customize hook (customize-image.sh). Services the entrypoint starts
(flask, iperf3, apache2) are not started: no scenario talks to them.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from conftest import REFERENCE

TEST_IMAGE = REFERENCE / "kubearmor" / "test-image"
HOOK_SCRIPT = Path(__file__).resolve().parent / "customize-image.sh"
IMAGE = "kubearmor/ubuntu-w-utils:latest"
# What the scenarios' commands run: shells, coreutils, su, curl/wget, ping/arping, diff.
PACKAGES = (
    "bash", "dash", "coreutils", "util-linux", "login", "passwd", "diffutils", "procps",
    "curl", "wget", "iputils-ping", "arping", "iproute2",
)  # fmt: skip


def customize_hook() -> str:
    """The hook command; its inputs' digest is part of it so the cache follows their content."""
    digest = hashlib.sha256()
    for path in (
        HOOK_SCRIPT,
        TEST_IMAGE / "helloworld" / "hello.c",
        TEST_IMAGE / "readwrite" / "readwrite.c",
    ):
        digest.update(path.read_bytes())
    return f'sh {HOOK_SCRIPT} "$1" {TEST_IMAGE}  # inputs {digest.hexdigest()[:16]}'


@dataclass(frozen=True)
class Deployment:
    """One Deployment of the test image: where its pod lives and how it is labelled."""

    name: str
    namespace: str
    labels: dict[str, str]
    container: str


def deployments() -> dict[tuple[str, str], Deployment]:
    """The test image's Deployments, keyed by (namespace, deployment name)."""
    found: dict[tuple[str, str], Deployment] = {}
    for manifest in sorted(TEST_IMAGE.glob("*-deployment.yaml")):
        for doc in yaml.safe_load_all(manifest.read_text()):
            if not doc or doc.get("kind") != "Deployment":
                continue
            meta, template = doc["metadata"], doc["spec"]["template"]
            found[(meta["namespace"], meta["name"])] = Deployment(
                name=meta["name"],
                namespace=meta["namespace"],
                labels={str(k): str(v) for k, v in template["metadata"]["labels"].items()},
                container=template["spec"]["containers"][0]["name"],
            )
    return found


def pod_object(deployment: Deployment, container_id: str, pod_uid: str, node: str) -> dict[str, Any]:
    """The Pod the API server would report for one replica running `container_id` (runc)."""
    template_hash = hashlib.sha256(deployment.name.encode()).hexdigest()[:10]
    replica_set = f"{deployment.name}-{template_hash}"
    return {
        "metadata": {
            "name": f"{replica_set}-{uuid.uuid4().hex[:5]}",
            "namespace": deployment.namespace,
            "uid": pod_uid,
            "labels": {**deployment.labels, "pod-template-hash": template_hash},
            "ownerReferences": [
                {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": replica_set, "controller": True}
            ],
        },
        "spec": {"nodeName": node, "containers": [{"name": deployment.container, "image": IMAGE}]},
        "status": {
            "phase": "Running",
            "containerStatuses": [
                {
                    "name": deployment.container,
                    "ready": True,
                    "image": f"docker.io/{IMAGE}",
                    "containerID": f"containerd://{container_id}",
                }
            ],
        },
    }
