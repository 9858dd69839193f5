"""KubeArmor's scenario suite replayed once per test session; the report goes to the summary.

One runc container per Deployment the scenarios use (the test image, overlay-mounted from
the cached rootfs), one fake API serving their pods, one agent per scenario.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from kubearmor_scenarios import image
from kubearmor_scenarios.runner import (
    Place,
    PodContainer,
    ScenarioOutcome,
    describe,
    host_cgroup,
    run_scenario,
    totals,
)
from kubearmor_scenarios.scenarios import Scenario, load_scenarios

from conftest import REFERENCE, require
from support import runc
from support.agent_process import AgentProcess
from support.kernel import kernel_ready
from support.rootfs import debian_rootfs, overlay_root
from tests.k8s.fakeapi import NODE, FakeKubeApi

SCENARIOS = REFERENCE / "kubearmor" / "scenarios"
HOST_SCENARIOS = REFERENCE / "kubearmor" / "scenarios-host"
NOT_APPLICABLE = {"nsp": "AppArmor native policy: needs AppArmor, which Beholder does not drive"}
REPORT: list[str] = []


def all_scenarios() -> list[Scenario]:
    return load_scenarios(SCENARIOS, HOST_SCENARIOS) if SCENARIOS.is_dir() else []


def _start_pod(stack: ExitStack, root: Path, workdir: Path, deployment: image.Deployment) -> PodContainer:
    bundle = workdir / deployment.name
    bundle.mkdir(parents=True)
    merged = stack.enter_context(overlay_root(root, bundle / "overlay"))
    container = runc.new_container(bundle, "ka-scenario")
    runc.write_config(container, ["/usr/bin/tail", "-f", "/dev/null"], rootfs=merged, pod_defaults=True)
    cgroup_id = runc.precreate_cgroup(container)
    stack.callback(subprocess.run, ["runc", "delete", "--force", container.name], capture_output=True)
    with (bundle / "runc.log").open("wb") as log:  # a pipe would stay open in the container
        subprocess.run(
            ["runc", "run", "--detach", "--bundle", str(bundle), container.name],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, check=True, timeout=60,
        )  # fmt: skip
    state = subprocess.run(["runc", "state", container.name], capture_output=True, text=True, check=True)
    pid = json.loads(state.stdout)["pid"]
    # a pod's network namespace has a working loopback (ping/arping 127.0.0.1)
    subprocess.run(["nsenter", "-t", str(pid), "-n", "ip", "link", "set", "lo", "up"], check=True)
    return PodContainer(container, cgroup_id, pod_name="")


class ScenarioRunner:
    """Runs scenarios on demand against the pods of the session; keeps their outcomes."""

    def __init__(self, workdir: Path, pods: dict[tuple[str, str], PodContainer], api_url: str) -> None:
        self.workdir = workdir
        self.pods = pods
        self.api_url = api_url
        self.outcomes: list[ScenarioOutcome] = []

    def _start_agent(self, scenario: Scenario, place: Place, enforcing: bool) -> AgentProcess:
        agent_dir = self.workdir / "agents" / (scenario.name + ("-kill" if enforcing else ""))
        agent_dir.mkdir(parents=True)
        node = scenario.namespace if scenario.is_host else NODE
        # every alert is judged: a shell's library opens alone exceed KubeArmor's 10 alerts/s
        args = ["--policy", str(scenario.policy_file), "--node-name", node, "--no-alert-throttling",
                "--cgroup-id", str(place.cgroup_id), "--spool-dir", str(agent_dir / "spool")]  # fmt: skip
        if not scenario.is_host:
            args += ["--k8s-api-url", self.api_url]
        if enforcing:
            args += ["--enforce", "kill"]
        return AgentProcess(agent_dir, args, outputs=("kubearmor",)).start()

    def run(self, scenario: Scenario, enforcing: bool = False) -> ScenarioOutcome:
        def start(sc: Scenario, place: Place) -> AgentProcess:
            return self._start_agent(sc, place, enforcing)

        if scenario.kind in NOT_APPLICABLE:
            outcome = ScenarioOutcome(scenario, enforcing, skipped=NOT_APPLICABLE[scenario.kind])
        elif scenario.is_host:
            with host_cgroup(scenario.name) as place:
                outcome = run_scenario(scenario, place, start, enforcing=enforcing)
        else:
            place = self.pods[(scenario.namespace, scenario.commands[0].source)]
            outcome = run_scenario(scenario, place, start, enforcing=enforcing)
        self.outcomes.append(outcome)
        REPORT.extend(describe(outcome))
        return outcome


@pytest.fixture(scope="session")
def scenario_runner(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ScenarioRunner]:
    """The test image's pods (one runc container per Deployment the scenarios name) behind a
    fake API; each scenario then gets its own agent."""
    ok, why = kernel_ready()
    require(ok, why)
    scenarios = all_scenarios()
    require(bool(scenarios), f"{SCENARIOS} missing")
    workdir = tmp_path_factory.mktemp("kubearmor-scenarios")
    root = debian_rootfs(
        "kubearmor-test-image", image.PACKAGES, merged_usr=False, hooks=[image.customize_hook()]
    )
    known = image.deployments()
    with ExitStack() as stack:
        pods: dict[tuple[str, str], PodContainer] = {}
        objects = []
        for sc in scenarios:
            key = (sc.namespace, sc.commands[0].source)
            if sc.is_host or sc.kind in NOT_APPLICABLE or key in pods:
                continue
            place = _start_pod(stack, root, workdir, known[key])
            pod = image.pod_object(known[key], place.container.container_id, place.container.pod_uid, NODE)
            place.pod_name = pod["metadata"]["name"]
            pods[key] = place
            objects.append(pod)
        api = stack.enter_context(FakeKubeApi(objects, "100"))
        runner = ScenarioRunner(workdir, pods, api.url)
        yield runner
        for enforcing in (False, True):
            if any(o.enforcing == enforcing for o in runner.outcomes):
                REPORT.append(totals(runner.outcomes, enforcing=enforcing))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if REPORT:
        terminalreporter.section("KubeArmor scenarios (Beholder KubeArmor JSON vs expected)")
        for line in REPORT:
            terminalreporter.write_line(line)
