"""The scenario reader and the judge, on KubeArmor's own files and on hand-made records."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from kubearmor_scenarios.conftest import HOST_SCENARIOS, SCENARIOS
from kubearmor_scenarios.scenarios import (
    Command,
    Scenario,
    Verdict,
    expectation,
    judge,
    load_scenarios,
    parse_command,
)

from conftest import require


def _scenario(kind: str = "ksp", name: str = "ksp-block") -> Scenario:
    return Scenario("t", Path("p.yaml"), kind, name, "github", ())


def _command(result: str, action: str, operation: str = "File", condition: str = "/etc/shadow") -> Command:
    return Command("cmd1", "ubuntu-1-deployment", "cat /etc/shadow", result, operation, condition, action)


def _alert(policy: str, action: str, result: str = "Passed", **fields: str) -> dict[str, Any]:
    return {"PolicyName": policy, "Type": "MatchedPolicy", "Operation": "File", "Resource": "/etc/shadow",
            "Action": action, "Result": result, **fields}  # fmt: skip


def test_reads_every_reference_scenario() -> None:
    require(SCENARIOS.is_dir(), f"{SCENARIOS} missing")
    scenarios = load_scenarios(SCENARIOS, HOST_SCENARIOS)
    assert len(scenarios) == 32 and sum(len(s.commands) for s in scenarios) == 68
    by_name = {s.name: s for s in scenarios}
    first = by_name["github_test_01"]
    assert (first.kind, first.policy_name, first.namespace) == (
        "ksp",
        "ksp-ubuntu-1-proc-path-block-from-source",
        "github",
    )
    assert [c.cmd for c in first.commands] == ['dash -c "uname -r"', 'dash -c "ls"']
    host = by_name["kubearmor-dev-next_test_04"]
    assert host.is_host and host.namespace == "kubearmor-dev-next"
    assert host.commands[0].result == "failed" and host.commands[0].condition == "date"


def test_a_missing_field_names_file_and_field(tmp_path: Path) -> None:
    path = tmp_path / "cmd1"
    path.write_text("source: x\ncmd: ls\nresult: passed\n---\noperation: Process\naction: Block\n")
    with pytest.raises(ValueError, match=r"cmd1: missing field 'condition'"):
        parse_command(path)


def test_default_means_the_default_posture_in_audit() -> None:
    expect = expectation(_scenario(), _command("default", "default"))
    assert (expect.policy, expect.action, expect.result) == ("DefaultPosture", "Audit", "passed")


@pytest.mark.parametrize(
    ("records", "exit_code", "enforcing", "verdict"),
    [
        ([_alert("ksp-block", "Block", "Killed (SIGKILL)")], 137, True, Verdict.STRICT),
        ([_alert("ksp-block", "Audit (Block)")], 0, False, Verdict.AUDIT_ONLY),
        ([_alert("ksp-block", "Audit (Block)")], 0, True, Verdict.MISMATCH),  # enforcing: must block
        ([_alert("ksp-block", "Block", "Killed")], 0, True, Verdict.MISMATCH),  # claimed, not refused
        ([_alert("other", "Audit (Block)")], 0, False, Verdict.MISMATCH),
        ([_alert("ksp-block", "Audit (Block)", Type="MatchedHostPolicy")], 0, False, Verdict.MISMATCH),
        ([], 1, True, Verdict.MISMATCH),
    ],
)
def test_block_expectations(
    records: list[dict[str, Any]], exit_code: int, enforcing: bool, verdict: Verdict
) -> None:
    got = judge(_scenario(), _command("failed", "Block"), records, exit_code=exit_code, enforcing=enforcing)
    assert got.verdict is verdict, got.why


def test_nothing_expected_means_no_alert_of_the_policy_for_that_resource() -> None:
    cmd = _command("passed", "Block", condition="/etc/hostname")
    noise = [_alert("ksp-block", "Audit (Block)")]  # /etc/shadow: another resource
    assert judge(_scenario(), cmd, noise, exit_code=0, enforcing=False).verdict is Verdict.STRICT
    hit = [_alert("ksp-block", "Audit (Block)", Resource="/etc/hostname")]
    assert judge(_scenario(), cmd, hit, exit_code=0, enforcing=False).verdict is Verdict.MISMATCH


def test_an_allowed_access_raises_no_posture_alert_either() -> None:
    cmd = _command("passed", "Allow", condition="/secret.txt")
    posture = [_alert("DefaultPosture", "Audit", Resource="/secret.txt")]
    assert judge(_scenario(), cmd, posture, exit_code=0, enforcing=False).verdict is Verdict.MISMATCH


def test_audit_wants_the_exact_action_and_a_passed_result() -> None:
    cmd = _command("passed", "Audit")
    assert (
        judge(_scenario(), cmd, [_alert("ksp-block", "Audit")], exit_code=0, enforcing=False).verdict
        is Verdict.STRICT
    )
    for wrong in (_alert("ksp-block", "Audit (Block)"), _alert("ksp-block", "Audit", "Permission denied")):
        assert judge(_scenario(), cmd, [wrong], exit_code=0, enforcing=False).verdict is Verdict.MISMATCH


def test_a_posture_alert_counts_against_an_allow_only_on_the_path() -> None:
    cmd = _command("passed", "Allow", operation="Process", condition="date")
    outer = _alert("DefaultPosture", "Audit", Operation="Process", Resource="/usr/bin/bash -c date")
    assert judge(_scenario(), cmd, [outer], exit_code=0, enforcing=False).verdict is Verdict.STRICT
    inner = _alert("DefaultPosture", "Audit", Operation="Process", Resource="/usr/bin/date")
    assert judge(_scenario(), cmd, [inner], exit_code=0, enforcing=False).verdict is Verdict.MISMATCH


def test_an_unenforceable_rule_met_as_audit_block_is_audit_only_with_the_agents_reason() -> None:
    audited = [_alert("ksp-block", "Audit (Block)")]
    why = "a pattern is not matched in the kernel"
    got = judge(
        _scenario(), _command("failed", "Block"), audited, exit_code=0, enforcing=True, not_enforced=why
    )
    assert (got.verdict, got.why) == (Verdict.AUDIT_ONLY, f"Audit (Block): {why}")
