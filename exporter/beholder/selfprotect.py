"""Self-protection: alert when another process tries to stop, inspect or tamper with the agent.

A security agent is the first thing an intruder switches off. The kernel side already
drops the agent's own process tree, so every event seen here came from someone else:
a signal to the agent's pid, a ptrace of it, a write/unlink/rename/chmod of the agent's
files (its code, venv, config, policies, profiles, spool), or a `bpf()` command that can
detach programs or edit maps. Each raises an `Alert` with a `BH-TAMPER-*` rule id
(MITRE ATT&CK T1562.001, Impair Defenses: Disable or Modify Tools).

The check is a set lookup on the syscall name per event; only the few watched syscalls
do more work, so it can stay on for every batch.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from pathlib import Path

from beholder.events import kinds
from beholder.events.facts import FileAccess, SyscallArgs
from beholder.events.model import Action, Alert, ContainerInfo, Event
from beholder.events.needs import Needs, calls_of

RULE_SIGNAL = "BH-TAMPER-SIGNAL"
RULE_PTRACE = "BH-TAMPER-PTRACE"
RULE_FILE = "BH-TAMPER-FILE"
RULE_BPF = "BH-TAMPER-BPF"
TAGS = ("beholder", "self-protection", "MITRE", "T1562.001")
ENFORCER = "Beholder self-protection"

# bpf(2) commands that unload or rewire BPF programs (uapi/linux/bpf.h numbering), with
# the severity an attempt gets. Loading a program is watched too: it is how tools that
# overwrite other programs' maps or attach competing hooks start.
# Map updates and program loads are everyday work for other eBPF users on a node (CNI, other
# agents), so they are not alerts; taking handles to other processes' BPF objects by id (how
# one would reach the agent's maps) and detaching programs are.
BPF_COMMANDS: dict[int, tuple[str, int]] = {
    9: ("BPF_PROG_DETACH", 9),
    13: ("BPF_PROG_GET_FD_BY_ID", 6),
    14: ("BPF_MAP_GET_FD_BY_ID", 6),
    29: ("BPF_LINK_UPDATE", 9),
    34: ("BPF_LINK_DETACH", 9),
}
_GRACEFUL_STOP = frozenset({2, 15})  # SIGINT, SIGTERM
# File events that change a file or its name; opens only when their flags can write.
_MUTATING = frozenset(
    {kinds.FILE_UNLINK, kinds.FILE_RENAME, kinds.FILE_CHMOD, kinds.FILE_CHOWN, kinds.FILE_LINK}
)
_WRITE_FLAGS = 0o1 | 0o2 | 0o100 | 0o1000 | 0o2000  # O_WRONLY O_RDWR O_CREAT O_TRUNC O_APPEND
_WATCHED = _MUTATING | {kinds.FILE_OPEN, kinds.SYSCALL_SIGNAL, kinds.SYSCALL_PTRACE, kinds.SYSCALL_BPF}
# Kernel interest, the same from every cgroup: the watched calls, opens only when they can write.
_NEEDS = Needs(syscalls=calls_of(_WATCHED - {kinds.FILE_OPEN}), writes=calls_of({kinds.FILE_OPEN}))


def agent_files(config_files: Iterable[str | os.PathLike[str]] = ()) -> list[Path]:
    """The agent's own code and environment plus the given config/policy/profile/spool paths."""
    package = Path(__file__).resolve().parent
    return [package, Path(sys.prefix).resolve(), *(Path(p) for p in config_files)]


