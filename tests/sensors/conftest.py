"""One real agent for the whole kernel suite: loading BPF takes seconds, workloads don't."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from conftest import require
from support.agent_process import AgentProcess
from support.kernel import kernel_ready


@pytest.fixture(scope="session")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgentProcess]:
    ok, why = kernel_ready()
    require(ok, why)
    workdir = tmp_path_factory.mktemp("agent")
    proc = AgentProcess(workdir, ["--dedup-window-ms", "1000"], outputs=("json", "kubearmor")).start()
    yield proc
    proc.stop()
