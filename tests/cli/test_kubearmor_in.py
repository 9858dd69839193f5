"""Recorded KubeArmor JSON reads back into events and alerts; hostile input is one counted line each."""

from __future__ import annotations

import io
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from beholder.events.facts import AF_INET, Endpoint, Exec, SocketCall
from beholder.events.model import Action, Alert, Event, Operation
from beholder.formats.kubearmor_in import (
    MAX_RECORD_BYTES,
    ReadReport,
    RecordError,
    bounded_lines,
    parse_record,
    read_records,
)
from conftest import SEEDS, require

NS = "10.0.0.10"
ALERT = {
    "Timestamp": 1686491023,
    "UpdatedTime": "2023-06-11T13:43:43.289380Z",
    "ClusterName": "prod",
    "HostName": "node-1",
    "NamespaceName": "dvwa",
    "PodName": "web-1",
    "Labels": "app=web,tier=frontend",
    "ContainerID": "abc123",
    "ContainerName": "web",
    "HostPID": 10,
    "PID": 5,
    "PolicyName": "block-cat",
    "Severity": "5",
    "Tags": "MITRE,T1003",
    "Type": "MatchedPolicy",
    "Source": "/bin/dash",
    "Operation": "Process",
    "Resource": "/bin/cat /etc/shadow",
    "Data": "syscall=SYS_EXECVE",
    "Action": "Block",
    "Result": "Permission denied",
}


def _read(text: str) -> tuple[list[tuple], ReadReport]:
    report = ReadReport()
    return list(read_records(text.splitlines(keepends=True), "rec.json", report)), report


def test_seed_pretty_printed_records_read_as_exec_events():
    require(SEEDS.is_dir(), "seeds missing")
    records, report = _read((SEEDS / "000_6ec8f1a93d15e2aa.txt").read_text())
    assert report.records == 2
    (first, host), (second, _) = records
    assert isinstance(first, Event) and host.host_name == "ip-172-31-24-142"
    assert (first.operation, first.syscall, first.resource) == (Operation.PROCESS, "execve", "/bin/sh")
    assert first.argv == ("/bin/sh", "-c", "cat", "/run/secrets/kubernetes.io/serviceaccount/token")
    assert first.process.parent_exe == "/x86_64-bottlerocket-linux-gnu/sys-root/usr/bin/runc"
    assert first.container.pod_name == "nginx-8f458dc5b-fl42t" and first.container.labels == {"app": "nginx"}
    assert first.timestamp_ns == 1686491023289380000
    assert second.process.parent_exe == "/bin/dash" and second.resource == "/bin/cat"


@pytest.mark.parametrize(
    ("record", "check"),
    [
        (ALERT, lambda a: isinstance(a, Alert) and a.action is Action.BLOCK and a.severity == 5),
        ({**ALERT, "Action": "Audit (Block)"}, lambda a: a.extra["kubearmor.action"] == "Audit (Block)"),
        (ALERT, lambda a: a.event.retval < 0 and a.tags == ("MITRE", "T1003")),
        (ALERT, lambda a: a.event.container.labels == {"app": "web", "tier": "frontend"}),
        (
            {"Operation": "File", "Resource": "/etc/passwd", "Data": "syscall=SYS_OPENAT flags=O_RDONLY"},
            lambda e: (e.syscall, e.facts.flags_text, e.container) == ("openat", "O_RDONLY", None),
        ),
        (
            {"Operation": "Network", "Resource": f"sa_family=AF_INET sin_port=53 sin_addr={NS}",
             "Data": "syscall=SYS_CONNECT fd=3"},
            lambda e: (e.resource, e.facts) == ("", SocketCall(3, Endpoint(AF_INET, NS, 53))),
        ),
        (
            {"Operation": "Network", "Resource": "remoteip=10.1.2.3 port=3306 protocol=TCP",
             "Data": "kprobe=tcp_connect domain=AF_INET fd=7"},
            lambda e: (e.syscall, e.facts.endpoint, e.facts.transport)
            == ("connect", Endpoint(AF_INET, "10.1.2.3", 3306), "TCP"),
        ),
        (
            {"Operation": "Capabilities", "Resource": "CAP_NET_RAW", "Data": "syscall=SYS_SOCKET"},
            lambda e: (e.resource, e.facts.name) == ("", "NET_RAW"),
        ),
        (
            {"Operation": "Process", "Resource": "/bin/ls", "EventData": {"syscall": "execve", "x": 1}},
            lambda e: e.facts == Exec("/bin/ls") and e.argv == ("/bin/ls",),
        ),
    ],
)  # fmt: skip
def test_kubearmor_record_maps_to_event_fields(record, check):
    assert check(parse_record(record))


