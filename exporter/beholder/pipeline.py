"""The one pipeline assembly: every command that traces (`run`, live `profile learn`) builds
its agent here, so each gets the same redaction, kernel syscall counts, loss accounting
and final report, and differs only in what it plugs in (sinks, evaluators, observers).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from beholder.agent import Agent, AgentOptions, Metrics
from beholder.enrich.enricher import Enricher
from beholder.events import Alert, Event
from beholder.events.interfaces import Evaluator, LossCounter, Sink, SyscallObserver
from beholder.health import Health
from beholder.interest import InterestMaps, KernelInterest
from beholder.losses import LossLedger
from beholder.redact import Redactor
from beholder.sensors.program import ProgramOptions

if TYPE_CHECKING:
    from beholder.policy.throttle import AlertThrottle
    from beholder.sources.visibility import Visibility


@dataclass(slots=True)
class Tracing:
    """What a tracing command asks of the kernel side and of redaction."""

    program: ProgramOptions = field(default_factory=ProgramOptions)
    redact: bool = True  # mask secrets in every exported command line (`--no-redact`: off)
    redact_patterns: tuple[str, ...] = ()
    agent: AgentOptions = field(default_factory=AgentOptions)


class Meter(Metrics, LossCounter, Protocol):
    """What the pipeline reports to (`beholder.otel.metrics.PipelineMetrics` fits)."""


class Pipeline:
    """Enricher and loss ledger first (the sinks need them), then `open` wires the agent."""

    def __init__(self, tracing: Tracing, metrics: Meter | None = None) -> None:
        self.tracing = tracing
        self.metrics = metrics
        self.losses = LossLedger(metrics)
        redactor = Redactor(extra=tracing.redact_patterns) if tracing.redact else None
        self.enricher = Enricher(redactor=redactor)
        self.agent: Agent | None = None

    def open(
        self,
        sinks: Sequence[Sink] = (),
        evaluators: Sequence[Evaluator] = (),
        syscall_observers: Sequence[SyscallObserver] = (),
        on_batch: Callable[[list[Event], list[Alert]], None] | None = None,
        health: Health | None = None,
        telemetry: Callable[[list[Event]], list[Event]] | None = None,
        throttle: AlertThrottle | None = None,
        visibility: Visibility | None = None,
    ) -> Agent:
        """The agent over the kernel's records (`SensorError` when no sensor can run).
        `telemetry` picks the evaluated events that are exported (visibility), `throttle`
        drops a container's alerts over KubeArmor's rate (counted); with `visibility`, the
        kernel sends each cgroup only what it exports and what the evaluators read (a source
        without the kernel's interest maps, recorded records, is read whole)."""
        from beholder.sensors.source import KernelSource  # loads the BPF program: tracing only

        source = KernelSource(self.tracing.program)
        filters = visibility is not None and isinstance(source, InterestMaps)  # not recorded records
        interest = KernelInterest(source, visibility, evaluators) if filters else None
        self.agent = Agent(
            self.tracing.agent,
            source,
            list(sinks),
            list(evaluators),
            syscall_observers=list(syscall_observers),
            enricher=self.enricher,
            on_batch=on_batch,
            metrics=self.metrics,
            losses=self.losses,
            health=health,
            telemetry=telemetry,
            alert_filter=throttle.filter if throttle else None,
            interest=interest,
        )
        return self.agent

    def close(self, **extra: object) -> dict[str, object]:
        """Close the agent and its sinks; the final report (the `--stats-file` content): the
        kernel's and the agent's counters, `extra`, what sinks still hold, losses by stage."""
        agent = self.agent
        if agent is None:
            return {}
        report = {**agent.report(), **extra}
        agent.close()  # sinks may count last losses while they close
        report["sinks"] = agent.sink_report()
        report["lost"] = self.losses.totals()
        return report


def closing_line(report: dict) -> str:
    """`kernel saw …, sent …, folded … repeats, lost N (stage n, …)`: every stage's losses."""
    kernel, lost = report["kernel"], report["lost"]
    stages = ", ".join(f"{stage} {n}" for stage, n in sorted(lost.items()))
    return (
        f"kernel saw {kernel['seen']}, sent {kernel['emitted']}, folded {kernel['suppressed']} repeats, "
        f"lost {sum(lost.values())}" + (f" ({stages})" if stages else "")
    )
