"""The OTLP spelling of Beholder's enums: lowercase snake_case, as the conventions ask.

The model keeps KubeArmor's spelling (`Process`, `Audit`) because the KubeArmor JSON output
is a contract of its own; logs and metrics both spell the members from these tables, so a
query written against one signal matches the other.
"""

from __future__ import annotations

from beholder.events.model import Action, Operation

OPERATION: dict[Operation, str] = {op: op.value.lower() for op in Operation}
ACTION: dict[Action, str] = {action: action.value.lower() for action in Action}
