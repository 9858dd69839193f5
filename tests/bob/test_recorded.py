"""Recorded event files: Beholder native and KubeArmor JSON_VALUES lines read back; garbage is skipped."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from beholder.bob.recorded import ReadStats, read_events
from beholder.events.interfaces import HostIdentity
from beholder.events.model import Action, Alert, Operation
from beholder.formats.kubearmor import to_kubearmor
from beholder.formats.kubearmor_in import MAX_RECORD_BYTES
from beholder.formats.native import alert_dict, event_dict
from bob import builders
from bob.fuzz import JSON_VALUES

C = builders.container("web", "shop", labels={"app": "web"})
EVENTS = [
    builders.exec_event(C, "/bin/ls", ("ls", "-l"), exe="/bin/ls"),
    builders.open_event(C, "/etc/hosts", "O_RDONLY|O_CLOEXEC"),
    builders.connect_event(C, "10.0.0.1", 443),
    builders.capability_event(C, "NET_RAW"),
    builders.syscall_event(C, "setuid", userid="0"),
]


def test_native_lines_round_trip_every_field(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text("".join(json.dumps(event_dict(e)) + "\n" for e in EVENTS))
    (batch,) = list(read_events(path))
    assert batch == EVENTS


def test_kubearmor_lines_keep_what_the_rules_read(tmp_path: Path) -> None:
    path = tmp_path / "karmor.jsonl"
    host = HostIdentity(host_name="node")
    path.write_text("".join(json.dumps(to_kubearmor(e, host)) + "\n" for e in EVENTS))
    (batch,) = list(read_events(path))
    got = [
        (e.operation, e.syscall, e.resource, e.container.container_id if e.container else "") for e in batch
    ]
    want = [(e.operation, e.syscall, e.resource, C.container_id) for e in EVENTS]
    assert got == want
    assert batch[0].argv == ("/bin/ls", "-l")  # KubeArmor keeps the path, not argv[0]
    assert batch[1].facts.flags_text == "O_RDONLY|O_CLOEXEC"
    assert batch[2].facts.endpoint.ip == "10.0.0.1" and batch[2].operation is Operation.NETWORK
    assert batch[3].facts.name == "NET_RAW"
    assert batch[0].container.labels == {"app": "web"}


def test_alert_lines_and_garbage_are_counted_and_skipped(tmp_path: Path) -> None:
    path = tmp_path / "mixed.jsonl"
    alert = alert_dict(Alert(EVENTS[0], "profile", "R0001", "Unexpected process launched", Action.AUDIT, 1))
    path.write_text(
        "\n".join([json.dumps(event_dict(EVENTS[1])), json.dumps(alert), "{not json", "[1, 2]", ""])
    )
    stats = ReadStats()
    events = [e for batch in read_events(path, stats) for e in batch]
    assert [e.resource for e in events] == ["/etc/hosts"]
    assert stats.events == 1 and stats.skipped == 3
    assert stats.first_error.startswith(f"{path}:3: JSONDecodeError")


@pytest.mark.parametrize("native", [True, False], ids=["native", "kubearmor"])
def test_overlong_line_is_skipped_with_its_line_number(tmp_path: Path, native: bool) -> None:
    host = HostIdentity(host_name="node")
    line = json.dumps(event_dict(EVENTS[1]) if native else to_kubearmor(EVENTS[1], host)) + "\n"
    path = tmp_path / "long.jsonl"
    path.write_text(line + '{"resource": "' + "x" * 3 * MAX_RECORD_BYTES + '"}\n' + line)
    stats = ReadStats()
    events = [e for batch in read_events(path, stats) for e in batch]
    assert [e.resource for e in events] == ["/etc/hosts", "/etc/hosts"]
    assert stats.skipped == 1 and stats.first_error.startswith(f"{path}:2: ")
    assert str(MAX_RECORD_BYTES) in stats.first_error


KEYS = st.sampled_from(
    [
        "operation",
        "Operation",
        "timestamp_ns",
        "syscall",
        "container",
        "process",
        "data",
        "argv",
        "Resource",
        "EventData",
        "ContainerID",
        "Result",
        "HostPID",
    ]
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    records=st.lists(st.dictionaries(KEYS, JSON_VALUES, max_size=8), max_size=5), junk=st.text(max_size=40)
)
def test_reader_never_raises_on_arbitrary_lines(tmp_path: Path, records: list[dict], junk: str) -> None:
    path = tmp_path / "fuzz.jsonl"
    path.write_text(
        "\n".join([*(json.dumps(r) for r in records), junk.replace("\n", " ").replace("\r", " ")]) + "\n"
    )
    stats = ReadStats()
    events = [e for batch in read_events(path, stats) for e in batch]
    assert stats.events == len(events) and stats.events + stats.skipped <= len(records) + 1
