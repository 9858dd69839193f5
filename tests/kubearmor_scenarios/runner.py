"""Replay one KubeArmor scenario for real: an agent with its policy, its commands, their alerts.

Each scenario gets a fresh agent holding only its policy (KubeArmor's script applies one
policy, runs its commands, deletes it). Container commands run with `runc exec` in a pod's
container that the fake API attributes; host commands run on the host in a cgroup of their
own, so the agent traces them alone (`--cgroup-id`) on a machine shared with other tests.
After each command two markers (`/bin/echo <uuid>`) run in the same place: once the agent has
written the second one's exec, everything the command caused has been written before it.
"""

from __future__ import annotations

import os
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubearmor_scenarios.scenarios import Command, Judgement, Scenario, Verdict, judge

from support import runc
from support.agent_process import AgentProcess

COMMAND_TIMEOUT_S = 60
MARKER_TIMEOUT_S = 20
# a login shell's environment on the node, not the test runner's (its PATH has tool shims)
HOST_ENV = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/root"}
WARM_UP = ("/bin/sh", "-c", "sleep 1")  # the marker token becomes $0


@dataclass
class CommandOutcome:
    command: Command
    exit_code: int
    output: str
    records: list[dict[str, Any]]
    judgement: Judgement


@dataclass
class ScenarioOutcome:
    scenario: Scenario
    enforcing: bool = False
    commands: list[CommandOutcome] = field(default_factory=list)
    skipped: str = ""
    seconds: float = 0.0

    def count(self, verdict: Verdict) -> int:
        return sum(1 for c in self.commands if c.judgement.verdict is verdict)


class Place:
    """Where a scenario's commands run: `bash -c CMD`, returning (exit code, output)."""

    cgroup_id: int
    pod_name: str = ""

    def run(self, argv: Sequence[str]) -> tuple[int, str]:
        raise NotImplementedError


class PodContainer(Place):
    """A running runc container of the test image, known to the fake API as a pod."""

    def __init__(self, container: runc.Container, cgroup_id: int, pod_name: str) -> None:
        self.container = container
        self.cgroup_id = cgroup_id
        self.pod_name = pod_name

    def run(self, argv: Sequence[str]) -> tuple[int, str]:
        done = runc.exec_in(self.container, list(argv), COMMAND_TIMEOUT_S)
        return done.returncode, done.stdout + done.stderr


class HostCgroup(Place):
    """Host commands in a cgroup of their own (still the host: no namespaces, no container)."""

    def __init__(self, path: Path) -> None:
        path.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.cgroup_id = path.stat().st_ino

    def run(self, argv: Sequence[str]) -> tuple[int, str]:
        procs = str(self.path / "cgroup.procs")

        def join() -> None:
            with open(procs, "w") as fh:
                fh.write(str(os.getpid()))

        done = subprocess.run(
            list(argv),
            env=HOST_ENV,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=COMMAND_TIMEOUT_S,
            preexec_fn=join,  # the child joins before it execs
            check=False,
        )
        return done.returncode, done.stdout + done.stderr

    def remove(self) -> None:
        self.path.rmdir()


@contextmanager
def host_cgroup(name: str) -> Iterator[HostCgroup]:
    place = HostCgroup(runc.cgroup2_root() / "beholder-tests" / f"{name}-{uuid.uuid4().hex[:8]}")
    try:
        yield place
    finally:
        place.remove()


def _marker(agent: AgentProcess, place: Place, argv: Sequence[str]) -> tuple[int, int]:
    """Run a marker; return where its exec record is in the output and its pid."""
    token = uuid.uuid4().hex
    place.run([*argv, token])
    seen = agent.wait_for(lambda r: token in str(r.get("Resource", "")), timeout=MARKER_TIMEOUT_S)
    if not seen:
        raise TimeoutError(f"the agent never reported the marker exec {token}")
    index = next(i for i, r in enumerate(agent.records) if token in str(r.get("Resource", "")))
    return index, int(agent.records[index].get("HostPID", 0))


