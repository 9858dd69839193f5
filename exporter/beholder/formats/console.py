"""One readable line per event or alert, for people watching a terminal.

By default the console shows what people watch on a busy host, as `tetra getevents` and
Falco do: program starts and exits, network connects, binds, listens and accepts, DNS
questions, alerts and losses. File opens and capability checks (most of a host's events)
go to the other outputs only, unless `--console all` asks for everything.
"""

from __future__ import annotations

from datetime import datetime

from beholder.events import Alert, Event, kinds
from beholder.formats.arguments import arguments
from beholder.formats.resource import resource_text
from beholder.formats.safe_text import safe

WATCHED_KINDS = frozenset(
    {
        kinds.PROCESS_EXEC,
        kinds.PROCESS_EXIT,
        kinds.NETWORK_CONNECT,
        kinds.NETWORK_BIND,
        kinds.NETWORK_LISTEN,
        kinds.NETWORK_ACCEPT,
        kinds.NETWORK_DNS,
    }
)
CONSOLE_MODES = ("watched", "all")


def watched(event: Event) -> bool:
    """True for the events the default console shows (see the module docstring)."""
    return event.kind in WATCHED_KINDS


def _who(event: Event) -> str:
    ctr = event.container
    if ctr is None:
        return "host"
    if ctr.pod_name:
        return f"{ctr.namespace}/{ctr.pod_name}/{ctr.name}"
    return ctr.name or ctr.container_id[:12]


def _args(event: Event) -> str:
    shown = [f"{k}={v}" for k, v in arguments(event).items() if k != "argv"]
    if event.argv:
        shown.insert(0, "argv=" + " ".join(event.argv))
    return " ".join(shown)


def event_line(event: Event) -> str:
    clock = datetime.fromtimestamp(event.timestamp_ns / 1e9).strftime("%H:%M:%S.%f")[:-3]
    proc = event.process
    exe = proc.exe if proc and proc.exe else event.comm
    repeat = f" (+{event.repeat_count} repeats)" if event.repeat_count else ""
    trunc = " [truncated]" if event.truncated else ""
    return safe(
        f"{clock} {event.operation.value:<12} {event.syscall:<12} {_who(event):<24} "
        f"pid={event.host_pid} {exe} -> {resource_text(event)} {_args(event)} = {event.result}{repeat}{trunc}"
    )


def alert_line(alert: Alert) -> str:
    """`ALERT <policy> sev=<n> <action>: <message> :: <event>`, the rule named once."""
    action = alert.extra.get("kubearmor.action", alert.action.value)
    name = alert.rule_id if alert.rule_name in ("", alert.rule_id) else f"{alert.rule_id} {alert.rule_name}"
    message = f" {alert.message}" if alert.message else ""
    return "ALERT " + safe(f"{name} sev={alert.severity} {action}:{message} :: {event_line(alert.event)}")
