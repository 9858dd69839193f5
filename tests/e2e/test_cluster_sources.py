"""The agent as a cluster citizen: a real runc container in a pod served by the fake API,
policies, namespace annotations and profiles applied and removed while the agent runs,
and a ConfigMap-style policy volume swapped and reloaded (also on SIGHUP).

One long-running container execs `/bin/cat`, `/bin/ls` and `/bin/sleep` in a loop. A
change is known to be in force once an alert that depends on it (or on a marker applied
after it, on the same watch stream) arrives; everything the tests assert is about the
events that come after that point.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import require
from support import runc
from support.agent_process import AgentProcess
from support.kernel import kernel_ready
from tests.k8s.fakeapi import NODE, FakeKubeApi, make_pod
from tests.k8s.objects import application_profile, ksp, namespace

pytestmark = pytest.mark.kernel

WEB = {"app.kubernetes.io/name": "web"}
LOOP = "while true; do /bin/cat /etc/hostname; /bin/ls /tmp; /bin/sleep 0.2; done"
PROFILE_LABEL = "kubescape.io/user-defined-profile"


def _exec_policy(name: str, path: str, action: str = "Audit", severity: int = 5) -> dict[str, Any]:
    spec = {"selector": {"matchLabels": WEB}, "process": {"matchPaths": [{"path": path}]}, "action": action}
    return ksp(name, "shop", spec | {"severity": severity})


def _configmap_version(volume: Path, version: str, policy: dict[str, Any]) -> None:
    """Write one ConfigMap version and point `..data` at it, as kubelet does (atomic rename)."""
    directory = volume / f"..{version}"
    directory.mkdir()
    (directory / "policy.yaml").write_text(yaml.safe_dump(policy))
    (volume / "..data_tmp").symlink_to(directory.name)
    (volume / "..data_tmp").rename(volume / "..data")
    if not (volume / "policy.yaml").is_symlink():
        (volume / "policy.yaml").symlink_to("..data/policy.yaml")


class Cluster:
    """The running agent, its fake API and its container, with helpers on what it wrote."""

    def __init__(self, agent: AgentProcess, api: FakeKubeApi, ctr: runc.Container, volume: Path) -> None:
        self.agent, self.api, self.ctr, self.volume = agent, api, ctr, volume

    def mine(self, record: dict[str, Any]) -> bool:
        container = record.get("container") or {}
        return container.get("container_id") == self.ctr.container_id

    def alerts(self, rule: str, after_ns: int = 0) -> list[dict[str, Any]]:
        self.agent.read_new("json")
        return [
            r
            for r in self.agent.by_output["json"]
            if "alert" in r
            and r["alert"]["rule_id"] == rule
            and self.mine(r)
            and r["timestamp_ns"] > after_ns
        ]

    def telemetry(self, after_ns: int = 0) -> list[dict[str, Any]]:
        self.agent.read_new("json")
        return [
            r
            for r in self.agent.by_output["json"]
            if "alert" not in r and self.mine(r) and r["timestamp_ns"] > after_ns
        ]

    def first_alert(self, rule: str, after_ns: int = 0, timeout: float = 20) -> dict[str, Any]:
        found = self.agent.wait_for(
            lambda r: (
                "alert" in r
                and r["alert"]["rule_id"] == rule
                and self.mine(r)
                and r["timestamp_ns"] > after_ns
            ),
            timeout=timeout,
            output="json",
        )
        assert found, f"no {rule} alert after {after_ns}: {self.agent.stderr_path.read_text()[-1500:]}"
        return min(found, key=lambda r: r["timestamp_ns"])

    def kubearmor_alerts(self, rule: str) -> list[dict[str, Any]]:
        self.agent.read_new("kubearmor")
        return [
            r
            for r in self.agent.by_output["kubearmor"]
            if r.get("PolicyName") == rule and r.get("ContainerID") == self.ctr.container_id
        ]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    ok, why = kernel_ready()
    require(ok, why)
    require(runc.BUSYBOX.exists(), "busybox-static not installed")
    tmp = tmp_path_factory.mktemp("cluster")
    volume = tmp / "policies"
    volume.mkdir()
    _configmap_version(volume, "2026_12_02_12_00_00.1", _exec_policy("file-policy", "/bin/true"))
    ctr = runc.make_bundle(tmp / "bundle", ["/bin/sh", "-c", LOOP])
    cgroup_id = runc.precreate_cgroup(ctr)
    pod = make_pod(ctr.container_id, ctr.pod_uid)
    pod["metadata"]["labels"][PROFILE_LABEL] = "web-ap"
    with FakeKubeApi([pod], "100") as api:
        api.apply(namespace("shop"))
        agent = AgentProcess(
            tmp,
            ["--policy", str(volume), "--k8s-api-url", api.url, "--node-name", NODE,
             "--cgroup-id", str(cgroup_id), "--spool-dir", str(tmp / "spool"),
             "--no-alert-throttling"],  # the loop alerts many times a second; throttling has its own test
            outputs=("json", "kubearmor"),
        ).start()  # fmt: skip
        proc = runc.start(ctr)
        try:
            yield Cluster(agent, api, ctr, volume)
        finally:
            runc.stop(ctr, proc)
            agent.stop()


def test_policy_applied_while_running_alerts_and_deleted_stops(cluster: Cluster) -> None:
    cluster.api.apply(_exec_policy("audit-cat", "/bin/cat"))
    first = cluster.first_alert("audit-cat")
    assert first["resource"] == "/bin/cat" and first["container"]["pod_name"] == "web-7d9c6b5f8d-e2e01"
    cluster.api.remove("KubeArmorPolicy", "audit-cat", "shop")
    cluster.api.apply(_exec_policy("audit-ls", "/bin/ls"))  # same watch stream: in force after the delete
    marker = cluster.first_alert("audit-ls", after_ns=first["timestamp_ns"])["timestamp_ns"]
    cluster.first_alert("audit-ls", after_ns=marker)  # the loop ran again past the marker
    cats = [r for r in cluster.telemetry(after_ns=marker) if r["resource"] == "/bin/cat"]
    assert cats, "cat keeps running in the container"
    assert cluster.alerts("audit-cat", after_ns=marker) == [], "a deleted policy raises nothing"


def test_invalid_object_is_one_line_and_the_others_keep_working(cluster: Cluster) -> None:
    before = cluster.alerts("audit-ls")[-1]["timestamp_ns"]
    cluster.api.apply(
        ksp("bad", "shop", {"selector": {"matchLabels": WEB}, "process": {"matchPaths": [{"path": "cat"}]}})
    )
    cluster.api.apply(_exec_policy("audit-ls", "/bin/ls", severity=6))
    changed = cluster.agent.wait_for(
        lambda r: r.get("PolicyName") == "audit-ls" and r.get("Severity") == "6", output="kubearmor"
    )
    assert changed, "a valid change after an invalid object still applies"
    assert cluster.alerts("audit-ls", after_ns=before)
    rejected = [line for line in cluster.agent.stderr_path.read_text().splitlines() if "'shop/bad'" in line]
    assert len(rejected) == 1 and "spec.process.matchPaths[0].path" in rejected[0]


def test_namespace_posture_flip_turns_default_posture_alerts_into_block(cluster: Cluster) -> None:
    cluster.api.remove("KubeArmorPolicy", "audit-ls", "shop")
    cluster.api.remove("KubeArmorPolicy", "bad", "shop")
    allow = {"selector": {"matchLabels": WEB}, "action": "Allow"}
    allow["process"] = {"matchPaths": [{"path": p} for p in ("/bin/sh", "/bin/cat", "/bin/sleep")]}
    cluster.api.apply(ksp("allow-tools", "shop", allow))
    audit = cluster.agent.wait_for(
        lambda r: r.get("PolicyName") == "DefaultPosture" and r.get("ProcessName") == "/bin/ls",
        output="kubearmor",
    )
    assert audit and audit[0]["Action"] == "Audit"
    cluster.api.apply(namespace("shop", kubearmor_file_posture="block"))
    blocked = cluster.agent.wait_for(
        lambda r: (
            r.get("PolicyName") == "DefaultPosture"
            and r.get("Action") != "Audit"
            and r["Operation"] == "Process"
        ),
        output="kubearmor",
    )
    # BPF-LSM is refused on this kernel: monitor-only, so the block is reported, not claimed.
    assert blocked and blocked[0]["Action"] == "Audit (Block)" and blocked[0]["ProcessName"] == "/bin/ls"
    assert blocked[0]["Result"] == "Passed"


def test_visibility_none_removes_telemetry_but_policy_alerts_still_arrive(cluster: Cluster) -> None:
    cluster.api.apply(namespace("shop", kubearmor_file_posture="block", kubearmor_visibility="none"))

    def quiet_with_alerts() -> bool:
        shown = cluster.telemetry()
        last = max(r["timestamp_ns"] for r in shown) if shown else 0
        return len(cluster.alerts("DefaultPosture", after_ns=last)) >= 5

    cluster.agent.wait_for(lambda _: quiet_with_alerts(), timeout=30, output="json")
    assert quiet_with_alerts(), "alerts keep coming after the container's telemetry stopped"


def test_profile_applied_to_the_api_binds_to_the_labelled_pod(cluster: Cluster) -> None:
    profile = application_profile("web-ap", "shop", "nginx", ["/bin/sh", "/bin/cat", "/bin/sleep"])
    cluster.api.apply(profile)
    alert = cluster.first_alert("R0001")
    assert alert["resource"] == "/bin/ls"
    assert alert["alert"]["extra"]["profile.name"] == "web-ap"


def test_configmap_symlink_swap_and_sighup_reload_files(cluster: Cluster) -> None:
    _configmap_version(cluster.volume, "2026_12_02_12_05_00.2", _exec_policy("file-policy", "/bin/sleep"))
    alert = cluster.first_alert("file-policy")
    assert alert["resource"] == "/bin/sleep"
    os.kill(cluster.agent.pid, signal.SIGHUP)
    cluster.agent.wait_for(
        lambda _: "reloaded files (SIGHUP)" in cluster.agent.stderr_path.read_text(), output="json"
    )
    assert "reloaded files (SIGHUP)" in cluster.agent.stderr_path.read_text()
    cluster.first_alert("file-policy", after_ns=alert["timestamp_ns"])  # alive and evaluating after SIGHUP
    assert cluster.agent.proc is not None and cluster.agent.proc.poll() is None


def test_agent_stops_cleanly_and_reports_what_the_sources_held(cluster: Cluster) -> None:
    stats = cluster.agent.stop()
    assert cluster.agent.proc is not None and cluster.agent.proc.returncode == 0
    sources = stats["sources"]
    policies = {(p["name"], p["origin"]) for p in sources["policies"]}
    assert ("allow-tools", "cluster") in policies and (
        "file-policy",
        str(cluster.volume / "policy.yaml"),
    ) in policies
    assert sources["postures"]["shop"]["file"] == "block" and sources["visibility"]["shop"] == "none"
    assert stats["agent"]["hidden"] > 0
    assert stats["agent"]["unattributed"] == 0, "every event of the container's cgroup was named"
    assert sources["bound_profiles"] == {cluster.ctr.container_id: "web-ap"}