@pytest.mark.parametrize(
    ("record", "field"),
    [
        ({"Operation": "Teleport"}, "Operation"),
        ({"Operation": ["File"]}, "Operation"),
        ({"Operation": "File", "HostPID": "ten"}, "HostPID"),
        ({"Operation": "File", "HostPID": True}, "HostPID"),
        ({"Operation": "File", "Timestamp": 10**30}, "Timestamp"),
        ({"Operation": "File", "Resource": {"a": 1}}, "Resource"),
        ({**ALERT, "Action": "Obliterate"}, "Action"),
        ({**ALERT, "Severity": "high"}, "Severity"),
    ],
)
def test_bad_field_is_named_in_the_error(record, field):
    with pytest.raises(RecordError, match=f"field {field}"):
        parse_record(record)


@pytest.mark.parametrize(
    ("text", "good", "reasons"),
    [
        ("garbage\n" + json.dumps(ALERT) + "\n", 1, ["rec.json:1: not a JSON object"]),
        ('{"Operation": "File",\n "Resource": "/x"\n', 0, ["rec.json:1: record cut off at end of input"]),
        ('{"Operation": "File", "Resource": "}{"}\n', 1, []),
        ('{"Operation": }\n' + json.dumps(ALERT) + "\n", 1, ["rec.json:1: invalid JSON"]),
        ('[1, 2]\n{"Operation": "File"}\n', 1, ["rec.json:1: not a JSON object"]),
        ('{"Operation": "Nope"}\n{"Operation": "File"}\n', 1, ["rec.json:1: field Operation"]),
        ('{"a": "' + "x" * MAX_RECORD_BYTES + '"}\n{"Operation": "File"}\n', 1, ["larger than"]),
    ],
)
def test_bad_records_are_counted_and_reading_goes_on(text, good, reasons):
    records, report = _read(text)
    assert len(records) == report.records == good
    assert report.bad == len(reasons)
    for reason, line in zip(reasons, report.errors, strict=True):
        assert reason in line and "\n" not in line


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="ab{\r\n", max_size=60), st.integers(min_value=1, max_value=8))
def test_bounded_lines_are_the_file_lines_with_long_ones_cut(text, limit):
    expected = [line[: limit + 1] for line in io.StringIO(text, newline="")]
    assert list(bounded_lines(io.StringIO(text, newline=""), limit)) == expected


def test_overlong_line_is_one_error_naming_its_line_and_reading_goes_on():
    good = json.dumps(ALERT) + "\n"
    stream = io.StringIO(good + '{"Resource": "' + "x" * (8 * MAX_RECORD_BYTES) + '"}\n' + good, newline="")
    report = ReadReport()
    records = list(read_records(bounded_lines(stream), "big.json", report))
    assert len(records) == report.records == 2
    assert report.errors == [f"big.json:2: record larger than {MAX_RECORD_BYTES} bytes"]


def test_line_of_unterminated_escaped_quotes_is_one_error():
    # Rescanning from every quote made this line quadratic (hours); it is read once now.
    records, report = _read('{"a": 1} "' + '\\"' * 200_000 + "\n" + json.dumps(ALERT) + "\n")
    assert len(records) == 1 and report.bad == 1 and "invalid JSON" in report.errors[0]


def test_deeply_nested_record_is_one_error():
    records, report = _read("[" * 100_000 + "\n")
    assert records == [] and report.bad == 1
    records, report = _read("{" * 5000 + "}" * 5000 + "\n")
    assert records == [] and report.bad == 1 and "invalid JSON" in report.errors[0]


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from('{}[]":,\\ \nabOperation0-'), max_size=400))
def test_any_text_reads_without_raising(text):
    records, report = _read(text)
    assert report.records == len(records)


_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=10,
)
_FIELDS = st.sampled_from(
    ["Operation", "Resource", "Data", "EventData", "HostPID", "Timestamp", "UpdatedTime", "Action",
     "Severity", "ATags", "Tags", "ContainerID", "Labels", "Owner", "PolicyName", "Type", "Result", "Source"]
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(_FIELDS, _JSON_VALUES, max_size=8),
    st.sampled_from(["Process", "File", "Network", "Syscall", "Capabilities"]),
)
def test_any_kubearmor_shaped_object_parses_or_raises_record_error(doc, operation):
    doc.setdefault("Operation", operation)
    try:
        parsed = parse_record(doc)
    except RecordError as exc:
        assert str(exc)
    else:
        assert isinstance(parsed, Event | Alert)
