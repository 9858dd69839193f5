"""A runc container started by name, with no cgroupsPath (runc then uses `/<name>`), is a
container of that name to the agent: its cgroup names no 64-hex id, runc's state does."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from beholder.enrich.containers import ContainerRegistry
from conftest import require
from support import runc
from support.kernel import kernel_ready

pytestmark = pytest.mark.kernel


def test_a_runc_container_named_web_is_container_web(tmp_path: Path) -> None:
    ok, why = kernel_ready()
    require(ok, why)
    require(runc.BUSYBOX.exists(), "busybox-static not installed")
    ctr = runc.make_bundle(tmp_path / "bundle", ["/bin/sleep", "30"])
    config_path = ctr.bundle / "config.json"
    config = json.loads(config_path.read_text())
    del config["linux"]["cgroupsPath"]  # runc's default: a cgroup named after the container
    config_path.write_text(json.dumps(config))
    proc = runc.start(ctr)
    try:
        pid = runc.running_pid(ctr)
        cgroup = Path(f"/proc/{pid}/cgroup").read_text()
        unified = next(line[3:] for line in cgroup.splitlines() if line.startswith("0::"))
        assert ctr.name in unified and ctr.container_id not in unified
        cgroup_id = os.stat(str(runc.cgroup2_root()) + unified).st_ino
        info = ContainerRegistry().resolve(pid, cgroup_id)
        assert info is not None and (info.container_id, info.runtime) == (ctr.name, "runc")
    finally:
        runc.stop(ctr, proc)
