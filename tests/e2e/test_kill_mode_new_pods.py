"""Kill mode holds a new pod's rules before its first exec: its entrypoint cannot escape.

The agent runs with `--enforce kill`; then, as a cluster would, each pod is served by the
fake API, kubelet (this test) makes the pod's cgroup, and the container starts with a
Block-ruled script as its entrypoint. The pod's rules are in the kernel under the pod cgroup
before the container exists (the test waits for that, as kubelet's sandbox start would).
The containers then run while the agent is stopped (SIGSTOP): no event of theirs can reach
user space, so no container-level scope can be loaded in time, and the outcome depends on
the kernel alone. Every selected entrypoint dies by SIGKILL before it runs; an unselected
pod's identical entrypoint runs. The alerts follow once the agent continues.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import subprocess
import time
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

PODS = 5
TOKEN = uuid.uuid4().hex[:10]
ENTRYPOINT = f"/tmp/entry-{TOKEN}.sh"
POLICY = f"""
apiVersion: security.kubearmor.com/v1
kind: KubeArmorPolicy
metadata: {{name: entry-kill, namespace: shop}}
spec:
  selector: {{matchLabels: {{app.kubernetes.io/name: web}}}}
  process:
    matchPaths: [{{path: {ENTRYPOINT}}}]
  action: Block
"""
KILLED = 137
PR_SET_CHILD_SUBREAPER = 36


def _served_container(api: FakeKubeApi, root: Path, name: str, app: str) -> runc.Container:
    """A pod served by the API (its uid is the server's), then its container's bundle."""
    ctr = runc.make_bundle(root, [ENTRYPOINT])
    obj = make_pod(ctr.container_id, "", name=name)
    obj["metadata"]["labels"] = {"app.kubernetes.io/name": app}
    ctr.pod_uid = api.apply({"apiVersion": "v1", "kind": "Pod", **obj})["metadata"]["uid"]
    (ctr.bundle / "config.json").unlink()  # written again with the served uid in its cgroup path
    runc.write_config(ctr, [ENTRYPOINT])
    script = root / "rootfs" / ENTRYPOINT.lstrip("/")
    script.write_text("#!/bin/sh\n/bin/echo entrypoint ran\n")
    script.chmod(0o755)
    return ctr


@dataclass
class Exited:
    """How a container's process ended: its exit code as a shell would say it, its output."""

    returncode: int
    stdout: bytes


def _run_kept(ctr: runc.Container) -> Exited:
    """Run the container to its end and keep it (and its cgroup) until `runc delete`, so the
    agent can attribute its events after it continues. Its process is reaped here (this
    process is made a child subreaper), which gives its real exit status."""
    out = ctr.bundle / "stdout"
    with out.open("wb") as sink:
        subprocess.run(["runc", "create", "--bundle", str(ctr.bundle), ctr.name], stdout=sink, check=True)
    state = json.loads(subprocess.run(["runc", "state", ctr.name], capture_output=True, check=True).stdout)
    subprocess.run(["runc", "start", ctr.name], check=True)
    _, status = os.waitpid(state["pid"], 0)
    code = 128 + os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
    return Exited(code, out.read_bytes())


@pytest.fixture(scope="module")
def subreaper() -> Iterator[None]:
    """Orphaned container processes become this process's children, to be reaped with status."""
    libc = ctypes.CDLL(None, use_errno=True)
    assert libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    try:
        yield
    finally:
        libc.prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)


def _pod_cgroup(ctr: runc.Container) -> Path:
    """What kubelet makes before any container of the pod: the pod's own cgroup."""
    path = Path(str(runc.cgroup2_root()) + ctr.cgroups_path).parent
    path.mkdir(parents=True, exist_ok=True)
    return path


