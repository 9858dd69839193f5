"""`beholder run` hooks each traced syscall on its own syscalls:* tracepoint by default, so a
syscall it does not trace runs no BPF program; `--syscall-hooks raw` hooks the raw_syscalls
pair instead. Both deliver the same process, file and network events (read back from the
agent's KubeArmor output), and the agent holds one perf event per tracepoint it attached.
"""

from __future__ import annotations

import os
import socket
import subprocess
import uuid
from pathlib import Path

import pytest

from beholder.sensors.catalog import SENSORS, SYSCALL_TRACEPOINTS
from beholder.sensors.syscall_hooks import choose_hooks, syscall_roles
from conftest import require
from support.agent_process import AgentProcess
from support.kernel import kernel_ready

pytestmark = pytest.mark.kernel

PLAIN_TRACEPOINTS = {tp for s in SENSORS for tp in s.tracepoints if tp not in SYSCALL_TRACEPOINTS}


def _perf_events(pid: int) -> int:
    fds = Path(f"/proc/{pid}/fd")
    return sum(1 for fd in fds.iterdir() if _link(fd) == "anon_inode:[perf_event]")


def _link(fd: Path) -> str:
    try:
        return os.readlink(fd)
    except OSError:
        return ""


@pytest.mark.parametrize("hooks", ["per-syscall", "raw"])
def test_both_hooks_deliver_the_same_events(tmp_path: Path, hooks: str) -> None:
    ok, why = kernel_ready()
    require(ok, why)
    env = {"BEHOLDER_RUN_SYSCALL_HOOKS": hooks}  # the suite's agents default to raw (tests/conftest.py)
    agent = AgentProcess(tmp_path, ["--spool-dir", str(tmp_path / "spool")], ("kubearmor",), env).start()
    try:
        path = tmp_path / f"hooks-{uuid.uuid4().hex}"
        subprocess.run(["/bin/sh", "-c", f"echo x > {path}; cat {path} >/dev/null"], check=True)
        with socket.socket() as sock:
            assert sock.connect_ex(("127.0.0.1", 9)) != 0  # discard port, nothing listens
        assert agent.wait_for(
            lambda r: r.get("Operation") == "Process" and path.name in str(r.get("Resource"))
        )
        opened = agent.wait_for(
            lambda r: r.get("Operation") == "File" and str(path) in str(r.get("Resource"))
        )
        assert {r["Data"].split()[0] for r in opened} >= {"syscall=SYS_OPENAT"}
        connect = "sa_family=AF_INET sin_port=9 sin_addr=127.0.0.1"
        assert agent.wait_for(lambda r: r.get("Operation") == "Network" and r.get("Resource") == connect)
        attached = _perf_events(agent.pid)
    finally:
        agent.stop()
    stopping = [line for line in agent.stderr_path.read_text().splitlines() if "stopping:" in line]
    per_syscall = choose_hooks(syscall_roles(SENSORS), counting=False).tracepoints()
    assert not set(per_syscall) & set(SYSCALL_TRACEPOINTS), "this kernel has every per-syscall tracepoint"
    expected = per_syscall if hooks == "per-syscall" else SYSCALL_TRACEPOINTS
    assert attached == len(expected) + len(PLAIN_TRACEPOINTS)
    # the seconds a per-syscall agent takes to stop are announced, not a silent hang
    said = (
        f"beholder: stopping: detaching {len(per_syscall)} syscall tracepoints"
        " (the kernel waits for RCU at each), a few seconds"
    )
    assert stopping == ([said] if hooks == "per-syscall" else [])
