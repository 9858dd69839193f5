"""An alert's rule as OpenTelemetry's `security_rule.*` describes it.

`security_rule.uuid` is a UUIDv5 of the rule's identity (source and rule id), so every agent
names the same rule with the same UUID; `security_rule.ruleset.name` is the policy or the
profile the rule belongs to; MITRE ATT&CK and NIST tags become `security_rule.category` and,
for an ATT&CK technique, `security_rule.reference` (the technique's page).
"""

from __future__ import annotations

import re
import uuid
from functools import lru_cache

from beholder.events.model import Alert

RULE_NAMESPACE = uuid.UUID("0b4e8d8c-3c5e-5a86-9a4c-6f2d1b7e5a10")  # Beholder's rules
_TECHNIQUE = re.compile(r"(?<![A-Za-z0-9])T(\d{4})(?:[._](\d{3}))?(?![0-9])")
_ATTACK_URL = "https://attack.mitre.org/techniques/"


@lru_cache(maxsize=4096)
def rule_uuid(source: str, rule_id: str) -> str:
    return str(uuid.uuid5(RULE_NAMESPACE, f"{source}/{rule_id}"))


def ruleset_name(alert: Alert) -> str:
    """The behaviour profile a profile rule judged against, else the KubeArmor policy."""
    if alert.source == "profile":
        return alert.extra.get("profile.name") or "kubescape"
    return alert.rule_id


def rule_category(alert: Alert) -> str:
    """The MITRE/NIST classification: a policy's tags, or a profile rule's tactic and technique."""
    if alert.source == "profile":
        parts = (alert.extra.get("mitre.tactic", ""), alert.extra.get("mitre.technique", ""))
        return ",".join(p for p in parts if p)
    return ",".join(alert.tags)


def rule_reference(alert: Alert) -> str:
    """The ATT&CK page of the first technique id the rule names, or ""."""
    return _technique_page(rule_category(alert))


@lru_cache(maxsize=4096)
def _technique_page(category: str) -> str:
    found = _TECHNIQUE.search(category)
    if found is None:
        return ""
    technique, sub = found.groups()
    return f"{_ATTACK_URL}T{technique}/{sub + '/' if sub else ''}"
