"""A real runc container with a kubelet-shaped cgroup is attributed to its container and pod."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from conftest import require
from support import runc
from support.agent_process import AgentProcess

pytestmark = pytest.mark.kernel


def test_runc_container_events_carry_container_id_and_pod_uid(agent: AgentProcess, tmp_path: Path) -> None:
    marker = uuid.uuid4().hex
    require(runc.BUSYBOX.exists(), "busybox-static not installed")
    # The pause lets the agent learn the container's pid namespace before the marker exec, as
    # it would for any container that lives longer than a blink.
    script = f"sleep 0.5; /bin/true {marker}; cat /etc/hostname"
    ctr = runc.make_bundle(tmp_path / "bundle", ["/bin/sh", "-c", script])
    result = runc.run(ctr)
    assert result.returncode == 0, result.stderr.decode()

    execs = agent.wait_for(lambda r: r["syscall"] == "execve" and marker in r["argv"])
    assert execs, "no exec event from inside the container"
    ev = execs[0]
    assert ev["container"] is not None, "container process attributed to the host"
    assert ev["container"]["container_id"] == ctr.container_id
    assert ev["container"]["pod_uid"] == ctr.pod_uid
    assert 0 < ev["process"]["ns_pid"] < ev["host_pid"], (
        "namespace pid should be known and differ from the host pid"
    )

    opens = agent.wait_for(
        lambda r: r["operation"] == "File" and r["resource"] == "/etc/hostname" and r["container"] is not None
        and r["container"]["container_id"] == ctr.container_id
    )  # fmt: skip
    assert opens, "file open inside the container not attributed"

    kubearmor = agent.wait_for(
        lambda r: r.get("ProcessName") == "/bin/true" and marker in r.get("Resource", ""), output="kubearmor"
    )
    assert kubearmor, "no KubeArmor record for the container exec"
    record = kubearmor[0]
    assert record["Type"] == "ContainerLog"
    assert record["ContainerID"] == ctr.container_id
    assert record["Resource"] == f"/bin/true {marker}"
    assert record["ProcessName"] == "/bin/true"
    assert record["Data"] == "syscall=SYS_EXECVE"
    assert record["PID"] == ev["process"]["ns_pid"]
    assert record["HostPID"] == ev["host_pid"]
