"""The seeds' audit example, end to end through the KubeArmor JSON rendering.

Seed 004 applies `ksp-discovery-process-discovery` (Audit, severity 5, tags MITRE and
Discovery) to host `ubuntu-2gb-hel1-1`; running `ps` there yields the alert shown in the
seed. The policy and the alert are read from the seed in place.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from beholder.events.interfaces import HostIdentity
from beholder.formats.kubearmor import to_kubearmor
from beholder.policy import PolicyEngine
from conftest import SEEDS, require

SEED = SEEDS / "004_f3183488164a15c8.txt"
# Fields that describe the policy decision (HostName, PIDs and times describe the capture).
DECISION_FIELDS = (
    "Type",
    "Severity",
    "Tags",
    "Message",
    "Action",
    "Enforcer",
    "Result",
    "Operation",
    "Resource",
)


def _blocks(text: str, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", text, re.S)


def _fields(block: str) -> dict[str, str]:
    """The seed's alert listing is `"Key":value` per line (no commas), not strict JSON."""
    return {k: v.strip('"') for k, v in re.findall(r'^"(\w+)":(.*)$', block, re.M)}


@pytest.fixture(scope="module")
def seed_text() -> str:
    require(SEED.is_file(), f"{SEED} missing")
    return SEED.read_text()


def test_ps_under_discovery_policy_gives_the_seed_alert(seed_text: str, tmp_path: Path, ev) -> None:
    policy = tmp_path / "discovery.yaml"
    policy.write_text(_blocks(seed_text, "yaml")[0])
    expected = _fields(_blocks(seed_text, "json")[0])
    host = HostIdentity("ubuntu-2gb-hel1-1")
    engine, errors = PolicyEngine.load([policy], host)
    assert errors == []

    (alert,) = engine.evaluate([ev.exec("/usr/bin/ps", parent="/usr/bin/bash")])
    record = to_kubearmor(alert.event, host, alert)
    assert {k: str(record[k]) for k in DECISION_FIELDS} == {k: expected[k] for k in DECISION_FIELDS}
    assert record["ATags"] == ["MITRE", "Discovery"]
    # KubeArmor names the alert after metadata.name; the seed's SaaS view shows it without "ksp-".
    assert record["PolicyName"] == "ksp-discovery-process-discovery"
    assert expected["PolicyName"] == record["PolicyName"].removeprefix("ksp-")


def test_seed_policy_ignores_other_hosts_and_other_binaries(seed_text: str, tmp_path: Path, ev) -> None:
    policy = tmp_path / "discovery.yaml"
    policy.write_text(_blocks(seed_text, "yaml")[0])
    other_host, _ = PolicyEngine.load([policy], HostIdentity("ubuntu-2gb-hel1-2"))
    same_host, _ = PolicyEngine.load([policy], HostIdentity("ubuntu-2gb-hel1-1"))
    assert other_host.evaluate([ev.exec("/usr/bin/ps")]) == []
    assert same_host.evaluate([ev.exec("/usr/bin/ls")]) == []
