"""A plain runc container: its first process has namespace parent 0, and its runtime is named."""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

import pytest

from conftest import require
from support import runc
from support.agent_process import AgentProcess

pytestmark = pytest.mark.kernel


def test_container_pid_1_has_ns_ppid_0_and_runtime_runc(agent: AgentProcess, tmp_path: Path) -> None:
    require(runc.BUSYBOX.exists(), "busybox-static not installed")
    marker = uuid.uuid4().hex
    script = f"sleep 0.5; /bin/true {marker}; /bin/true"  # not last: sh would exec it as pid 1
    ctr = runc.make_bundle(tmp_path / "bundle", ["/bin/sh", "-c", script])
    result = runc.run(ctr)
    assert result.returncode == 0, result.stderr.decode()

    def ours(r: dict) -> bool:
        return r["syscall"] == "execve" and (r["container"] or {}).get("container_id") == ctr.container_id

    assert agent.wait_for(lambda r: ours(r) and marker in r["argv"], timeout=120)
    execs = [r for r in agent.by_output["json"] if ours(r)]
    assert {r["container"]["runtime"] for r in execs} == {"runc"}
    true = next(r for r in execs if marker in r["argv"])
    assert true["process"]["ns_ppid"] == 1, "the shell (pid 1 inside) is the parent"
    # The shell's own exec may precede runc's move into the container's cgroup (then it is
    # attributed to the host): find it by pid, wherever it was attributed.
    init = next(
        r
        for r in agent.by_output["json"]
        if r["syscall"] == "execve"
        and r["host_pid"] == true["process"]["ppid"]
        and r["resource"] == "/bin/sh"
    )
    assert (init["process"]["ns_pid"], init["process"]["ns_ppid"]) == (1, 0)
    kubearmor = agent.wait_for(
        lambda r: r.get("ContainerID") == ctr.container_id and r.get("Resource") == f"/bin/true {marker}",
        output="kubearmor",
        timeout=120,
    )
    assert kubearmor and kubearmor[0]["PPID"] == 1 and kubearmor[0]["PID"] > 1
    shell = [
        r
        for r in agent.by_output["kubearmor"]
        if r.get("HostPID") == init["host_pid"] and r.get("Resource", "").startswith("/bin/sh -c")
    ]
    # As a container record KubeArmor names namespace pids: PID 1; its parent (the runtime)
    # lives outside the namespace, so PPID is the runtime's host pid, equal to HostPPID (seed 002).
    in_container = [r for r in shell if r.get("ContainerID")]
    assert shell and all(r["PID"] == 1 and r["PPID"] == r["HostPPID"] > 0 for r in in_container)
    # PID 1's exec: the runtime (`runc run`, the parent) is ParentProcessName and Source, as
    # KubeArmor's UpdateLogBase writes them and seed 002's runc-started shell shows
    runc_path = os.path.realpath(shutil.which("runc") or "runc")
    assert {(r.get("ParentProcessName"), r.get("Source")) for r in shell} == {(runc_path, runc_path)}
