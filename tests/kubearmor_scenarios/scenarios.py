"""KubeArmor's own scenario tests, read as they are, and judged the way its script judges them.

A scenario directory holds one policy (`ksp-*`, `hsp-*` or `nsp-*`) and `cmdN` files:

    source: ubuntu-1-deployment        pod (deployment name) or host the command runs in
    cmd: cat /etc/shadow               run as `bash -c CMD`
    result: failed                     passed / failed / default
    ---
    operation: File                    the alert's Operation
    condition: /etc/shadow             a regex searched in the alert's Resource
    action: Block                      Allow / Audit / Block / default

`expectation()` applies test-scenarios-local.sh's rewriting: `default` means the default
posture (DefaultPosture, with the posture's action); Beholder runs KubeArmor's
DEFAULT_POSTURE=audit. Then, as the script does: Allow+passed and Block+passed want no
alert from the policy for that resource, Audit+passed wants an alert with Result Passed,
Block+failed wants a blocked alert. Where the script only greps, `judge()` compares fields:
Type, PolicyName, Operation, the condition in Resource, Action exactly and Result.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

import yaml

DEFAULT_POSTURE = "DefaultPosture"
POSTURE_ACTION = "Audit"  # Beholder's default posture; the script's DEFAULT_POSTURE=audit
AUDIT_BLOCK = "Audit (Block)"


@dataclass(frozen=True)
class Command:
    """One `cmdN` file."""

    name: str
    source: str
    cmd: str
    result: str
    operation: str
    condition: str
    action: str


@dataclass(frozen=True)
class Scenario:
    """One scenario directory: its policy and its commands in order."""

    name: str
    policy_file: Path
    kind: str  # ksp (container), hsp (host), nsp (AppArmor native)
    policy_name: str
    namespace: str  # the policy's namespace (ksp) or the node name its selector names (hsp)
    commands: tuple[Command, ...]

    @property
    def is_host(self) -> bool:
        return self.kind == "hsp"


@dataclass(frozen=True)
class Expectation:
    """What the KubeArmor JSON must show for one command."""

    policy: str
    action: str  # Allow, Audit or Block
    result: str  # passed or failed

    @property
    def wants_alert(self) -> bool:
        return not (self.action in ("Allow", "Block") and self.result == "passed")


class Verdict(Enum):
    STRICT = "strict"  # exactly what KubeArmor writes (a Block really refused)
    AUDIT_ONLY = "audit-only"  # a Block expectation met as `Audit (Block)`: not enforced here
    MISMATCH = "mismatch"


def _fields(path: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in path.read_text().splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() and key == key.strip():
            out[key] = value.strip()
    return out


def parse_command(path: Path) -> Command:
    """A `cmdN` file; a missing field is an error naming the file and the field."""
    fields = _fields(path)
    missing = [
        k for k in ("source", "cmd", "result", "operation", "condition", "action") if not fields.get(k)
    ]
    if missing:
        raise ValueError(f"{path}: missing field {missing[0]!r}")
    return Command(name=path.name, **{k: fields[k] for k in Command.__dataclass_fields__ if k != "name"})


def parse_scenario(directory: Path) -> Scenario:
    policies = sorted(directory.glob("*.yaml"))
    if len(policies) != 1:
        raise ValueError(f"{directory}: expected one policy file, found {len(policies)}")
    policy_file = policies[0]
    doc = yaml.safe_load(policy_file.read_text())
    meta = doc.get("metadata") or {}
    if not meta.get("name"):
        raise ValueError(f"{policy_file}: missing field 'metadata.name'")
    selector = ((doc.get("spec") or {}).get("nodeSelector") or {}).get("matchLabels") or {}
    commands = sorted(directory.glob("cmd*"), key=lambda p: int(p.name[3:]))
    return Scenario(
        name=directory.name,
        policy_file=policy_file,
        kind=policy_file.name.split("-", 1)[0],
        policy_name=meta["name"],
        namespace=meta.get("namespace") or selector.get("kubernetes.io/hostname", ""),
        commands=tuple(parse_command(p) for p in commands),
    )


def load_scenarios(*roots: Path) -> list[Scenario]:
    return [parse_scenario(d) for root in roots for d in sorted(root.iterdir()) if d.is_dir()]


def expectation(scenario: Scenario, command: Command) -> Expectation:
    """The script's rewriting of `default` (the default posture) into what to look for."""
    if command.result == "default" or command.action == "default":
        return Expectation(DEFAULT_POSTURE, POSTURE_ACTION, "passed")
    return Expectation(scenario.policy_name, command.action, command.result)