def _settle(agent: AgentProcess, place: Place, first: Sequence[str] = ("/bin/echo",)) -> list[dict[str, Any]]:
    """Every record of what ran before, markers' own records left out.

    A batch's alerts are written after its events, so the first marker's exec record can
    precede the alerts of the command before it; a second marker starts only once that
    batch is written, so everything up to its exec record is complete.
    """
    start = len(agent.records)
    _, first_pid = _marker(agent, place, first)
    end, second_pid = _marker(agent, place, ("/bin/echo",))
    return [r for r in agent.records[start:end] if r.get("HostPID") not in (first_pid, second_pid)]


def run_scenario(
    scenario: Scenario,
    place: Place,
    start_agent: Callable[[Scenario, Place], AgentProcess],
    *,
    enforcing: bool,
) -> ScenarioOutcome:
    """Start an agent with the scenario's policy, run its commands in order, judge each."""
    outcome = ScenarioOutcome(scenario, enforcing=enforcing)
    started = time.monotonic()
    agent = start_agent(scenario, place)
    try:
        # A first process that lives on after its exec is reported: the agent reads its
        # cgroup while it exists and knows the container (and pod) from then on.
        _settle(agent, place, WARM_UP)
        for command in scenario.commands:
            exit_code, output = place.run(["/bin/bash", "-c", command.cmd])
            records = _settle(agent, place)
            unenforced = not_enforced(agent, scenario) if enforcing else ""
            verdict = judge(
                scenario, command, records, exit_code=exit_code, enforcing=enforcing, not_enforced=unenforced
            )
            outcome.commands.append(CommandOutcome(command, exit_code, output, records, verdict))
    finally:
        agent.stop()
        outcome.seconds = time.monotonic() - started
    return outcome


def not_enforced(agent: AgentProcess, scenario: Scenario) -> str:
    """Why kill mode cannot enforce the scenario's policy, as the agent said it at start."""
    prefix = f"kill mode: {scenario.policy_name} "
    for line in agent.stderr_path.read_text(errors="replace").splitlines():
        _, found, rest = line.partition(prefix)
        if found:
            return rest.split(": ", 1)[1].removesuffix(": stays 'Audit (Block)'")
    return ""


def describe(outcome: ScenarioOutcome) -> list[str]:
    """Report lines for one scenario: counts, then one line per command."""
    scenario = outcome.scenario
    if outcome.skipped:
        return [f"{scenario.name}: skipped ({outcome.skipped})"]
    total = len(outcome.commands)
    name = scenario.name + (" (kill mode)" if outcome.enforcing else "")
    passed = total - outcome.count(Verdict.MISMATCH)
    head = (
        f"{name} [{scenario.policy_name}]: {passed}/{total} pass "
        f"(strict {outcome.count(Verdict.STRICT)}, audit-only {outcome.count(Verdict.AUDIT_ONLY)}, "
        f"mismatch {outcome.count(Verdict.MISMATCH)}) in {outcome.seconds:.1f} s"
    )
    lines = [head]
    for c in outcome.commands:
        shown = "; ".join(
            "/".join(str(r.get(k)) for k in ("PolicyName", "Operation", "Action", "Result"))
            + f" {r.get('Resource')}"
            for r in c.judgement.records[:3]
        )
        lines.append(
            f"  {c.command.name} {c.judgement.verdict.value}: {c.command.cmd!r} exit {c.exit_code}: "
            f"{c.judgement.why}{' — ' + shown if shown else ''}"
        )
    return lines


def totals(outcomes: Sequence[ScenarioOutcome], enforcing: bool) -> str:
    """One line: commands judged, by verdict, and what a Block expectation was met as."""
    outcomes = [o for o in outcomes if o.enforcing == enforcing]
    counts = {v: sum(o.count(v) for o in outcomes) for v in Verdict}
    skipped = sum(len(o.scenario.commands) for o in outcomes if o.skipped)
    mode = (
        "--enforce kill: Block really refused where the kernel can judge it"
        if enforcing
        else "Block not enforced: met as 'Audit (Block)'"
    )
    return (
        f"TOTAL {sum(counts.values())} commands: strict {counts[Verdict.STRICT]}, "
        f"audit-only {counts[Verdict.AUDIT_ONLY]}, mismatch {counts[Verdict.MISMATCH]}; "
        f"{skipped} not applicable; {mode}"
    )
