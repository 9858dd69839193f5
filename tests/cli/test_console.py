"""The default console shows what people watch; `--console all` shows everything."""

from __future__ import annotations

import io

import pytest

from beholder.events.model import Action, Alert, LossReport, Operation
from beholder.formats.console import alert_line
from beholder.output.sinks import ConsoleSink
from cli.builders import event, exec_of, net, open_of

DNS = event(Operation.NETWORK, "sendto", "example.org", data={"qname": "example.org", "qtype": "A"})
EXIT = event(Operation.PROCESS, "exit", data={"exit_code": "3"})
CAP = event(Operation.CAPABILITY, "cap_capable", "CAP_NET_RAW", data={"capability": "CAP_NET_RAW"})
WATCHED = [exec_of("/bin/ls"), EXIT, net("connect", sin_port="80"), net("bind"), net("listen"), DNS]
NOT_WATCHED = [open_of("/etc/passwd"), CAP, net("socket"), event(Operation.SYSCALL, "setuid")]


def _shown(mode: str) -> list[str]:
    out = io.StringIO()
    sink = ConsoleSink(out, mode)
    sink.emit([*WATCHED, *NOT_WATCHED], [])
    return out.getvalue().splitlines()


def test_default_console_shows_exec_exit_connect_bind_dns_only() -> None:
    lines = _shown("watched")
    assert len(lines) == len(WATCHED)
    assert [line.split()[2] for line in lines] == ["execve", "exit", "connect", "bind", "listen", "sendto"]


def test_console_all_shows_every_event() -> None:
    assert len(_shown("all")) == len(WATCHED) + len(NOT_WATCHED)


def test_alerts_and_losses_always_show_on_the_default_console() -> None:
    out = io.StringIO()
    sink = ConsoleSink(out)
    opened = open_of("/etc/shadow")
    sink.emit([opened], [Alert(opened, "policy", "no-shadow", "no-shadow", Action.BLOCK, 5)])
    sink.report_losses([LossReport("ringbuf", 4, 4, 1, 1)])
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("ALERT no-shadow sev=5 Block: :: ") and "/etc/shadow" in lines[0]
    assert lines[1] == "LOSS lost 4 records at stage ringbuf (4 since start)"


@pytest.mark.parametrize(
    ("alert", "start"),
    [
        (
            Alert(exec_of("/bin/sh"), "policy", "block-sh", "block-sh", Action.BLOCK, 7, "no shells"),
            "ALERT block-sh sev=7 Block: no shells :: ",
        ),
        (
            Alert(exec_of("/bin/sh"), "policy", "audit-sh", "audit-sh", Action.AUDIT, 1),
            "ALERT audit-sh sev=1 Audit: :: ",
        ),
        (
            Alert(
                exec_of("/bin/sh"), "profile", "R0001", "Unexpected process launched", Action.AUDIT, 1, "ran"
            ),
            "ALERT R0001 Unexpected process launched sev=1 Audit: ran :: ",
        ),
        (
            Alert(
                exec_of("/bin/sh"),
                "policy",
                "ka-audit",
                "ka-audit",
                Action.BLOCK,
                5,
                extra={"kubearmor.action": "Audit (Block)"},
            ),
            "ALERT ka-audit sev=5 Audit (Block): :: ",
        ),
    ],
    ids=["policy_with_message", "no_message_no_double_space", "profile_rule", "kubearmor_action_text"],
)
def test_alert_line_names_the_rule_once(alert: Alert, start: str) -> None:
    line = alert_line(alert)
    assert line.startswith(start)
    assert "  " not in line.split(" :: ")[0]
    assert line.count(alert.rule_id) == 1
