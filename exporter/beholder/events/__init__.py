"""The event model shared by every stage of the pipeline."""

from beholder.events.model import (
    Action,
    Alert,
    ContainerInfo,
    Event,
    LossReport,
    Operation,
    ProcessInfo,
    result_text,
)

__all__ = [
    "Action",
    "Alert",
    "ContainerInfo",
    "Event",
    "LossReport",
    "Operation",
    "ProcessInfo",
    "result_text",
]
