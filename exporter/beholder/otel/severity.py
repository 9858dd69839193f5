"""Severity numbers for Beholder records: telemetry is INFO, alerts map by one table.

KubeArmor rates policies 1–10 and Kubescape node-agent rules use the same 1–10 scale
(with Low/Medium/High/Critical words in its reports). OpenTelemetry has 24 numbers in six
ranges. The table spreads 1–10 monotonically over WARN..FATAL so that no alert sorts below
telemetry and a higher rule severity never maps lower; the original value is kept in the
`beholder.alert.severity` attribute.
"""

from __future__ import annotations

from typing import Final

# OTel SeverityNumber values (logs data model) and their short names.
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
    21: "FATAL",
    22: "FATAL2",
}
TELEMETRY_SEVERITY: Final = 9

# KubeArmor / Kubescape severity 1..10 -> OTel SeverityNumber.
ALERT_SEVERITY: Final = {1: 13, 2: 14, 3: 15, 4: 16, 5: 17, 6: 18, 7: 19, 8: 20, 9: 21, 10: 22}

# Kubescape's severity words, placed on the 1..10 scale at the top of their band.
KUBESCAPE_SEVERITY_WORDS: Final = {"low": 3, "medium": 6, "high": 8, "critical": 10}


def alert_severity(severity: int) -> tuple[int, str]:
    """SeverityNumber and text for a 1–10 rule severity; out-of-range values are clamped."""
    number = ALERT_SEVERITY[min(10, max(1, severity))]
    return number, SEVERITY_NAMES[number]


def kubescape_severity(value: str | int) -> int:
    """A Kubescape severity (number, numeric string or Low/Medium/High/Critical) on the 1–10 scale."""
    if isinstance(value, int):
        return min(10, max(1, value))
    text = value.strip().lower()
    if text.isdigit():
        return min(10, max(1, int(text)))
    return KUBESCAPE_SEVERITY_WORDS.get(text, 1)
