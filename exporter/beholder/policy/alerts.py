"""Build `Alert`s the way KubeArmor fills an alert's policy fields.

The one rule that matters most here: never claim a block that did not happen. A Block rule
is reported as `Block` only when something really stopped the call: kill mode sent the
caller SIGKILL at the call's entry (Enforcer `BPF-SIGKILL`, Result `Killed (SIGKILL)`), or
the engine runs with BPF-LSM enforcing and the kernel refused the call (Enforcer `BPFLSM`).
Otherwise it is `Audit (Block)` from the `eBPF Monitor`, with the event's own Result
(normally `Passed`), as KubeArmor reports a Block rule on a node where it cannot enforce.
"""

from __future__ import annotations

from beholder.events.model import KILL_ENFORCER, MONITOR_ENFORCER, Action, Alert, Event
from beholder.policy.model import Rule

DEFAULT_POSTURE = "DefaultPosture"
MONITOR = MONITOR_ENFORCER
BPFLSM = "BPFLSM"
AUDIT_BLOCK = "Audit (Block)"


def policy_type(event: Event) -> str:
    return "MatchedHostPolicy" if event.container is None else "MatchedPolicy"


def _block(event: Event, lsm_enforcing: bool) -> tuple[str, str]:
    """(KubeArmor Action text, Enforcer) for something a rule or posture wants blocked."""
    if event.killed:
        return Action.BLOCK.value, KILL_ENFORCER
    if lsm_enforcing and event.retval < 0:
        return Action.BLOCK.value, BPFLSM
    return AUDIT_BLOCK, MONITOR


def _alert(event: Event, action: Action, text: str, enforcer: str, rule: Rule | None = None) -> Alert:
    """The policy fields of a KubeArmor alert (a rule's, or DefaultPosture's when `rule` is None).

    `text` is KubeArmor's Action string, which can say more than `action` ("Audit (Block)").
    """
    name = rule.policy if rule else DEFAULT_POSTURE
    extra = {"kubearmor.action": text}
    if rule is not None:
        extra["kubearmor.rule"] = rule.where
    return Alert(
        event=event,
        source="policy",
        rule_id=name,
        rule_name=name,
        action=action,
        enforcer=enforcer,
        policy_type=policy_type(event),
        extra=extra,
        severity=rule.severity if rule else 0,
        message=rule.message if rule else "",
        tags=rule.tags if rule else (),
    )


def rule_alert(event: Event, rule: Rule, lsm_enforcing: bool) -> Alert:
    """An Audit or Block rule matched `event`."""
    if rule.action is Action.BLOCK:
        text, enforcer = _block(event, lsm_enforcing)
    else:
        text, enforcer = rule.action.value, MONITOR
    return _alert(event, rule.action, text, enforcer, rule)


def posture_alert(event: Event, posture: str, lsm_enforcing: bool) -> Alert:
    """Nothing allowed `event` in an allow-listed class: the default posture speaks.

    KubeArmor leaves Severity, Tags and Message empty on these; severity 0 stands for that.
    """
    if posture == "block":
        text, enforcer = _block(event, lsm_enforcing)
        return _alert(event, Action.BLOCK, text, enforcer)
    return _alert(event, Action.AUDIT, Action.AUDIT.value, MONITOR)