def _wait_scope(agent: AgentProcess, scope: int, timeout: float = 20) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if scope in enforce_scopes(agent.pid):
            return time.monotonic() - start
        time.sleep(0.01)
    raise AssertionError(
        f"pod scope {scope} never reached the kernel: {agent.stderr_path.read_text()[-2000:]}"
    )


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory, subreaper: None) -> Iterator[dict[str, Any]]:
    ok, why = kernel_ready()
    require(ok, why)
    require(runc.BUSYBOX.exists(), "busybox-static not installed")
    tmp = tmp_path_factory.mktemp("newpods")
    (tmp / "policy.yaml").write_text(POLICY)
    (tmp / "agent").mkdir()
    cgroups: list[Path] = []
    web: list[runc.Container] = []
    with FakeKubeApi([], "100") as api:
        args = ["--policy", str(tmp / "policy.yaml"), "--k8s-api-url", api.url, "--node-name", NODE,
                "--spool-dir", str(tmp / "spool"), "--no-alert-throttling", "--enforce", "kill",
                "--syscall-hooks", "per-syscall"]  # fmt: skip
        agent = AgentProcess(tmp / "agent", args, outputs=("kubearmor",)).start()
        try:
            waits: list[float] = []
            for i in range(PODS):
                web.append(_served_container(api, tmp / f"web{i}", f"web-new-{i}", "web"))
                cgroups.append(_pod_cgroup(web[-1]))
                waits.append(_wait_scope(agent, cgroups[-1].stat().st_ino))
            other = _served_container(api, tmp / "db", "db-new-0", "db")
            web.append(other)  # cleaned up with them
            cgroups.append(_pod_cgroup(other))
            time.sleep(max(waits) + 0.2)  # as long as any selected pod's scope took to load
            scoped = cgroups[-1].stat().st_ino in enforce_scopes(agent.pid)
            os.kill(agent.pid, signal.SIGSTOP)  # user space sees no event of the containers
            try:
                selected = [(ctr, _run_kept(ctr)) for ctr in web[:PODS]]
                unselected = (other, _run_kept(other), scoped)
            finally:
                os.kill(agent.pid, signal.SIGCONT)
            ids = {ctr.container_id for ctr, _ in selected}
            agent.wait_for(
                lambda r: len({a.get("ContainerID") for a in _alerts(agent)} & ids) == PODS, timeout=30
            )
            alerts = _alerts(agent)
        finally:
            stats = agent.stop()
            for ctr in web:
                subprocess.run(["runc", "delete", "--force", ctr.name], capture_output=True, check=False)
            for path in cgroups:
                for sub in [*path.glob("*/"), path]:
                    if sub.is_dir():
                        sub.rmdir()
    print(f"pod scope loaded {max(waits) * 1000:.0f} ms (max) after kubelet made the pod cgroup")
    yield {"selected": selected, "unselected": unselected, "alerts": alerts, "stats": stats}


def _alerts(agent: AgentProcess) -> list[dict[str, Any]]:
    return [r for r in agent.records if r.get("PolicyName") == "entry-kill"]


def test_every_selected_entrypoint_is_killed_before_it_runs(runs: dict[str, Any]) -> None:
    for ctr, done in runs["selected"]:
        assert done.returncode == KILLED, (ctr.name, done)
        assert b"entrypoint ran" not in done.stdout


def test_each_kill_is_alerted_as_block_killed(runs: dict[str, Any]) -> None:
    for ctr, _ in runs["selected"]:
        mine = [a for a in runs["alerts"] if a.get("ContainerID") == ctr.container_id]
        assert mine, f"no alert for {ctr.name}"
        assert {(a["Operation"], a["Action"], a["Enforcer"], a["Result"]) for a in mine} == {
            ("Process", "Block", "BPF-SIGKILL", "Killed (SIGKILL)")
        }
    assert runs["stats"]["enforce"]["killed"] >= PODS


def test_an_unselected_pods_identical_entrypoint_runs(runs: dict[str, Any]) -> None:
    ctr, done, scoped = runs["unselected"]
    assert not scoped
    assert (done.returncode, done.stdout) == (0, b"entrypoint ran\n")
    assert not [a for a in runs["alerts"] if a.get("ContainerID") == ctr.container_id]
