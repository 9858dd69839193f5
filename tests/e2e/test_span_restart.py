"""A process's span survives a SIGKILLed agent: the real agent traces a host shell in a cgroup
of its own, is killed with SIGKILL while the shell's child (`sleep`) runs, and a second agent
on the same spool directory exports the child's span when it exits, with the trace and span
ids the first agent's log records of it carried.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from otel_export.receiver import Collector, GrpcReceiver

from beholder.otel import semconv as sc
from conftest import require
from support.agent_process import AgentProcess
from support.host_cgroup import HostCgroup, host_cgroup
from support.kernel import kernel_ready

pytestmark = pytest.mark.kernel
WAIT_S = 60


def values(kvs) -> dict[str, Any]:
    return {kv.key: getattr(kv.value, kv.value.WhichOneof("value")) for kv in kvs}


def wait(what: str, found: Callable[[], Any], poke: Callable[[], object] = lambda: None) -> Any:
    """`found()`'s first truthy answer; `poke` makes the traced cgroup busy meanwhile."""
    deadline = time.monotonic() + WAIT_S
    while not (answer := found()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        poke()
        time.sleep(0.3)
    return answer


@pytest.fixture
def cgroup() -> Iterator[HostCgroup]:
    with host_cgroup("span-restart") as made:
        yield made


def test_the_final_span_of_a_process_that_outlived_a_sigkilled_agent_has_its_earlier_ids(
    tmp_path: Path, cgroup: HostCgroup
) -> None:
    ok, why = kernel_ready()
    require(ok, why)

    def poke() -> None:
        cgroup.spawn(["/bin/true"]).wait()

    collector = Collector()
    with GrpcReceiver(collector) as rx:
        env = {"OTEL_EXPORTER_OTLP_ENDPOINT": rx.url, "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}
        args = ["--spool-dir", str(tmp_path / "spool"), "--cgroup-id", str(cgroup.id)]

        def agent(name: str) -> AgentProcess:
            (tmp_path / name).mkdir()
            return AgentProcess(tmp_path / name, args, outputs=("json", "otlp"), env=env).start()

        first = agent("first")
        shell = cgroup.spawn(["/bin/sh", "-c", "/bin/sleep 600; true"])  # sh forks sleep and waits
        try:
            (exec_sleep,) = wait(
                "sleep's exec",
                lambda: first.wait_for(
                    lambda r: r["syscall"] == "execve" and r["resource"] == "/bin/sleep", 1
                ),
            )
            sleep_pid = exec_sleep["host_pid"]

            def records_of_sleep() -> list:
                return [
                    r for r in collector.records() if values(r.attributes).get(sc.PROCESS_PID) == sleep_pid
                ]

            earlier = wait("sleep's records at the collector", records_of_sleep)
            state = tmp_path / "spool" / "traces" / "open-spans.json"

            def saved() -> bool:
                return state.exists() and sleep_pid in [
                    row[0] for row in json.loads(state.read_text())["spans"]
                ]

            wait("the open spans saved with sleep's", saved, poke)
            os.kill(first.pid, signal.SIGKILL)
            assert first.proc is not None and first.proc.wait(timeout=30) == -signal.SIGKILL
            assert [
                s for s in collector.spans() if values(s.attributes).get(sc.PROCESS_PID) == sleep_pid
            ] == []

            second = agent("second")
            os.kill(sleep_pid, signal.SIGTERM)
            assert shell.wait(timeout=30) == 0
            (final,) = wait(
                "sleep's span from the second agent",
                lambda: [
                    s for s in collector.spans() if values(s.attributes).get(sc.PROCESS_PID) == sleep_pid
                ],
            )
            second.stop()
        finally:
            if shell.poll() is None:
                shell.kill()
    ids = {(r.trace_id, r.span_id) for r in earlier}
    assert ids == {(final.trace_id, final.span_id)}
    attributes = values(final.attributes)
    assert sc.BEHOLDER_PROCESS_RUNNING not in attributes and sc.BEHOLDER_PROCESS_EXIT_UNSEEN not in attributes
    assert attributes[sc.PROCESS_EXECUTABLE_PATH].endswith("/sleep")  # /usr/bin on merged-/usr hosts
    assert (
        attributes[sc.BEHOLDER_PROCESS_ENTITY_ID]
        == values(earlier[0].attributes)[sc.BEHOLDER_PROCESS_ENTITY_ID]
    )
    # The span began at the fork the first agent saw, before the second one started.
    assert final.start_time_unix_nano <= exec_sleep["timestamp_ns"] < final.end_time_unix_nano
