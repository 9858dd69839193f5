"""KubeArmor's scenario tests, replayed for real against Beholder's KubeArmor JSON.

Every applicable command must match (strictly, or as `Audit (Block)` where Block cannot be
enforced); KNOWN_GAPS lists what does not match yet and why, and fails once it does.
"""

from __future__ import annotations

import pytest
from kubearmor_scenarios.conftest import NOT_APPLICABLE, ScenarioRunner, all_scenarios
from kubearmor_scenarios.runner import describe
from kubearmor_scenarios.scenarios import Verdict

pytestmark = pytest.mark.kernel

# (scenario, cmdN) -> why Beholder does not match KubeArmor there yet
CALLER = (
    "exec fromSource compared with the parent's binary, not the calling one (bash -c date: bash execs date)"
)
KNOWN_GAPS: dict[tuple[str, str], str] = {}


SCENARIOS = {s.name: s for s in all_scenarios()}
# scenarios with a Block expectation run a second time with `--enforce kill`
BLOCKING = [n for n, s in SCENARIOS.items() if any(c.action == "Block" for c in s.commands)]


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_scenario_matches_kubearmor(name: str, scenario_runner: ScenarioRunner) -> None:
    _check(name, scenario_runner, enforcing=False)


@pytest.mark.parametrize("name", BLOCKING)
def test_scenario_matches_kubearmor_in_kill_mode(name: str, scenario_runner: ScenarioRunner) -> None:
    """A Block row is strict (really killed) unless the agent said why kill mode cannot
    judge that rule; the other rows must still pass (nothing allowed is killed)."""
    _check(name, scenario_runner, enforcing=True)


def _check(name: str, scenario_runner: ScenarioRunner, enforcing: bool) -> None:
    outcome = scenario_runner.run(SCENARIOS[name], enforcing)
    if outcome.skipped:
        assert outcome.scenario.kind in NOT_APPLICABLE
        pytest.skip(outcome.skipped)
    report = "\n".join(describe(outcome))
    for c in outcome.commands:
        gap = KNOWN_GAPS.get((name, c.command.name))
        if gap is None:
            assert c.judgement.verdict is not Verdict.MISMATCH, report
        else:
            assert c.judgement.verdict is Verdict.MISMATCH, f"known gap now passes, drop it: {gap}\n{report}"
