"""Severity numbers for Beholder records: one table, no invented severity text.

KubeArmor rates policies 1–10 and Kubescape node-agent rules use the same 1–10 scale
(with Low/Medium/High/Critical words in its reports). OpenTelemetry has 24 numbers in six
ranges. What an alert asked for decides the range: a match that only audits is a warning
(WARN..WARN4), one that a Block rule (or an allow-list) forbids is an error (ERROR..ERROR4);
the rule severity picks the step inside the range, monotonically. Nothing is FATAL: that is
for the agent dying, not for what it observed. Telemetry events are INFO. Records carry no
SeverityText: the spec keeps that field for a severity as the source wrote it, and the kernel
wrote none. The original value stays in `beholder.alert.severity`.
"""

from __future__ import annotations

from typing import Final

from beholder.events.model import Action

# OTel SeverityNumber values (logs data model) and their short names, for the docs.
SEVERITY_NAMES: Final = {
    9: "INFO",
    13: "WARN",
    14: "WARN2",
    15: "WARN3",
    16: "WARN4",
    17: "ERROR",
    18: "ERROR2",
    19: "ERROR3",
    20: "ERROR4",
}
TELEMETRY_SEVERITY: Final = 9
LOSS_SEVERITY: Final = 13  # WARN: data is missing, the agent goes on
_STEP: Final = {1: 0, 2: 0, 3: 0, 4: 1, 5: 1, 6: 2, 7: 2, 8: 3, 9: 3, 10: 3}  # rule severity -> step
AUDIT_BASE: Final = 13  # WARN
FORBIDDEN_BASE: Final = 17  # ERROR

# Kubescape's severity words, placed on the 1..10 scale at the top of their band.
KUBESCAPE_SEVERITY_WORDS: Final = {"low": 3, "medium": 6, "high": 8, "critical": 10}


def alert_severity(severity: int, action: Action) -> int:
    """SeverityNumber for a 1–10 rule severity (out-of-range values clamped) and the action."""
    base = AUDIT_BASE if action is Action.AUDIT else FORBIDDEN_BASE
    return base + _STEP[min(10, max(1, severity))]


def kubescape_severity(value: str | int) -> int:
    """A Kubescape severity (number, numeric string or Low/Medium/High/Critical) on the 1–10 scale."""
    if isinstance(value, int):
        return min(10, max(1, value))
    text = value.strip().lower()
    if text.isdigit():
        return min(10, max(1, int(text)))
    return KUBESCAPE_SEVERITY_WORDS.get(text, 1)
