"""Render each Kustomize overlay once per session with the real `kubectl kustomize`."""

from __future__ import annotations

import shutil
import subprocess
from typing import Any

import pytest
import yaml

from conftest import ROOT, require

OVERLAY_DIR = ROOT / "deploy" / "kustomize" / "overlays"
OVERLAYS = ("agent-only", "agent-with-collector-sidecar", "agent-to-gateway")


def render(path: str) -> list[dict[str, Any]]:
    done = subprocess.run(
        ["kubectl", "kustomize", path], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, f"kubectl kustomize {path}: {done.stderr.strip()}"
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


@pytest.fixture(scope="session")
def rendered() -> dict[str, list[dict[str, Any]]]:
    require(shutil.which("kubectl") is not None, "kubectl (Debian package) is not installed")
    return {name: render(str(OVERLAY_DIR / name)) for name in OVERLAYS}
