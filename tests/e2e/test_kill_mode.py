"""Kill mode for real: `beholder run --enforce kill` SIGKILLs Block-rule callers in a runc pod.

Two busybox containers: `web` (a pod the policy selects through the fake API) and `other`
(not selected). Block rules: reading a secret file, writing a readOnly file, executing a
script. Each blocked command in `web` must die by SIGKILL before it prints, writes or runs
anything; the same commands in `other`, on the host, and `web`'s own PID 1 stay untouched.
Without `--enforce` the same commands run and the alerts say `Audit (Block)`.
"""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from conftest import require
from support import runc
from support.agent_maps import enforce_scopes
from support.agent_process import AgentProcess
from support.kernel import kernel_ready
from tests.k8s.fakeapi import NODE, FakeKubeApi, make_pod

pytestmark = pytest.mark.kernel

TOKEN = uuid.uuid4().hex[:10]
SECRET = f"/tmp/secret-{TOKEN}.txt"
LEDGER = f"/tmp/ledger-{TOKEN}.txt"
PAYLOAD = f"/tmp/payload-{TOKEN}.sh"
PWNED = f"/tmp/pwned-{TOKEN}"
POLICY = f"""
apiVersion: security.kubearmor.com/v1
kind: KubeArmorPolicy
metadata: {{name: kill-test, namespace: shop}}
spec:
  selector: {{matchLabels: {{app.kubernetes.io/name: web}}}}
  severity: 8
  file:
    matchPaths:
    - path: {SECRET}
    - path: {LEDGER}
      readOnly: true
  process:
    matchPaths: [{{path: {PAYLOAD}}}]
  action: Block
"""
KILLED = 137  # 128 + SIGKILL, as runc exec reports a process killed by a signal


@dataclass
class Pod:
    container: runc.Container
    proc: subprocess.Popen[bytes]
    rootfs: Path

    def run(self, *argv: str) -> subprocess.CompletedProcess[str]:
        return runc.exec_in(self.container, list(argv), timeout=30)

    def pid1_alive(self) -> bool:
        state = subprocess.run(["runc", "state", self.container.name], capture_output=True, text=True)
        return state.returncode == 0 and json.loads(state.stdout)["status"] == "running"


def _cgroup_dir(pod: Pod) -> Path:
    return Path(str(runc.cgroup2_root()) + pod.container.cgroups_path)


def _pod(root: Path) -> Pod:
    ctr = runc.make_bundle(root, ["/bin/sleep", "3600"])
    rootfs = root / "rootfs"
    (rootfs / SECRET.lstrip("/")).write_text("top secret\n")
    (rootfs / LEDGER.lstrip("/")).write_text("original\n")
    payload = rootfs / PAYLOAD.lstrip("/")
    payload.write_text(f"#!/bin/sh\n/bin/touch {PWNED}\n/bin/echo payload ran\n")
    payload.chmod(0o755)
    runc.precreate_cgroup(ctr)
    proc = runc.start(ctr)
    return Pod(ctr, proc, rootfs)


