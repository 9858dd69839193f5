"""The agent container as each overlay renders it, run for real on this host.

The rendered args and env are used unchanged except where a cluster path or address has no
meaning here: the metrics port (a free one), the spool directory, the Collector endpoint
(a local OTLP receiver) and the ConfigMap mounts, rebuilt in the kubelet's layout (a
timestamped directory, a `..data` link to it, and one link per key). This proves the flags
parse, the ConfigMap layout loads each policy once, the health paths answer on the metrics
port, and events (and, where the overlay pushes them, metrics) reach the endpoint it names.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from conftest import require
from support.kernel import kernel_ready
from tests.deploy.conftest import OVERLAYS
from tests.deploy.manifests import agent_pod, container, env_of
from tests.otel_export.receiver import Collector, HttpReceiver

pytestmark = pytest.mark.kernel

NODE = "deploy-e2e-node"
POLICY = f"""apiVersion: security.kubearmor.com/v1
kind: KubeArmorHostPolicy
metadata:
  name: deploy-e2e-audit-true
spec:
  nodeSelector:
    matchLabels:
      kubernetes.io/hostname: {NODE}
  process:
    matchPaths:
      - path: /usr/bin/true
  action: Audit
"""
ENDPOINT_VARS = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT")


def config_map_dir(root: Path, files: dict[str, str]) -> Path:
    """A directory laid out as the kubelet mounts a ConfigMap volume."""
    stamped = root / "..2026_01_01_00_00_00.000000001"
    stamped.mkdir(parents=True)
    for name, text in files.items():
        (stamped / name).write_text(text)
        (root / name).symlink_to(f"..data/{name}")
    (root / "..data").symlink_to(stamped.name)
    return root


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def local_args(args: list[str], tmp: Path, port: int) -> list[str]:
    """Rendered args with cluster paths and the listen address mapped to this host."""
    mounts = {
        "/etc/beholder/policies": config_map_dir(tmp / "policies", {"audit-true.yaml": POLICY}),
        "/etc/beholder/profiles": config_map_dir(tmp / "profiles", {}),
    }
    out = []
    for arg in args:
        flag, _, value = arg.partition("=")
        if flag == "--metrics-addr":
            value = f"127.0.0.1:{port}"
        elif flag == "--spool-dir":
            value = str(tmp / "spool")
        for mount, local in mounts.items():
            value = value.replace(mount, str(local))
        out.append(f"{flag}={value}")
    return out


def local_env(agent: dict, receiver_url: str) -> dict[str, str]:
    env = env_of(agent)
    env["NODE_NAME"] = NODE  # the downward API's spec.nodeName
    for name in ENDPOINT_VARS:
        if name in env:
            path = urlsplit(env[name]).path if name.endswith("_LOGS_ENDPOINT") else ""
            env[name] = receiver_url + ("/v1/logs" if path else "")
    return env


def status(port: int, path: str) -> int:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
        return response.status


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_rendered_agent_runs_and_reaches_its_endpoint(rendered: dict, overlay: str, tmp_path: Path) -> None:
    ready, why = kernel_ready()
    require(ready, why)
    agent = container(agent_pod(rendered[overlay])["spec"], "agent")
    collector = Collector()
    port = free_port()
    with HttpReceiver(collector) as receiver:
        env = {**os.environ, **local_env(agent, receiver.url)}
        pushes_metrics = "OTEL_EXPORTER_OTLP_ENDPOINT" in env
        ready_file = tmp_path / "ready"
        stderr = tmp_path / "agent.stderr"
        command = [sys.executable, "-m", "beholder.cli", "run", *local_args(agent["args"], tmp_path, port)]
        with stderr.open("wb") as err:
            proc = subprocess.Popen([*command, f"--ready-file={ready_file}"], env=env, stderr=err)
        try:
            deadline = time.monotonic() + 120
            while not ready_file.exists():
                assert proc.poll() is None, stderr.read_text()[-2000:]
                assert time.monotonic() < deadline, stderr.read_text()[-2000:]
                time.sleep(0.1)
            assert (status(port, "/healthz"), status(port, "/readyz")) == (200, 200)
            subprocess.run(["/usr/bin/true"], check=True)
            deadline = time.monotonic() + 30
            while not _alerts(collector) and time.monotonic() < deadline:
                time.sleep(0.2)
        finally:
            proc.terminate()
            proc.wait(timeout=60)
        log = stderr.read_text()
        assert "rejected" not in log, log
        assert "1 KubeArmor policies active" in log, log
        assert _alerts(collector) == {"deploy-e2e-audit-true"}
        assert bool(collector.metrics) == pushes_metrics


def _alerts(collector: Collector) -> set[str]:
    return {
        attr.value.string_value
        for record in collector.records()
        for attr in record.attributes
        if attr.key == "security_rule.name"
    }
