"""Faults around the agent: a missing API server, tracefs or tracepoint, SIGKILL and SIGTERM.

Kernel features are hidden only inside a private mount namespace (`unshare -m`), so the
machine's own tracefs is never touched.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from otel_export.receiver import Collector, GrpcReceiver

from conftest import require
from reliability.scenarios import MARKER, agent_running, marker_numbers
from support.agent_process import AgentProcess

pytestmark = pytest.mark.kernel
GRACE_S = 15  # what a pod's terminationGracePeriodSeconds would allow, minus margin
TRACEFS_ROOTS = ("/sys/kernel/tracing", "/sys/kernel/debug/tracing")


def run_markers(count: int, start: int = 0) -> None:
    for n in range(start, start + count):
        subprocess.run(["/bin/echo", MARKER, str(n)], stdout=subprocess.DEVNULL, check=True)


def json_markers(agent: AgentProcess, expected: int, timeout_s: float = 90) -> list[int]:
    """Marker numbers in the agent's native JSON output, waiting until `expected` are there."""
    deadline = time.monotonic() + timeout_s
    while True:
        agent.read_new("json")
        found = [
            int(r["argv"][2])
            for r in agent.by_output["json"]
            if r.get("syscall") == "execve" and len(r.get("argv") or ()) == 3 and r["argv"][1] == MARKER
        ]
        if len(found) >= expected or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


def in_private_mounts(agent: AgentProcess, mounts: list[str], no_mounting: bool = False) -> AgentProcess:
    """Rewrite the agent's command to run after `mount -t tmpfs` over each path, privately.

    `no_mounting` drops CAP_SYS_ADMIN from the agent, so it cannot mount tracefs back.
    """
    require(shutil.which("unshare") is not None and shutil.which("setpriv") is not None, "util-linux missing")
    script = "".join(f"mount -t tmpfs none {m} && " for m in mounts)
    drop = "setpriv --bounding-set -sys_admin " if no_mounting else ""
    agent.args = ["unshare", "-m", "--propagation", "private", "sh", "-c", f'{script}exec {drop}"$@"', "sh",
                  *agent.args]  # fmt: skip
    return agent


def test_unreachable_kubernetes_api_is_one_warning_and_events_still_flow(
    kernel: None, tmp_path: Path
) -> None:
    # On a Kubernetes node host telemetry is off by default (KubeArmor's hostVisibility): ask for it.
    k8s = ["--k8s-api-url", "http://127.0.0.1:1", "--node-name", "n1", "--host-visibility", "process,file"]
    agent = AgentProcess(tmp_path, k8s).start()
    run_markers(5)
    found = json_markers(agent, 5)
    stats = agent.stop()
    stderr = agent.stderr_path.read_text()
    assert len(found) == 5
    assert "Traceback" not in stderr
    assert "127.0.0.1:1" in stderr or stats["kubernetes"].get("errors", 0) > 0, stderr[-2000:]
    assert stderr.count("watch failed") == 1, "one warning for the API server, not one per watch"


def test_sensor_whose_tracepoint_is_missing_is_refused_and_the_others_run(
    kernel: None, tmp_path: Path
) -> None:
    hidden = [f"{root}/events/sock" for root in TRACEFS_ROOTS if Path(root, "events", "sock").is_dir()]
    require(bool(hidden), "tracefs has no sock events to hide")
    agent = in_private_mounts(AgentProcess(tmp_path), hidden).start()
    run_markers(3)
    found = json_markers(agent, 3)
    stats = agent.stop()
    stderr = agent.stderr_path.read_text()
    assert len(found) == 3
    assert stats["sensors"]["network"].startswith("refused: tracepoint sock/inet_sock_set_state")
    assert stats["sensors"]["process"] == "running"
    assert "sensor network disabled: tracepoint sock/inet_sock_set_state not available" in stderr


def test_missing_tracefs_is_one_clear_line(kernel: None, tmp_path: Path) -> None:
    agent = in_private_mounts(
        AgentProcess(tmp_path), ["/sys/kernel/tracing", "/sys/kernel/debug"], "/nonexistent"
    )
    proc = subprocess.run(agent.args, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "no sensor can run" in lines[0], proc.stderr


def test_unknown_sensor_is_one_clear_line(tmp_path: Path) -> None:
    agent = AgentProcess(tmp_path, ["--sensors", "process,bogus"])
    proc = subprocess.run(agent.args, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1].endswith("unknown sensor(s): bogus"), proc.stderr


def test_sigkill_mid_stream_then_restart_replays_the_spool_in_order(kernel: None, tmp_path: Path) -> None:
    collector = Collector()
    receiver = GrpcReceiver(collector).start()
    receiver.stop()  # collector down: everything the first agent exports goes to the spool
    with agent_running(tmp_path, receiver, outputs=("otlp", "json")) as first:
        run_markers(40)
        assert len(json_markers(first, 40, timeout_s=90)) == 40
        time.sleep(3)  # the export thread's first failed attempt moves queued batches to the spool
        first.proc.send_signal(signal.SIGKILL)
        assert first.proc.wait(30) == -signal.SIGKILL

    receiver.start()
    (tmp_path / "ready").unlink()
    try:
        with agent_running(tmp_path, receiver) as second:
            run_markers(10, start=40)
            deadline = time.monotonic() + 60
            while len(marker_numbers(collector.records())) < 50 and time.monotonic() < deadline:
                time.sleep(0.5)
            second.stop()
    finally:
        receiver.stop()
    received = marker_numbers(collector.records())
    assert received == sorted(received), "spooled records replay before newer ones, in order"
    lost = sorted(set(range(50)) - set(received))
    assert len(lost) <= 4 and all(n < 40 for n in lost), f"lost beyond the in-flight batch: {lost}"
    print(json.dumps({"sigkill_lost_markers": lost, "received": len(received)}))


def test_sigterm_flushes_everything_and_exits_within_the_grace_period(kernel: None, tmp_path: Path) -> None:
    collector = Collector()
    with (
        GrpcReceiver(collector) as receiver,
        agent_running(tmp_path, receiver, outputs=("otlp", "json")) as agent,
    ):
        run_markers(30)
        assert len(json_markers(agent, 30, timeout_s=90)) == 30
        agent.proc.send_signal(signal.SIGTERM)
        assert agent.proc.wait(GRACE_S) == 0
        assert marker_numbers(collector.records()) == list(range(30))
    assert not any((tmp_path / "spool").glob("*.seg")) or "spool drained" in agent.stderr_path.read_text()


def test_reliability_suite_runs_the_agent_from_this_interpreter() -> None:
    assert AgentProcess(Path("/tmp")).args[0] == sys.executable
