"""Every event of a container's cgroup is the container's, even when all its processes have
exited before the agent looked: the cgroup id itself names the container.

A container whose processes live for milliseconds (`/bin/true`, `/bin/cat`) is traced alone
(`--cgroup-id`); every record the agent writes for that cgroup must name the container, and
nothing may be counted as unattributed.
"""

from __future__ import annotations

import pytest

from conftest import require
from support import runc
from support.agent_process import AgentProcess
from support.kernel import kernel_ready

pytestmark = pytest.mark.kernel

SHORT_LIVED = "/bin/true; /bin/cat /etc/hostname; /bin/true"


def test_short_lived_container_events_all_name_the_container(tmp_path) -> None:
    ok, why = kernel_ready()
    require(ok, why)
    require(runc.BUSYBOX.exists(), "busybox-static not installed")
    ctr = runc.make_bundle(tmp_path / "bundle", ["/bin/sh", "-c", SHORT_LIVED])
    cgroup_id = runc.precreate_cgroup(ctr)
    agent = AgentProcess(tmp_path, ["--cgroup-id", str(cgroup_id)], outputs=("json",)).start()
    result = runc.run(ctr)
    assert result.returncode == 0, result.stderr.decode()
    agent.wait_for(lambda r: r["syscall"] == "exit" and r["comm"] == "sh")
    stats = agent.stop()
    mine = [r for r in agent.records if r["cgroup_id"] == cgroup_id]
    assert any(r["resource"] == "/etc/hostname" for r in mine), "the container's file open was traced"
    orphans = [(r["syscall"], r["comm"]) for r in mine if not r["container"]]
    assert orphans == [], "events of the container's cgroup sent as host events"
    assert {r["container"]["container_id"] for r in mine} == {ctr.container_id}
    assert stats["agent"]["unattributed"] == 0
