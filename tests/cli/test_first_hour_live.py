"""What a new user sees in the first minutes of a real `beholder run` on this host."""

from __future__ import annotations

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
    proc = AgentProcess(
        workdir, ["--output", f"console:{console}", "--sensors", "process,file"], outputs=("kubearmor",)
    ).start()
    marker = workdir / "marker.txt"
    marker.write_text("x")
    subprocess.run(["/bin/cat", str(marker)], check=True, capture_output=True)
    subprocess.run(["/bin/sh", "-c", "exit 7"], check=False)
    proc.wait_for(lambda r: r.get("ProcessName") == "/bin/sh" and "exit" in r.get("Data", ""), timeout=30)
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
