"""Fixtures for the reliability suite: a kernel check, the workload binary, a receiver, a policy."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from otel_export.receiver import Collector, GrpcReceiver

from conftest import REFERENCE, require
from reliability.harness import build_loops
from support.kernel import kernel_ready

NODE = "reliability-node"
PROFILE = REFERENCE / "kubescape" / "profiles" / "log4j-sbobs__ap-chain-backend.yaml"
AUDIT_POLICY = f"""apiVersion: security.kubearmor.com/v1
kind: KubeArmorHostPolicy
metadata:
  name: audit-true-and-missing-files
spec:
  nodeSelector:
    matchLabels:
      kubernetes.io/hostname: {NODE}
  severity: 3
  process:
    matchPaths:
    - path: /usr/bin/true
    - path: /bin/true
  file:
    matchDirectories:
    - dir: /nonexistent/
  action: Audit
"""


@pytest.fixture
def kernel() -> None:
    ok, why = kernel_ready()
    require(ok, why)


@pytest.fixture(scope="session")
def loops(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_loops(tmp_path_factory.mktemp("loops"))


@pytest.fixture
def receiver() -> Iterator[tuple[Collector, GrpcReceiver]]:
    collector = Collector()
    grpc_receiver = GrpcReceiver(collector).start()
    yield collector, grpc_receiver
    grpc_receiver.stop()


def agent_args(workdir: Path) -> list[str]:
    """`run` arguments for a policy (written to `workdir`), the reference profile and a spool."""
    policy = workdir / "audit.yaml"
    policy.write_text(AUDIT_POLICY)
    return ["--policy", str(policy), "--profile", str(PROFILE), "--host-name", NODE, "--node-name", NODE,
            "--spool-dir", str(workdir / "spool")]  # fmt: skip


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
