"""Real tamper attempts from a separate process against a running agent raise BH-TAMPER-* alerts.

Every action is harmless to the agent: SIGCONT to a running process, a ptrace request that
fails without an attach, an open-for-write that writes nothing, a bpf() detach with an
empty attribute (EINVAL). The kernel still records each attempt, which is the point.
"""

from __future__ import annotations

import ctypes
import inspect
import os
import signal
from pathlib import Path
from typing import Any

import pytest

from beholder.cli import run_cmd
from beholder.selfprotect import RULE_BPF, RULE_FILE, RULE_PTRACE, RULE_SIGNAL
from conftest import require
from support.agent_process import AgentProcess

pytestmark = pytest.mark.kernel
SYS_BPF, BPF_PROG_DETACH, PTRACE_PEEKUSER = 321, 9, 3


def wired() -> bool:
    return "SelfProtection" in inspect.getsource(run_cmd)


def tamper_with(agent_pid: int, agent_file: Path) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    os.kill(agent_pid, signal.SIGCONT)
    libc.ptrace(PTRACE_PEEKUSER, agent_pid, None, None)  # not attached: fails with ESRCH
    os.close(os.open(agent_file, os.O_WRONLY | os.O_APPEND))
    attr = ctypes.create_string_buffer(128)
    libc.syscall(SYS_BPF, BPF_PROG_DETACH, attr, len(attr))  # empty attr: EINVAL


@pytest.fixture(scope="module")
def tamper_alerts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    from support.kernel import kernel_ready

    ok, why = kernel_ready()
    require(ok, why)
    require(wired(), "SelfProtection is not wired into `beholder run` yet (pipeline owner)")
    tmp = tmp_path_factory.mktemp("tamper")
    policy = tmp / "policy.yaml"
    policy.write_text("# an agent file handed to --policy\n")
    agent = AgentProcess(tmp, ["--policy", str(policy)]).start()
    try:
        tamper_with(agent.pid, policy)
        rules = {RULE_SIGNAL, RULE_PTRACE, RULE_FILE, RULE_BPF}
        agent.wait_for(lambda r: r.get("alert", {}).get("rule_id") == RULE_BPF, timeout=30)
    finally:
        agent.stop()
    return {
        r["alert"]["rule_id"]: r
        for r in agent.records
        if r.get("alert", {}).get("rule_id") in rules and r["host_pid"] == os.getpid()
    }


@pytest.mark.parametrize("rule", [RULE_SIGNAL, RULE_PTRACE, RULE_FILE, RULE_BPF])
def test_tamper_attempt_from_another_process_raises_its_alert(
    tamper_alerts: dict[str, dict[str, Any]], rule: str
) -> None:
    assert rule in tamper_alerts, sorted(tamper_alerts)
    assert tamper_alerts[rule]["alert"]["source"] == "policy"