@pytest.fixture(scope="module")
def pods(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    ok, why = kernel_ready()
    require(ok, why)
    require(runc.BUSYBOX.exists(), "busybox-static not installed")
    tmp = tmp_path_factory.mktemp("kill")
    (tmp / "policy.yaml").write_text(POLICY)
    web, other = _pod(tmp / "web"), _pod(tmp / "other")
    pod_objects = [make_pod(web.container.container_id, web.container.pod_uid)]
    other_pod = make_pod(other.container.container_id, other.container.pod_uid, name="db-5f8d-e2e02")
    other_pod["metadata"]["labels"] = {"app.kubernetes.io/name": "db"}
    pod_objects.append(other_pod)
    host_files = [Path(SECRET), Path(LEDGER)]
    for path in host_files:
        path.write_text("host copy\n")
    try:
        with FakeKubeApi(pod_objects, "100") as api:
            yield {"web": web, "other": other, "api": api, "tmp": tmp}
    finally:
        for pod in (web, other):
            runc.stop(pod.container, pod.proc)
        for path in host_files:
            path.unlink(missing_ok=True)


def _agent(pods: dict[str, Any], name: str, enforce: bool) -> AgentProcess:
    workdir = pods["tmp"] / name
    workdir.mkdir()
    args = ["--policy", str(pods["tmp"] / "policy.yaml"), "--k8s-api-url", pods["api"].url,
            "--node-name", NODE, "--spool-dir", str(workdir / "spool"), "--no-alert-throttling"]  # fmt: skip
    if enforce:
        args += [
            "--enforce",
            "kill",
            "--syscall-hooks",
            "per-syscall",
        ]  # judged where `run` judges by default
    agent = AgentProcess(workdir, args, outputs=("kubearmor",)).start()
    # the pod's rules reach the kernel when its first attributed event is evaluated
    web = pods["web"]
    marker = uuid.uuid4().hex
    web.run("/bin/echo", marker)
    seen = agent.wait_for(lambda r: marker in str(r.get("Resource", "")) and r.get("PodName"), timeout=30)
    assert seen, f"the agent never attributed the web pod: {agent.stderr_path.read_text()[-2000:]}"
    return agent


def _alerts(agent: AgentProcess, resource: str) -> list[dict[str, Any]]:
    def mine(r: dict[str, Any]) -> bool:
        return r.get("PolicyName") == "kill-test" and resource in str(r.get("Resource"))

    agent.wait_for(mine)
    return [r for r in agent.records if mine(r)]


@pytest.fixture(scope="module")
def enforced(pods: dict[str, Any]) -> Iterator[dict[str, Any]]:
    agent = _agent(pods, "enforced", enforce=True)
    web, other = pods["web"], pods["other"]
    results = {
        "cat": web.run("/bin/busybox", "cat", SECRET),
        "append": web.run("/bin/sh", "-c", f"/bin/echo changed >> {LEDGER}"),
        "read_ledger": web.run("/bin/cat", LEDGER),
        "payload": web.run(PAYLOAD),
        "other_cat": other.run("/bin/busybox", "cat", SECRET),
        "other_append": other.run("/bin/sh", "-c", f"/bin/echo changed >> {LEDGER}"),
        "host_cat": subprocess.run(["/bin/busybox", "cat", SECRET], capture_output=True, text=True),
    }
    alerts = {
        "cat": _alerts(agent, SECRET),
        "append": _alerts(agent, LEDGER),
        "payload": _alerts(agent, PAYLOAD),
    }
    stats = agent.stop()
    yield {"results": results, "alerts": alerts, "stats": stats, "agent": agent}


def test_blocked_cat_is_killed_before_it_prints(enforced: dict[str, Any]) -> None:
    done = enforced["results"]["cat"]
    assert done.returncode == KILLED, done
    assert done.stdout == ""


def test_blocked_write_is_killed_and_the_file_is_unchanged(enforced: dict[str, Any], pods: dict) -> None:
    done = enforced["results"]["append"]
    assert done.returncode == KILLED, done
    assert (pods["web"].rootfs / LEDGER.lstrip("/")).read_text() == "original\n"
    read = enforced["results"]["read_ledger"]  # readOnly: reading stays allowed
    assert (read.returncode, read.stdout) == (0, "original\n")


def test_blocked_exec_never_runs_its_payload(enforced: dict[str, Any], pods: dict) -> None:
    done = enforced["results"]["payload"]
    assert done.returncode == KILLED, done
    assert "payload ran" not in done.stdout
    assert not (pods["web"].rootfs / PWNED.lstrip("/")).exists()


def test_nothing_else_is_touched(enforced: dict[str, Any], pods: dict) -> None:
    results = enforced["results"]
    assert (results["other_cat"].returncode, results["other_cat"].stdout) == (0, "top secret\n")
    assert results["other_append"].returncode == 0
    assert (pods["other"].rootfs / LEDGER.lstrip("/")).read_text() == "original\nchanged\n"
    assert (results["host_cat"].returncode, results["host_cat"].stdout) == (0, "host copy\n")
    assert pods["web"].pid1_alive() and pods["other"].pid1_alive()


def test_alerts_say_block_by_sigkill(enforced: dict[str, Any], pods: dict) -> None:
    web_id = pods["web"].container.container_id
    for name, operation in (("cat", "File"), ("append", "File"), ("payload", "Process")):
        mine = [a for a in enforced["alerts"][name] if a.get("ContainerID") == web_id]
        assert mine, f"no kill-test alert for {name}"
        killed = [a for a in mine if a["Action"] == "Block"]
        assert killed, f"{name}: {mine}"
        assert {(a["Operation"], a["Enforcer"], a["Result"]) for a in killed} == {
            (operation, "BPF-SIGKILL", "Killed (SIGKILL)")
        }
    assert enforced["stats"]["enforce"]["killed"] >= 3


def test_without_enforce_block_stays_audit(pods: dict[str, Any]) -> None:
    agent = _agent(pods, "audit", enforce=False)
    web = pods["web"]
    try:
        done = web.run("/bin/busybox", "cat", SECRET)
        assert (done.returncode, done.stdout) == (0, "top secret\n")
        alerts = _alerts(agent, SECRET)
    finally:
        agent.stop()
    assert alerts and {(a["Action"], a["Enforcer"], a["Result"]) for a in alerts} == {
        ("Audit (Block)", "eBPF Monitor", "Passed")
    }


def test_start_lines_say_what_is_enforced(enforced: dict[str, Any]) -> None:
    lines = enforced["agent"].stderr_path.read_text().splitlines()
    assert any(line.startswith("beholder: BPF-LSM: ") and "-EPERM" in line for line in lines)
    assert any("kill mode on:" in line for line in lines)
    assert any("policy: kill mode:" in line for line in lines)


def test_an_exited_pods_kill_entries_leave_the_kernel_when_the_next_pod_comes(pods: dict[str, Any]) -> None:
    """A selected pod's rules are loaded under its cgroup; once it has exited and its cgroup is
    gone, the next pod's arrival removes them (they no longer wait for the agent's restart),
    while the running pod keeps its entries."""
    agent = _agent(pods, "prune", enforce=True)
    started: list[Pod] = []

    def selected_pod(name: str) -> tuple[Pod, int]:
        pod = _pod(pods["tmp"] / name)
        started.append(pod)
        obj = make_pod(pod.container.container_id, pod.container.pod_uid, name=f"web-{name}-e2e")
        pods["api"].apply({"apiVersion": "v1", "kind": "Pod", **obj})
        marker = uuid.uuid4().hex
        for _ in range(20):  # the pod watcher learns the pod while its commands run
            pod.run("/bin/echo", marker)
            if agent.wait_for(lambda r: marker in str(r.get("Resource")) and r.get("PodName"), timeout=2):
                break
        scope = _cgroup_dir(pod).stat().st_ino
        assert scope in enforce_scopes(agent.pid), f"{name}'s rules never reached the kernel"
        return pod, scope

    try:
        web_scope = _cgroup_dir(pods["web"]).stat().st_ino
        gone, gone_scope = selected_pod("gone")
        runc.stop(gone.container, gone.proc)
        if _cgroup_dir(gone).exists():
            _cgroup_dir(gone).rmdir()
        _, next_scope = selected_pod("next")
        scopes = enforce_scopes(agent.pid)
        assert gone_scope not in scopes and {web_scope, next_scope} <= scopes
    finally:
        agent.stop()
        for pod in started:
            runc.stop(pod.container, pod.proc)
