"""OTLP JSON lines written by our file sink read back into the same events and alerts."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from beholder.events.facts import (
    AF_INET,
    AF_INET6,
    AF_UNIX,
    Endpoint,
    FileAccess,
    Socket,
    SocketCall,
)
from beholder.events.interfaces import HostIdentity
from beholder.events.model import Action, Alert, Operation
from beholder.formats.kubearmor_in import ReadReport
from beholder.formats.resource import resource_text
from beholder.otel import jsonwire
from beholder.otel.encode import LogEncoder
from beholder.otel.resource import resource_attributes
from beholder.query.otlp_file import read_otlp_lines
from cli.builders import DB, alert_on, event, exec_of, net, open_of

UDP6 = "domain=AF_INET6 type=SOCK_DGRAM|SOCK_CLOEXEC protocol=17"
UDP6_BACK = "domain=AF_INET6 type=SOCK_DGRAM|SOCK_CLOEXEC protocol=UDP"  # rendered from the facts
HOST = HostIdentity(host_name="node-7", node_name="node-7", cluster_name="pandora")


def _roundtrip(events, alerts=()):
    line = LogEncoder(jsonwire).encode(list(events), list(alerts), resource_attributes(HOST, environ={}))
    report = ReadReport()
    records = list(read_otlp_lines([line.decode() + "\n"], "events.otlp.jsonl", report))
    assert report.bad == 0, report.errors
    return records


@pytest.mark.parametrize(
    ("original", "fields"),
    [
        (exec_of("/bin/cat", parent="/bin/dash"),
         lambda e: (e.operation, e.syscall, e.resource, e.process.parent_exe, e.argv)
         == (Operation.PROCESS, "execve", "/bin/cat", "/bin/dash", ("/bin/cat",))),
        (open_of("/etc/passwd"),
         lambda e: (e.resource, e.facts) == ("/etc/passwd", FileAccess("/etc/passwd", -100, flags=0))),
        (net("connect", sa_family="AF_INET", sin_addr="10.0.0.10", sin_port="53"),
         lambda e: e.facts == SocketCall(3, Endpoint(AF_INET, "10.0.0.10", 53))),
        (net("connect", sa_family="AF_INET6", sin6_addr="fd00::1", sin6_port="443"),
         lambda e: e.facts == SocketCall(3, Endpoint(AF_INET6, "fd00::1", 443))),
        (net("bind", sa_family="AF_UNIX", sun_path="/run/x.sock"),
         lambda e: e.facts == SocketCall(3, Endpoint(AF_UNIX, path="/run/x.sock"))),
        (net("accept4", fd="4", sa_family="AF_INET", sin_addr="127.0.0.1", sin_port="5000"),
         lambda e: (e.syscall, e.facts) == ("accept4", SocketCall(4, Endpoint(AF_INET, "127.0.0.1", 5000)))),
        (exec_of("/bin/ls", container=DB),
         lambda e: (e.container.pod_name, e.container.namespace, e.container.name, e.container.labels)
         == ("db-0", "data", "db", {"app": "db"})),
        (exec_of("/bin/ls", container=None), lambda e: e.container is None),
        (net("socket", fd="4", resource=UDP6),
         lambda e: (resource_text(e), e.facts) == (UDP6_BACK, Socket(AF_INET6, 0o2000002, 17, 4))),
        (net("sendto", sa_family="AF_INET", sin_port="53", sin_addr="10.0.0.10", qname="a.", resource="a."),
         lambda e: (e.resource, e.facts.server) == ("a.", Endpoint(AF_INET, "10.0.0.10", 53))),
        (net("connect", sa_family="AF_INET", sin_port="80", sin_addr="10.0.0.1"),
         lambda e: resource_text(e) == "sa_family=AF_INET sin_port=80 sin_addr=10.0.0.1"),
        (event(Operation.FILE, "openat", "/etc/shadow", retval=-13), lambda e: e.retval == -13),
    ],
)  # fmt: skip
def test_event_survives_the_otlp_file_round_trip(original, fields):
    ((event_back, alert, host),) = _roundtrip([original])
    assert alert is None and fields(event_back)
    assert (event_back.kind, event_back.facts) == (original.kind, original.facts)
    assert (host.host_name, host.cluster_name) == ("node-7", "pandora")
    assert event_back.timestamp_ns == original.timestamp_ns and event_back.host_pid == original.host_pid


def test_alert_survives_the_otlp_file_round_trip():
    ev = exec_of("/bin/cat")
    original = alert_on(ev, Action.AUDIT, rule="audit-cat")
    original.tags, original.message = ("MITRE",), "cat ran"
    telemetry, (event_back, alert, _host) = _roundtrip([ev], [original])
    assert telemetry.alert is None and isinstance(alert, Alert)
    assert (alert.rule_id, alert.action, alert.severity, alert.tags, alert.message, alert.source) == (
        "audit-cat", Action.AUDIT, 5, ("MITRE",), "cat ran", "policy"
    )  # fmt: skip
    assert alert.event is event_back and event_back.resource == "/bin/cat"


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("{not json", "invalid JSON"),
        ("[]", "expected a JSON object"),
        ('{"resourceLogs": 5}', "resourceLogs: expected a list"),
        ('{"resourceLogs": [{"scopeLogs": [{"logRecords": [{"attributes": []}]}]}]}', "beholder.operation"),
        ('{"resourceLogs": [{"scopeLogs": [{"logRecords": [{"attributes": [{"value": {}}]}]}]}]}',
         "string key"),
        ('{"resourceLogs": [{"scopeLogs": [{"logRecords": [{"attributes": '
         '[{"key": "beholder.operation", "value": {"stringValue": "File"}}], "timeUnixNano": "soon"}]}]}]}',
         "timeUnixNano"),
        ('{"resourceLogs": [{"scopeLogs": [{"logRecords": [{"attributes": '
         '[{"key": "beholder.operation", "value": {"stringValue": "File"}},'
         ' {"key": "process.pid", "value": {"stringValue": "x"}}]}]}]}]}', "process.pid"),
    ],
)  # fmt: skip
def test_malformed_otlp_is_one_counted_error_naming_the_line(line, reason):
    report = ReadReport()
    assert list(read_otlp_lines([line + "\n", "\n"], "f.jsonl", report)) == []
    assert report.bad == 1 and report.errors[0].startswith("f.jsonl:1:") and reason in report.errors[0]


_ANY = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.sampled_from(["resourceLogs", "scopeLogs", "logRecords", "attributes", "key", "value",
                         "stringValue", "intValue", "arrayValue", "values", "timeUnixNano", "resource"]),
        inner, max_size=4),
    max_leaves=20,
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(_ANY)
def test_any_json_shape_reads_without_raising(doc):
    report = ReadReport()
    records = list(read_otlp_lines([json.dumps(doc) + "\n"], "f.jsonl", report))
    assert report.records == len(records)
