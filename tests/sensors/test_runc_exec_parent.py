"""A command started by `runc exec` names runc as its parent in every output (issue 18).

runc re-executes a sealed memfd copy of itself (`runc init`) to start the command; that
copy has no path, and the command often exits before /proc can be read. The parent is
still runc's binary: in KubeArmor JSON's ParentProcessName, in OTLP's
beholder.process.parent.executable.path, and in `beholder summary`'s Process table.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from beholder.otel import semconv as sc
from beholder.query.otlp_file import attributes
from conftest import require
from support import runc
from support.agent_process import BEHOLDER, AgentProcess
from support.kernel import kernel_ready

pytestmark = pytest.mark.kernel


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgentProcess]:
    ok, why = kernel_ready()
    require(ok, why)
    require(runc.BUSYBOX.exists() and shutil.which("runc") is not None, "runc and busybox-static needed")
    workdir = tmp_path_factory.mktemp("runc-exec")
    proc = AgentProcess(workdir, ["--sensors", "process"], outputs=("kubearmor", "otlp-file")).start()
    yield proc
    proc.stop()


def otlp_parents(agent: AgentProcess, marker: str) -> list[str]:
    """The parent path of every OTLP record of a `/bin/cat` whose command line holds `marker`."""
    out = []
    agent.read_new("otlp-file")
    for request in agent.by_output["otlp-file"]:
        for resource_logs in request["resourceLogs"]:
            for scope in resource_logs["scopeLogs"]:
                for record in scope.get("logRecords", []):
                    attrs = attributes(record.get("attributes", []))
                    cat = attrs.get(sc.PROCESS_EXECUTABLE_PATH) == "/bin/cat"
                    if cat and marker in str(attrs.get(sc.PROCESS_COMMAND_LINE, "")):
                        out.append(str(attrs.get(sc.BEHOLDER_PROCESS_PARENT_EXECUTABLE_PATH, "")))
    return out


def test_a_runc_exec_command_names_runc_as_its_parent_everywhere(agent: AgentProcess, tmp_path: Path) -> None:
    runc_path = os.path.realpath(shutil.which("runc") or "runc")
    ctr = runc.make_bundle(tmp_path / "bundle", ["/bin/sleep", "60"])
    container = runc.start(ctr)
    try:
        started = agent.wait_for(
            lambda r: r.get("ContainerID") == ctr.container_id and r.get("ProcessName") == "/bin/sleep",
            output="kubearmor",
            timeout=120,
        )
        assert started, "the container never started"
        marker = uuid.uuid4().hex
        for _ in range(3):  # the command exits at once: /proc rarely still knows its parent
            done = runc.exec_in(ctr, ["/bin/cat", f"/etc/{marker}"], timeout=60)
            assert "No such file" in done.stderr, done.stderr  # cat ran, in the container
        deadline = time.monotonic() + 120
        cats: list[dict] = []
        while len(cats) < 3 and time.monotonic() < deadline:
            cats = agent.wait_for(
                lambda r: r.get("Resource") == f"/bin/cat /etc/{marker}", output="kubearmor"
            )
    finally:
        runc.stop(ctr, container)
    assert len(cats) == 3
    assert {r.get("ParentProcessName") for r in cats} == {runc_path}
    # runc is outside the container's pid namespace: PPID is its host pid, as seed 000 shows
    assert {(r.get("Source"), r["PPID"] == r.get("HostPPID") > 0) for r in cats} == {(runc_path, True)}
    assert set(otlp_parents(agent, marker)) == {runc_path}
    summary = subprocess.run(
        [*BEHOLDER, "summary", "--file", str(agent.paths["kubearmor"]), "--container", ctr.container_id,
         "--type", "process", "-o", "json"],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    (workload,) = json.loads(summary.stdout)["workloads"]
    rows = [row for row in workload["process"] if row["destination"] == "/bin/cat"]
    assert [(row["source"], row["count"]) for row in rows] == [(runc_path, 3)]
