"""What every record says of its process, end to end: the real agent exporting logs only (no
traces endpoint), a real OTLP/gRPC receiver, host commands in a cgroup of the test's own.

- `process.user.id` follows a setresuid the sensors saw: the open before it says 0, the open
  after it 65534;
- `process.linux.cgroup` is the cgroup the command ran in, as /proc/<pid>/cgroup spells it;
- `process.interactive` is true under a terminal (`script` gives the command a controlling
  pty) and false without one (a new session);
- `beholder.process.entity_id` and the trace/span ids are on every record although no trace
  is exported.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from otel_export.receiver import Collector, GrpcReceiver

from beholder.otel import semconv as sc
from beholder.otel.traces import read_boot_id, span_id
from conftest import require
from support.agent_process import AgentProcess
from support.host_cgroup import host_cgroup
from support.kernel import kernel_ready

pytestmark = pytest.mark.kernel

BEFORE, AFTER = "/etc/hostname", "/etc/os-release"  # two files: the kernel folds repeated opens
SETUID = (
    f"import os; open('{BEFORE}').close(); os.setresuid(-1, 65534, -1);"
    f" open('{AFTER}').close(); os.setresuid(-1, 0, -1)"
)
TTY_MARK = "/etc/beholder-test-tty-probe"  # an absent file each command opens, to find its records
# The shell outlives its exec long enough for /proc to be read; cat, gone at once, inherits
# what its shell had at the fork.
PROBE = f"/bin/cat {TTY_MARK}; /bin/sleep 1"


def values(kvs) -> dict[str, Any]:
    return {kv.key: getattr(kv.value, kv.value.WhichOneof("value")) for kv in kvs}


def opens_of(collector: Collector, path: str) -> list[dict[str, Any]]:
    records = [values(r.attributes) | {"ids": (r.trace_id, r.span_id)} for r in collector.records()]
    return [a for a in records if a.get(sc.FILE_PATH) == path and a.get(sc.BEHOLDER_SYSCALL_NAME) == "openat"]


@pytest.fixture(scope="module")
def traced(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    ok, why = kernel_ready()
    require(ok, why)
    tmp = tmp_path_factory.mktemp("identity")
    collector = Collector()
    with host_cgroup("identity") as cgroup, GrpcReceiver(collector) as rx:
        env = {
            "OTEL_EXPORTER_OTLP_ENDPOINT": rx.url,
            "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
            "OTEL_TRACES_EXPORTER": "none",
        }
        args = ["--spool-dir", str(tmp / "spool"), "--cgroup-id", str(cgroup.id)]
        agent = AgentProcess(tmp, args, outputs=("json", "otlp"), env=env).start()
        python = cgroup.spawn(["/usr/bin/python3", "-c", SETUID], start_new_session=True)
        assert python.wait(timeout=60) == 0
        quiet = cgroup.spawn(["/bin/sh", "-c", PROBE], start_new_session=True, stderr=subprocess.DEVNULL)
        quiet.wait(timeout=60)
        pty = cgroup.spawn(["/usr/bin/script", "-qec", PROBE, "/dev/null"],
                           start_new_session=True, stdout=subprocess.DEVNULL)  # fmt: skip
        pty.wait(timeout=60)
        deadline = time.monotonic() + 30
        while not opens_of(collector, AFTER) or len(opens_of(collector, TTY_MARK)) < 2:
            assert time.monotonic() < deadline, "the commands' opens did not reach the collector"
            time.sleep(0.2)
        agent.stop()
        assert collector.spans() == []  # logs only
    return {"collector": collector, "cgroup": cgroup.path, "python": python.pid}


def test_the_effective_uid_follows_a_setresuid_the_sensors_saw(traced) -> None:
    (before,), (after,) = opens_of(traced["collector"], BEFORE), opens_of(traced["collector"], AFTER)
    assert before[sc.PROCESS_PID] == after[sc.PROCESS_PID] == traced["python"]
    assert (before[sc.PROCESS_USER_ID], after[sc.PROCESS_USER_ID]) == (0, 65534)
    assert before[sc.PROCESS_REAL_USER_ID] == after[sc.PROCESS_REAL_USER_ID] == 0  # setresuid(-1, …)


def test_the_cgroup_is_the_one_the_command_ran_in(traced) -> None:
    opens = opens_of(traced["collector"], BEFORE) + opens_of(traced["collector"], TTY_MARK)
    assert {a[sc.PROCESS_LINUX_CGROUP] for a in opens} == {f"0::/{Path(traced['cgroup']).name}"}


def test_a_command_under_a_terminal_is_interactive_and_one_without_is_not(traced) -> None:
    by_tty = {a[sc.PROCESS_INTERACTIVE] for a in opens_of(traced["collector"], TTY_MARK)}
    assert by_tty == {False, True}
    (python,) = {a[sc.PROCESS_INTERACTIVE] for a in opens_of(traced["collector"], BEFORE)}
    assert python is False


def test_every_record_names_its_process_identity_and_span_without_traces(traced) -> None:
    records = [r for r in traced["collector"].records() if sc.PROCESS_PID in values(r.attributes)]
    assert records  # (loss records name no process)
    boot = read_boot_id()
    for record in records:
        attributes = values(record.attributes)
        identity = attributes[sc.BEHOLDER_PROCESS_ENTITY_ID]
        assert identity.startswith(f"{boot}:{attributes[sc.PROCESS_PID]}:"), record.event_name
        assert record.span_id == span_id(identity) and len(record.trace_id) == 16, record.event_name
