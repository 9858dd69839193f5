"""What a new user sees in the first minutes of a real `beholder run` on this host."""

from __future__ import annotations

import json
import subprocess

import pytest

from conftest import require
from support.agent_process import BEHOLDER, AgentProcess
from support.kernel import kernel_ready

pytestmark = pytest.mark.kernel


@pytest.fixture(scope="module")
def agent(tmp_path_factory):
    ok, why = kernel_ready()
    require(ok, why)
    workdir = tmp_path_factory.mktemp("first-hour")
    console = workdir / "console.txt"
    # A shell that starts before the agent and runs its command once the agent traces.
    early = subprocess.Popen(
        ["/bin/bash", "-c", "read _; /bin/ls -d /; exit 0"], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL
    )
    proc = AgentProcess(
        workdir,
        [
            "--output",
            f"console:{console}",
            "--sensors",
            "process,file",
            "--query-socket",
            str(workdir / "q.sock"),
        ],
        outputs=("kubearmor",),
    ).start()
    assert early.stdin is not None
    early.stdin.write(b"go\n")
    early.stdin.close()
    early.wait(timeout=30)
    marker = workdir / "marker.txt"
    marker.write_text("x")
    subprocess.run(["/bin/cat", str(marker)], check=True, capture_output=True)
    subprocess.run(["/bin/sh", "-c", "exit 7"], check=False)
    proc.wait_for(lambda r: r.get("ProcessName") == "/bin/sh" and "exit" in r.get("Data", ""), timeout=120)
    yield proc, console, marker
    proc.stop()


def test_banner_names_the_output_file_and_how_to_read_it(agent) -> None:
    proc, _console, _marker = agent
    stderr = proc.stderr_path.read_text()
    path = proc.paths["kubearmor"]
    assert f"all events go to {path}; read them with `beholder summary --file {path}`" in stderr
    assert f"`beholder logs --file {path}`" in stderr


def test_default_console_shows_the_exec_but_not_the_file_opens(agent) -> None:
    _proc, console, marker = agent
    lines = console.read_text().splitlines()
    assert any(" execve " in line and "/bin/cat" in line for line in lines)
    assert any(" exit " in line and "exit_code=7" in line for line in lines)
    assert not any(str(marker) in line for line in lines if " execve " not in line)


def test_a_second_agent_on_the_same_output_file_refuses_in_one_line(agent) -> None:
    proc, _console, _marker = agent
    path = proc.paths["kubearmor"]
    second = subprocess.run(
        [*BEHOLDER, "run", "--query-socket", "", "--output", f"kubearmor:{path}", "--duration", "1"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert second.returncode == 2
    assert f"{path} is already being written by another beholder agent" in second.stderr
    assert "Traceback" not in second.stderr


def test_summary_names_the_parent_that_started_before_the_agent(agent) -> None:
    proc, _console, _marker = agent
    proc.wait_for(
        lambda r: r.get("ProcessName") == "/bin/ls" and r.get("Resource") == "/bin/ls -d /", timeout=120
    )
    # The agent's own summary: the recording of a busy host's files is large to re-read.
    out = subprocess.run(
        [*BEHOLDER, "summary", "--socket", str(proc.workdir / "q.sock"), "--type", "process", "-o", "json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    (host,) = [w for w in json.loads(out.stdout)["workloads"] if not w["pod"] and not w["container"]]
    rows = [r for r in host["process"] if r["destination"] == "/bin/ls"]
    # The shell may be gone before the agent reads /proc: the tree must know it by then.
    assert rows and rows[0]["source"] in ("/bin/bash", "/usr/bin/bash")
