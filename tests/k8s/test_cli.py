"""`beholder k8s` and `beholder k8s pods` against the fake API server, and their one-line failures."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from beholder.cli.main import cli
from tests.k8s.fakeapi import NODE, FakeKubeApi
from tests.k8s.objects import application_profile, audit_exec, ksp, namespace


@pytest.fixture(autouse=True)
def plain_host(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("KUBECONFIG", "KUBERNETES_SERVICE_HOST", "NODE_NAME"):
        monkeypatch.delenv(name, raising=False)


def test_pods_lists_this_nodes_containers_with_workloads(api: FakeKubeApi) -> None:
    result = CliRunner().invoke(cli, ["k8s", "pods", "--node-name", NODE, "--k8s-api-url", api.url])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith(f"node {NODE}: 5 pods, 8 containers")
    nginx = "  shop/web-7d9c6b5f8d-x2lqp  nginx  containerd://c842e7e9efb6  docker.io/library/nginx:1.27"
    assert f"{nginx}  Deployment/web" in lines
    assert any("data/redis-0  redis  cri-o://" in line and "StatefulSet/redis" in line for line in lines)


def test_pods_json_is_one_object_per_container(api: FakeKubeApi) -> None:
    result = CliRunner().invoke(cli, ["k8s", "pods", "--node-name", NODE, "--k8s-api-url", api.url, "--json"])
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in result.output.splitlines()]
    assert len(records) == 8
    backup = next(r for r in records if r["name"] == "backup")
    assert (backup["workload_kind"], backup["workload_name"], backup["namespace"]) == (
        "CronJob",
        "backup",
        "ops",
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "Kubernetes is not configured"),
        (
            ["--k8s-api-url", "http://127.0.0.1:1", "--wait", "0.2"],
            "no pod list from api-url http://127.0.0.1:1",
        ),
        (["--kubeconfig", "/nonexistent/kubeconfig"], "kubeconfig /nonexistent/kubeconfig"),
    ],
)
def test_pods_fails_with_one_line(args: list[str], message: str) -> None:
    result = CliRunner().invoke(cli, ["k8s", "pods", *args])
    assert result.exit_code == 1
    error_lines = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(error_lines) == 1
    assert message in error_lines[0]


@pytest.mark.parametrize(
    ("args", "first"),
    [
        (
            ["--k8s-api-url", "http://127.0.0.1:1", "--wait", "3600"],
            "Error: no pod list from api-url http://127.0.0.1:1: ",
        ),
        (["--kubeconfig", "{bad}"], "Error: Kubernetes is not configured: kubeconfig {bad}:2:1: expected"),
    ],
    ids=["connection refused", "bad kubeconfig yaml"],
)
def test_real_cli_fails_fast_with_exactly_one_line(tmp_path, args: list[str], first: str) -> None:
    """A real process: the watcher's own warnings must not repeat the error on stderr."""
    import subprocess
    import sys

    bad = tmp_path / "kubeconfig"
    bad.write_text("clusters: [\n")
    proc = subprocess.run(
        [sys.executable, "-m", "beholder.cli", "k8s", "pods", *(a.format(bad=bad) for a in args)],
        capture_output=True,
        text=True,
        timeout=300,  # far below --wait 3600: the refused connection, not the wait, ends the command
    )
    assert proc.returncode == 1
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith(first.format(bad=bad))


def test_k8s_shows_policies_postures_visibility_and_bound_profiles(api: FakeKubeApi) -> None:
    api.apply(ksp("audit-cat", "shop", audit_exec("/bin/cat", {"app": "web"})))
    api.apply(namespace("shop", kubearmor_file_posture="block", kubearmor_visibility="none"))
    api.apply(
        application_profile("web", "shop", "nginx", ["/usr/sbin/nginx"], workload=("Deployment", "web"))
    )
    args = ["k8s", "--node-name", NODE, "--k8s-api-url", api.url, "--defaultNetworkPosture", "block"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "  shop/web-7d9c6b5f8d-x2lqp  nginx  containerd://c842e7e9efb6  profile web" in lines
    assert "  KubeArmorPolicy shop/audit-cat  (cluster)" in lines
    assert "  default: audit/block/audit" in lines and "  shop: block/block/audit" in lines
    assert "  host: none" in lines and "  shop: none" in lines
    assert "  ApplicationProfile shop/web  (cluster)" in lines
    assert "  KubeArmorPolicy: 1 objects, connected" in lines

    state = json.loads(CliRunner().invoke(cli, [*args, "--json"]).stdout)
    assert state["bound_profiles"] == {} and state["problems"] == []
    assert {p["name"]: p["profile"] for p in state["pods"]}["nginx"] == "web"
