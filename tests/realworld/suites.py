"""The bobctl suites as written: functional tests and attacks, run in the client container.

A step's command is exactly the suite's `exec.command`, run through `runc exec` in the
suite's target container (the client), as bobctl runs it through `kubectl exec`. Each
step keeps its wall-clock window, so the alerts a step caused are the ones whose event
time falls inside it.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any

import yaml

from conftest import REFERENCE
from realworld.pods import Running

SUITES = REFERENCE / "kubescape" / "attack-suites-real"
STEP_TIMEOUT_S = 120


@dataclass(frozen=True)
class Step:
    name: str
    command: tuple[str, ...]
    exit_code: int | None
    indicators: tuple[dict[str, str], ...]
    expected: tuple[tuple[str, str], ...]  # (rule id, process name or "") the step must raise


@dataclass(frozen=True)
class Outcome:
    step: Step
    start_ns: int
    end_ns: int
    returncode: int
    output: str

    @property
    def succeeded(self) -> bool:
        """The suite's own success test: the exit code it names, and any indicator it lists."""
        if self.step.exit_code is not None and self.returncode != self.step.exit_code:
            return False
        return not self.step.indicators or any(_indicates(i, self.output) for i in self.step.indicators)


def _indicates(indicator: dict[str, str], output: str) -> bool:
    if "responseContains" in indicator:
        return indicator["responseContains"] in output
    return re.search(indicator["responseRegex"], output) is not None


def load(suite: str, kind: str) -> list[Step]:
    """`kind` is "functional-tests" (its `tests`) or "attacks" (its `attacks`)."""
    doc: dict[str, Any] = yaml.safe_load((SUITES / f"{suite}-{kind}.yaml").read_text())
    steps = []
    for item in doc["tests" if kind == "functional-tests" else "attacks"]:
        exec_ = item["exec"]
        steps.append(
            Step(
                name=item["name"],
                command=tuple(exec_["command"]),
                exit_code=exec_.get("expectedExitCode"),
                indicators=tuple(item.get("successIndicators") or exec_.get("successIndicators") or ()),
                expected=tuple(
                    (d["ruleID"], d.get("command", "")) for d in item.get("expectedDetections") or ()
                ),
            )
        )
    return steps


def run_steps(client: Running, steps: list[Step]) -> list[Outcome]:
    outcomes = []
    for step in steps:
        start = time.time_ns()
        done = client.exec(list(step.command), timeout=STEP_TIMEOUT_S)
        outcomes.append(Outcome(step, start, time.time_ns(), done.returncode, done.stdout + done.stderr))
    return outcomes
