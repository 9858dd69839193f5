"""KubeArmor's alert throttling: per container, maxAlertPerSec then throttleSec of silence."""

from __future__ import annotations

from dataclasses import replace

from beholder.events.interfaces import HostIdentity
from beholder.events.model import Action, Alert
from beholder.formats.kubearmor import to_kubearmor
from beholder.policy.throttle import THRESHOLD, AlertThrottle
from tests.policy.conftest import Events, container

EV = Events()
WEB, DB = container("web", "shop", app="web"), container("db", "shop", app="db")
SECOND = 1_000_000_000


def _alert(at_s: float, ctr=WEB, source: str = "policy", kubearmor: bool = True) -> Alert:
    event = replace(EV.exec("/bin/cat", ctr=ctr), timestamp_ns=int(at_s * SECOND))
    extra = {"kubearmor.action": "Audit"} if kubearmor else {}
    return Alert(event, source, "audit-cat", "audit-cat", Action.AUDIT, 5, extra=extra)


def _names(alerts: list[Alert]) -> list[str]:
    return [a.rule_id for a in alerts]


def test_up_to_the_limit_passes_and_the_next_one_starts_throttling() -> None:
    throttle = AlertThrottle(max_per_s=3, throttle_s=30)
    kept, dropped = throttle.filter([_alert(100 + i / 10) for i in range(5)])
    assert _names(kept) == ["audit-cat"] * 3 + [THRESHOLD] and dropped == 2
    notice = kept[-1]
    assert notice.policy_type == "SystemEvent" and notice.event.container is WEB


def test_alerts_are_dropped_for_throttle_sec_then_flow_again() -> None:
    throttle = AlertThrottle(max_per_s=2, throttle_s=30)
    throttle.filter([_alert(100), _alert(100.1), _alert(100.2)])  # onset at 100.2
    kept, dropped = throttle.filter([_alert(110), _alert(130.1)])
    assert kept == [] and dropped == 2
    kept, dropped = throttle.filter([_alert(130.3), _alert(130.4)])
    assert _names(kept) == ["audit-cat", "audit-cat"] and dropped == 0


def test_the_count_restarts_every_second() -> None:
    throttle = AlertThrottle(max_per_s=2, throttle_s=30)
    kept, dropped = throttle.filter([_alert(100 + i * 0.6) for i in range(10)])  # under 2 a second
    assert len(kept) == 10 and dropped == 0


def test_containers_are_throttled_apart_and_profile_and_tamper_alerts_never() -> None:
    throttle = AlertThrottle(max_per_s=1, throttle_s=30)
    burst = [_alert(100), _alert(100.1), _alert(100.2, ctr=DB), _alert(100.3, source="profile")]
    burst.append(_alert(100.4, kubearmor=False))  # the agent's own (tamper) alert
    kept, dropped = throttle.filter(burst)
    assert [(a.rule_id, a.event.container.name, a.source) for a in kept] == [
        ("audit-cat", "web", "policy"),
        (THRESHOLD, "web", "policy"),
        ("audit-cat", "db", "policy"),
        ("audit-cat", "web", "profile"),
        ("audit-cat", "web", "policy"),
    ]
    assert dropped == 1


def test_notice_renders_as_kubearmors_alert_threshold_record() -> None:
    throttle = AlertThrottle(max_per_s=1, throttle_s=30)
    kept, _ = throttle.filter([_alert(100), _alert(100.5)])
    record = to_kubearmor(kept[-1].event, HostIdentity("node-a"), kept[-1])
    assert (record["Type"], record["Operation"], record["Result"]) == (
        "SystemEvent",
        "AlertThreshold",
        "Passed",
    )
    assert (record["MaxAlertsPerSec"], record["DroppingAlertsInterval"]) == (1, 30)
    assert (record["PPID"], record["UID"], record["ContainerName"]) == (0, 0, "web")
    assert "PolicyName" not in record and "Resource" not in record