@dataclass(frozen=True)
class Judgement:
    verdict: Verdict
    why: str
    records: tuple[dict[str, Any], ...] = ()


def _candidates(
    scenario: Scenario,
    command: Command,
    expect: Expectation,
    records: Sequence[Mapping[str, Any]],
    *,
    path_only: bool = False,
) -> list[dict[str, Any]]:
    """Alerts of the expected policy for the command's operation and resource (any action).

    `path_only` searches the condition in the Resource's path, not in an exec's arguments
    (`bash -c date` is not an execution of date).
    """
    wanted_type = "MatchedHostPolicy" if scenario.is_host else "MatchedPolicy"
    condition = re.compile(command.condition)
    return [
        dict(r)
        for r in records
        if r.get("PolicyName") == expect.policy
        and r.get("Type") == wanted_type
        and r.get("Operation") == command.operation
        and condition.search(
            str(r.get("Resource", "")).split(" ", 1)[0] if path_only else str(r.get("Resource", ""))
        )
    ]


def judge(
    scenario: Scenario,
    command: Command,
    records: Sequence[Mapping[str, Any]],
    *,
    exit_code: int,
    enforcing: bool,
    not_enforced: str = "",
) -> Judgement:
    """Compare what Beholder wrote while `command` ran with what KubeArmor expects.

    `not_enforced` is why the agent said at start that kill mode cannot enforce the
    scenario's policy (empty: it can): a Block then met as `Audit (Block)` is audit-only.
    """
    expect = expectation(scenario, command)
    found = _candidates(scenario, command, expect, records)
    if not expect.wants_alert:
        if expect.action == "Allow":  # what an allow rule permits is not the posture's either
            posture = Expectation(DEFAULT_POSTURE, "", "")
            found += _candidates(scenario, command, posture, records, path_only=True)
        if found:
            return Judgement(Verdict.MISMATCH, f"no {expect.policy} alert expected", tuple(found))
        return Judgement(Verdict.STRICT, "no alert, as expected")
    if expect.action == "Block":  # result failed: the command must have been refused
        blocked = [r for r in found if r.get("Action") == "Block" and r.get("Result") != "Passed"]
        if blocked and exit_code != 0:
            return Judgement(Verdict.STRICT, "blocked", tuple(blocked))
        audited = [r for r in found if r.get("Action") == AUDIT_BLOCK and r.get("Result") == "Passed"]
        if audited and not enforcing:
            return Judgement(Verdict.AUDIT_ONLY, "Audit (Block): enforcement off", tuple(audited))
        if audited and not_enforced:
            return Judgement(Verdict.AUDIT_ONLY, f"Audit (Block): {not_enforced}", tuple(audited))
        why = "Block alert without a refused command" if blocked else "no Block alert"
        return Judgement(Verdict.MISMATCH, why, tuple(found))
    passed = expect.result == "passed"
    hits = [r for r in found if r.get("Action") == expect.action and (r.get("Result") == "Passed") == passed]
    if hits:
        return Judgement(Verdict.STRICT, f"{expect.action} alert", tuple(hits))
    return Judgement(Verdict.MISMATCH, f"no {expect.policy} {expect.action} alert", tuple(found))
