"""KubeArmor's alert throttling: per container, at most `maxAlertPerSec` alerts a second.

When a container's policy alerts in one second exceed the limit, its alerts are dropped
for `throttleSec` seconds and one `SystemEvent`/`AlertThreshold` record says so, as
KubeArmor's feeder does; every dropped alert is counted (metrics, stats file), never
silently lost. Time is the events' own (kernel) time, so a replayed or delayed batch is
throttled as it happened. Only KubeArmor policy alerts are throttled (they carry
`kubearmor.action`): profile alerts have their own cooldown, and the agent's own tamper
alerts are never dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from beholder.events.model import SYSTEM_EVENT, Action, Alert

THRESHOLD = "AlertThreshold"
_NS = 1_000_000_000
_STATE_LIMIT = 16384


@dataclass(slots=True)
class _Window:
    start_ns: int
    count: int = 0
    until_ns: int = 0  # alerts are dropped before this time


@dataclass(slots=True)
class AlertThrottle:
    """`filter(alerts) -> (kept, dropped)`; kept includes one AlertThreshold notice per onset."""

    max_per_s: int = 10  # maxAlertPerSec
    throttle_s: int = 30  # throttleSec
    _windows: dict[str, _Window] = field(default_factory=dict)

    def filter(self, alerts: list[Alert]) -> tuple[list[Alert], int]:
        kept: list[Alert] = []
        dropped = 0
        for alert in alerts:
            if alert.source != "policy" or "kubearmor.action" not in alert.extra:
                kept.append(alert)
                continue
            container = alert.event.container
            key = container.container_id if container is not None else ""
            now = alert.event.timestamp_ns
            window = self._windows.get(key)
            if window is None:
                if len(self._windows) >= _STATE_LIMIT:
                    self._windows.clear()
                window = self._windows[key] = _Window(now)
            if now < window.until_ns:
                dropped += 1
                continue
            if now - window.start_ns >= _NS:
                window.start_ns, window.count = now, 0
            window.count += 1
            if window.count > self.max_per_s:
                window.until_ns = now + self.throttle_s * _NS
                window.start_ns, window.count = window.until_ns, 0
                kept.append(self._notice(alert))
                dropped += 1
                continue
            kept.append(alert)
        return kept, dropped

    def _notice(self, alert: Alert) -> Alert:
        """The one record that says this container's alerts are dropped for a while."""
        return Alert(
            event=alert.event,
            source="policy",
            rule_id=THRESHOLD,
            rule_name=THRESHOLD,
            action=Action.AUDIT,
            severity=0,
            message=f"more than {self.max_per_s} alerts a second: dropping alerts for {self.throttle_s} s",
            enforcer=alert.enforcer,
            policy_type=SYSTEM_EVENT,
            extra={
                "kubearmor.max_alerts_per_sec": str(self.max_per_s),
                "kubearmor.dropping_alerts_interval": str(self.throttle_s),
            },
        )
