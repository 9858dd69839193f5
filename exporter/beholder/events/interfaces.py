"""The small interfaces the pipeline stages meet at.

Every stage works on whole batches (lists), never one event at a time, so a stage's cost
per event is a loop body, not a call chain.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from beholder.events.model import Alert, Event


@dataclass(frozen=True, slots=True)
class HostIdentity:
    """Who is observing: KubeArmor's HostName/ClusterName, OTel's host.* and k8s.node.*."""

    host_name: str
    node_name: str = ""  # "" when not known to be a Kubernetes node
    cluster_name: str = ""  # "" when not given; KubeArmor's renderings print `default`

    @property
    def cluster_label(self) -> str:
        """KubeArmor's ClusterName, which is `default` when the cluster has no name."""
        return self.cluster_name or "default"


class Evaluator(Protocol):
    """Policy or profile engine: reads an enriched batch, returns the alerts it raises."""

    def evaluate(self, events: list[Event]) -> list[Alert]: ...


class Sink(Protocol):
    """Where a batch goes (console, KubeArmor JSON, OTLP file, OTLP exporter).

    `emit` must not block on the network: exporters queue and return.
    """

    def emit(self, events: list[Event], alerts: list[Alert]) -> None: ...

    def flush(self) -> None: ...

    def close(self) -> None: ...
