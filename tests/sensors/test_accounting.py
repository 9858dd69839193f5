"""The kernel's books balance: every event it saw was sent, folded as a repeat, or counted lost,
and user space received every one it sent."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from conftest import require
from support import runc
from support.agent_process import AgentProcess
from support.kernel import kernel_ready

pytestmark = pytest.mark.kernel


def test_seen_equals_emitted_plus_suppressed_plus_lost(tmp_path: Path) -> None:
    ok, why = kernel_ready()
    require(ok, why)
    agent = AgentProcess(tmp_path, ["--dedup-window-ms", "500", "--syscall-counts"]).start()
    target = tmp_path / "f"
    target.write_text("x")
    for _ in range(200):
        os.close(os.open(target, os.O_RDONLY))
    for _ in range(20):
        subprocess.run(["/bin/true"], check=True)
    ctr = runc.make_bundle(tmp_path / "bundle", ["/bin/sh", "-c", "sleep 0.5; cat /etc/hostname; ls /"])
    assert runc.run(ctr).returncode == 0
    stats = agent.stop()
    kernel, user = stats["kernel"], stats["agent"]
    assert kernel["seen"] > 0
    assert kernel["seen"] == kernel["emitted"] + kernel["suppressed"] + kernel["lost"]
    assert kernel["suppressed"] > 0, "200 identical opens should fold"
    assert user["records"] == kernel["emitted"], "user space must receive every record the kernel sent"
    assert user["decoded"] == user["records"] and user["decode_errors"] == 0
    assert user["queue_dropped_records"] == 0
    assert len(agent.records) == user["decoded"] + user["alerts"]  # json output carries alerts too

    counted = stats["syscalls"].get(ctr.container_id, {})
    assert counted.get("execve", 0) >= 1, f"kernel syscall counts for the container: {counted}"
    assert counted.get("openat", 0) >= 1 and counted.get("getdents64", 0) >= 1