class SelfProtection:
    """`Evaluator` raising `BH-TAMPER-*` alerts for actions aimed at the agent."""

    def __init__(
        self, agent_pid: int, protected: Iterable[str | os.PathLike[str]], supervisor_pid: int | None = None
    ) -> None:
        self.agent_pid = agent_pid
        # The process that started the agent (container shim, systemd, a test) may ask it to stop.
        self.supervisor_pid = supervisor_pid
        self._pids = frozenset({agent_pid, -agent_pid, -1})  # -1: every process
        exact: set[str] = set()
        prefixes: list[str] = []
        for raw in protected:
            path = Path(raw).absolute()
            names = {str(path), os.path.realpath(path)}
            exact |= names
            if path.is_dir():
                prefixes += [name.rstrip("/") + "/" for name in names]
        self._exact = frozenset(exact)
        self._prefixes = tuple(sorted(set(prefixes)))

    def needs(self, container: ContainerInfo | None) -> Needs:
        """What it watches, from every container and the host (kernel interest)."""
        return _NEEDS

    def evaluate(self, events: list[Event]) -> list[Alert]:
        alerts: list[Alert] = []
        for ev in events:
            kind = ev.kind
            if kind not in _WATCHED or ev.host_pid == self.agent_pid:
                continue
            if kind == kinds.FILE_OPEN and _reads_only(ev.facts):  # most events: decided here
                continue
            alert = self._check(ev)
            if alert is not None:
                alerts.append(alert)
        return alerts

    def _check(self, ev: Event) -> Alert | None:
        kind, facts = ev.kind, ev.facts
        if isinstance(facts, FileAccess):
            return self._file(ev, facts)
        if not isinstance(facts, SyscallArgs):
            return None
        args = facts.values
        if kind == kinds.SYSCALL_SIGNAL:
            return self._signal(ev, args)
        if kind == kinds.SYSCALL_PTRACE and self._targets_agent(args.get("pid"), ev.syscall):
            message = f"ptrace request {args.get('request', '?')} on agent pid {self.agent_pid}"
            return _alert(ev, RULE_PTRACE, "ptrace of the Beholder agent", 9, message)
        if kind == kinds.SYSCALL_BPF:
            return self._bpf(ev, args)
        return None

    def _targets_agent(self, pid: object, call: str) -> bool:
        if pid in self._pids:
            return True
        # tkill names a thread; the agent's threads live under its /proc task directory.
        return (
            call == "tkill" and isinstance(pid, int) and os.path.exists(f"/proc/{self.agent_pid}/task/{pid}")
        )

    def _signal(self, ev: Event, args: dict[str, int | str]) -> Alert | None:
        target = args.get("pid")
        if not self._targets_agent(target, ev.syscall):
            return None
        sig = args.get("sig", "?")
        if ev.host_pid == self.supervisor_pid and sig in _GRACEFUL_STOP:
            return None
        severity = 4 if sig == 0 else 8  # signal 0 only probes whether the agent is alive
        scope = "every process" if target == -1 else f"agent pid {self.agent_pid}"
        message = f"{ev.syscall} signal {sig} to {scope}"
        return _alert(ev, RULE_SIGNAL, "Signal sent to the Beholder agent", severity, message)

    def _file(self, ev: Event, access: FileAccess) -> Alert | None:
        if ev.kind == kinds.FILE_OPEN:
            if _reads_only(access):
                return None
        elif ev.kind not in _MUTATING:
            return None
        for path in (access.path, access.new_path):
            if path and (path in self._exact or path.startswith(self._prefixes)):
                return _alert(
                    ev, RULE_FILE, "Beholder agent file modified", 8, f"{ev.syscall} on agent file {path}"
                )
        return None

    def _bpf(self, ev: Event, args: dict[str, int | str]) -> Alert | None:
        cmd = args.get("cmd")
        known = BPF_COMMANDS.get(cmd) if isinstance(cmd, int) else None
        if known is None:
            return None
        command, severity = known
        message = f"bpf({command}) by {ev.comm or ev.host_pid} while the Beholder agent runs"
        return _alert(ev, RULE_BPF, "BPF programs or maps tampered with", severity, message)


def _reads_only(facts: object) -> bool:
    """An open that cannot change the file (no write, create, truncate or append flag)."""
    return isinstance(facts, FileAccess) and not (facts.flags or 0) & _WRITE_FLAGS


def _alert(ev: Event, rule_id: str, rule_name: str, severity: int, message: str) -> Alert:
    return Alert(
        event=ev,
        source="policy",
        rule_id=rule_id,
        rule_name=rule_name,
        action=Action.AUDIT,
        severity=severity,
        message=message,
        tags=TAGS,
        enforcer=ENFORCER,
        policy_type="MatchedHostPolicy",
    )
