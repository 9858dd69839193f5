"""The text sinks: the formats' lines (rendered in `beholder.formats`) written by `LineSink`."""

from __future__ import annotations

import json
from collections.abc import Callable

from beholder.events import Alert, Event, LossReport
from beholder.events.interfaces import HostIdentity, LossCounter
from beholder.formats.console import alert_line, event_line, watched
from beholder.formats.kubearmor_lines import KubeArmorLines
from beholder.formats.native import alert_dict, event_dict
from beholder.output.lines import Destination, LineSink
from beholder.output.rotation import GENERATIONS, MAX_BYTES


class ConsoleSink(LineSink):
    """One readable line per event or alert, for people watching a terminal. `mode` is
    `watched` (the default selection, `formats.console.watched`) or `all` (every event)."""

    def __init__(
        self, destination: Destination = None, mode: str = "watched", *, losses: LossCounter | None = None
    ) -> None:
        super().__init__(destination, losses=losses)
        self.show: Callable[[Event], bool] = (lambda _ev: True) if mode == "all" else watched

    def lines(self, events: list[Event], alerts: list[Alert]) -> list[str]:
        show = self.show
        return [event_line(ev) for ev in events if show(ev)] + [alert_line(a) for a in alerts]

    def report_losses(self, reports: list[LossReport]) -> None:
        """One line per stage that lost records, among the events, so the gap shows where it is."""
        self.write_lines([f"LOSS {r.message}" for r in reports])


class KubeArmorJsonSink(LineSink):
    """KubeArmor JSON lines (events and alerts), compact as KubeArmor writes them; a regular
    file is rotated into compressed generations (`output.rotation`), which `logs --file`
    and `summary --file` read back."""

    def __init__(
        self,
        destination: Destination,
        host: HostIdentity,
        include_events: bool = True,
        *,
        losses: LossCounter | None = None,
    ) -> None:
        super().__init__(destination, losses=losses, max_bytes=MAX_BYTES, backups=GENERATIONS)
        self.include_events = include_events
        self._render = KubeArmorLines(host)

    def lines(self, events: list[Event], alerts: list[Alert]) -> list[str]:
        render = self._render
        lines = [render.event(ev) for ev in events] if self.include_events else []
        return lines + [render.alert(a) for a in alerts]

    def report_losses(self, reports: list[LossReport]) -> None:
        """A `RecordsLost` SystemEvent per stage, between the records around the gap."""
        self.write_lines([self._render.loss(r) for r in reports])


class NativeJsonSink(LineSink):
    """Beholder's own JSON lines: every field of the event model."""

    def lines(self, events: list[Event], alerts: list[Alert]) -> list[str]:
        return [json.dumps(event_dict(ev)) for ev in events] + [json.dumps(alert_dict(a)) for a in alerts]


class KubescapeAlertSink(LineSink):
    """Kubescape node-agent alert JSON lines for profile alerts (`--output kubescape`).

    `lookup` (pid -> ProcessInfo, the live process tree) lets the alert's processTree show
    the parent as the node-agent does.
    """

    def __init__(
        self,
        destination: Destination,
        host: HostIdentity,
        lookup: Callable[[int], object] | None = None,
        *,
        losses: LossCounter | None = None,
    ) -> None:
        from beholder.formats.kubescape import dumps

        super().__init__(destination, losses=losses)
        self._dumps = dumps
        self.host = host
        self.lookup = lookup

    def lines(self, events: list[Event], alerts: list[Alert]) -> list[str]:
        return [self._dumps(a, self.host, self.lookup) for a in alerts if a.source == "profile"]
