"""Tamper attempts aimed at the agent raise BH-TAMPER-* alerts; the same actions elsewhere do not."""

from __future__ import annotations

from pathlib import Path

import pytest

from beholder.events.model import Action, Event, Operation
from beholder.formats.kubearmor_in import with_facts
from beholder.selfprotect import RULE_BPF, RULE_FILE, RULE_PTRACE, RULE_SIGNAL, SelfProtection, agent_files

AGENT = 4242
OTHER = 999


SUPERVISOR = 4141  # the process that started the agent (container shim, systemd)


def event(op: Operation, syscall: str, resource: str = "", actor: int = OTHER, **data: str) -> Event:
    return with_facts(Event(1, op, syscall, 0, actor, actor, 0, 0, "attacker", 1, resource=resource), data)


@pytest.fixture
def guard(tmp_path: Path) -> SelfProtection:
    (tmp_path / "spool").mkdir()
    (tmp_path / "policy.yaml").write_text("x")
    return SelfProtection(AGENT, [tmp_path / "spool", tmp_path / "policy.yaml"], supervisor_pid=SUPERVISOR)


def rules(guard: SelfProtection, events: list[Event]) -> list[str]:
    return [a.rule_id for a in guard.evaluate(events)]


SYSCALL_CASES = [
    ("kill", {"pid": str(AGENT), "sig": "9"}, [RULE_SIGNAL]),
    ("kill", {"pid": str(-AGENT), "sig": "15"}, [RULE_SIGNAL]),
    ("kill", {"pid": "-1", "sig": "15"}, [RULE_SIGNAL]),
    ("tgkill", {"pid": str(AGENT), "tid": str(AGENT), "sig": "19"}, [RULE_SIGNAL]),
    ("kill", {"pid": "1234", "sig": "9"}, []),
    ("kill", {"pid": str(AGENT), "sig": "15", "actor": SUPERVISOR}, []),  # graceful stop by the supervisor
    ("kill", {"pid": str(AGENT), "sig": "9", "actor": SUPERVISOR}, [RULE_SIGNAL]),
    ("ptrace", {"request": "16", "pid": str(AGENT)}, [RULE_PTRACE]),
    ("ptrace", {"request": "16", "pid": "1234"}, []),
    ("bpf", {"cmd": "9"}, [RULE_BPF]),
    ("bpf", {"cmd": "34"}, [RULE_BPF]),
    ("bpf", {"cmd": "14"}, [RULE_BPF]),  # BPF_MAP_GET_FD_BY_ID: a handle to someone else's map
    ("bpf", {"cmd": "3"}, []),  # map updates/deletes and loads: everyday work of other eBPF users
    ("bpf", {"cmd": "2"}, []),
    ("bpf", {"cmd": "5"}, []),
    ("bpf", {"cmd": "1"}, []),  # BPF_MAP_LOOKUP_ELEM only reads
    ("bpf", {"cmd": "garbage"}, []),
    ("setuid", {"userid": "0"}, []),
]


@pytest.mark.parametrize(("syscall", "data", "expected"), SYSCALL_CASES)
def test_signal_ptrace_and_bpf_aimed_at_the_agent_alert(
    guard: SelfProtection, syscall: str, data: dict[str, str], expected: list[str]
) -> None:
    assert rules(guard, [event(Operation.SYSCALL, syscall, **data)]) == expected


def test_tkill_of_an_agent_thread_alerts_via_its_task_directory(tmp_path: Path) -> None:
    import os
    import threading

    stop = threading.Event()
    worker = threading.Thread(target=stop.wait)
    worker.start()
    try:
        guard = SelfProtection(os.getpid(), [tmp_path])
        tid = str(worker.native_id)
        assert rules(guard, [event(Operation.SYSCALL, "tkill", actor=1, **{"pid": tid, "sig": "9"})]) == [
            RULE_SIGNAL
        ]
    finally:
        stop.set()
        worker.join()


def test_signal_zero_is_a_low_severity_probe(guard: SelfProtection) -> None:
    probe, kill = guard.evaluate(
        [
            event(Operation.SYSCALL, "kill", actor=OTHER, **{"pid": str(AGENT), "sig": "0"}),
            event(Operation.SYSCALL, "kill", actor=OTHER, **{"pid": str(AGENT), "sig": "9"}),
        ]
    )
    assert probe.severity < kill.severity
    assert (kill.source, kill.action, kill.rule_id) == ("policy", Action.AUDIT, RULE_SIGNAL)
    assert "T1562.001" in kill.tags


@pytest.mark.parametrize(
    ("syscall", "relative", "data", "alerts"),
    [
        ("openat", "policy.yaml", {"flags": "O_WRONLY|O_TRUNC"}, True),
        ("openat", "policy.yaml", {"flags": "O_RDWR"}, True),
        ("openat", "policy.yaml", {"flags": "O_RDONLY|O_CLOEXEC"}, False),
        ("openat", "spool/00000001.seg", {"flags": "O_WRONLY|O_APPEND"}, True),
        ("unlinkat", "spool/00000001.seg", {"fd": "-100", "flags": ""}, True),
        ("chmod", "policy.yaml", {"mode": "0777"}, True),
        ("fchownat", "spool", {"uid": "1", "gid": "1"}, True),
        ("renameat2", "elsewhere.yaml", {"newpath": "@/policy.yaml"}, True),
        ("rename", "policy.yaml", {"newpath": "@/moved.yaml"}, True),
        ("unlink", "spool-other/file", {}, False),  # a sibling that only shares the prefix
        ("openat", "other.yaml", {"flags": "O_WRONLY"}, False),
        ("chdir", "spool", {}, False),
    ],
)
def test_writes_to_agent_files_alert_reads_and_other_files_do_not(
    guard: SelfProtection, tmp_path: Path, syscall: str, relative: str, data: dict[str, str], alerts: bool
) -> None:
    data = {k: v.replace("@", str(tmp_path)) for k, v in data.items()}
    ev = event(Operation.FILE, syscall, str(tmp_path / relative), **data)
    assert rules(guard, [ev]) == ([RULE_FILE] if alerts else [])


def test_events_of_the_agent_itself_never_alert(guard: SelfProtection, tmp_path: Path) -> None:
    own = [
        event(Operation.FILE, "openat", str(tmp_path / "spool" / "x"), actor=AGENT, flags="O_WRONLY"),
        event(Operation.SYSCALL, "bpf", actor=AGENT, cmd="9"),
    ]
    assert guard.evaluate(own) == []


def test_agent_files_cover_the_code_the_environment_and_given_config(tmp_path: Path) -> None:
    import sys

    import beholder

    files = agent_files([tmp_path / "policy.yaml"])
    assert Path(beholder.__file__).resolve().parent in files
    assert Path(sys.prefix).resolve() in files
    assert tmp_path / "policy.yaml" in files


def test_a_batch_of_ordinary_events_yields_no_alerts(guard: SelfProtection) -> None:
    batch = [
        event(Operation.PROCESS, "execve", "/bin/true"),
        event(Operation.FILE, "openat", "/etc/ld.so.cache", flags="O_RDONLY|O_CLOEXEC"),
        event(Operation.NETWORK, "connect", "sa_family=AF_INET sin_port=53 sin_addr=10.0.0.10"),
        event(Operation.CAPABILITY, "cap_capable", "NET_RAW", capability="NET_RAW"),
    ] * 100
    assert guard.evaluate(batch) == []
