"""OTLP log encoding: event names, severities, attributes under the semconv, round trips."""

from __future__ import annotations

import dataclasses
import json

import pytest
from google.protobuf import json_format
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from beholder import __version__
from beholder.events.interfaces import HostIdentity
from beholder.events.model import Action, Operation
from beholder.formats.arguments import arguments
from beholder.formats.kubearmor_in import with_facts
from beholder.otel import jsonwire, wire
from beholder.otel import semconv as sc
from beholder.otel.encode import LogEncoder, encode_logs
from beholder.otel.resource import parse_resource_env, resource_attributes
from beholder.otel.security_rule import rule_uuid
from beholder.otel.semconv_check import check_attributes
from beholder.otel.severity import alert_severity, kubescape_severity
from beholder.query.otlp_file import log_record
from otel_semconv.samples import ALERTS, EVENTS, SHELL, T0, event

RESOURCE = {"service.name": "beholder", "host.name": "node-1"}


def records(request: ExportLogsServiceRequest) -> list:
    return list(request.resource_logs[0].scope_logs[0].log_records)


def attrs(record) -> dict:
    out = {}
    for kv in record.attributes:
        kind = kv.value.WhichOneof("value")
        value = getattr(kv.value, kind)
        out[kv.key] = [v.string_value for v in value.values] if kind == "array_value" else value
    return out


def encode_one(ev) -> dict:
    return attrs(records(encode_logs([ev], [], RESOURCE))[0])


def test_every_emitted_attribute_is_declared_with_its_type():
    request = encode_logs(list(EVENTS.values()), list(ALERTS.values()), RESOURCE)
    assert len(records(request)) == len(EVENTS) + len(ALERTS)
    assert check_attributes(request) == []


@pytest.mark.parametrize(
    ("sample", "event_name"),
    [
        ("exec", "beholder.process.exec"),
        ("fork", "beholder.process.fork"),
        ("exit", "beholder.process.exit"),
        ("open", "beholder.file.open"),
        ("unlink", "beholder.file.unlink"),
        ("rename", "beholder.file.rename"),
        ("chown", "beholder.file.chown"),
        ("symlink", "beholder.file.link"),
        ("chdir", "beholder.file.chdir"),
        ("socket", "beholder.network.socket"),
        ("connect", "beholder.network.connect"),
        ("bind6", "beholder.network.bind"),
        ("listen", "beholder.network.listen"),
        ("accept", "beholder.network.accept"),
        ("tcp_state", "beholder.network.tcp_state"),
        ("dns", "beholder.network.dns"),
        ("capability", "beholder.capability.check"),
        ("setuid", "beholder.syscall.credentials"),
        ("mount", "beholder.syscall.mount"),
        ("raw_syscall", "beholder.syscall.other"),
    ],
)
def test_telemetry_gets_its_event_name_info_severity_and_ns_timestamps(sample, event_name):
    (record,) = records(encode_logs([EVENTS[sample]], [], RESOURCE))
    assert record.event_name == event_name
    assert (record.severity_number, record.severity_text) == (9, "")  # no invented severity text
    assert record.time_unix_nano == T0
    assert record.observed_time_unix_nano > T0
    assert 0 < len(record.body.string_value) <= 200


@pytest.mark.parametrize(
    ("sample", "expected"),
    [
        (
            "exec",
            {
                "process.executable.path": "/bin/true",
                "process.executable.name": "true",
                "process.command_args": ["/bin/true", "a", "b"],
            },
        ),
        ("fork", {"beholder.process.child_pid": 4243}),
        ("exit", {"process.exit.code": 0}),
        ("exit_by_signal", {"beholder.syscall.arg.exit_code": "unknown"}),
        ("open", {"file.path": "/etc/ld.so.cache", "beholder.file.open.flags": "O_RDONLY|O_CLOEXEC"}),
        ("open_denied", {"error.type": "EACCES", "beholder.syscall.result": "Permission denied"}),
        ("creat", {"file.mode": "0644"}),
        ("rename", {"file.path": "/tmp/a", "beholder.file.new_path": "/tmp/b"}),
        ("chown", {"file.owner.id": "0", "file.group.id": "0"}),
        ("symlink", {"file.path": "/tmp/link", "file.symbolic_link.target_path": "/etc/passwd"}),
        ("socket", {"beholder.network.address_family": "AF_UNIX", "network.transport": "unix"}),
        (
            "socket_tcp",
            {"network.type": "ipv4", "network.transport": "tcp", "beholder.syscall.arg.protocol": 6},
        ),
        ("connect", {"server.address": "10.0.0.10", "server.port": 53, "network.type": "ipv4"}),
        ("connect_unix", {"server.address": "/run/docker.sock", "network.transport": "unix"}),
        ("bind6", {"network.local.address": "::", "network.local.port": 8080, "network.type": "ipv6"}),
        ("listen", {"beholder.syscall.arg.backlog": 128, "beholder.syscall.arg.fd": 5}),
        ("accept", {"client.address": "10.1.2.3", "client.port": 51234, "beholder.syscall.arg.newfd": 6}),
        (
            "tcp_state",
            {
                "network.local.port": 40000,
                "network.peer.address": "10.0.0.10",
                "network.connection.state": "established",
                "beholder.network.connection.previous_state": "syn_sent",
            },
        ),
        (
            "dns",
            {
                "dns.question.name": "example.com.",
                "beholder.dns.question.type": "A",
                "server.port": 53,
                "network.protocol.name": "dns",
            },
        ),
        ("tcp_listen", {"network.local.port": 8080, "network.connection.state": "listen"}),
        ("capability", {"beholder.capability.name": "NET_RAW"}),
        ("setuid", {"beholder.syscall.arg.userid": 0, "error.type": "EPERM"}),
        ("mount", {"beholder.resource": "/mnt", "beholder.syscall.arg.source": "/dev/sda1"}),
        (
            "host_repeated",
            {
                "beholder.thread.tid": 4250,
                "thread.name": "sh",
                "beholder.event.repeat_count": 12,
                "beholder.event.truncated": True,
            },
        ),
    ],
)
def test_event_specific_attributes(sample, expected):
    got = encode_one(EVENTS[sample])
    assert {k: got.get(k) for k in expected} == expected


def test_a_listening_socket_has_no_made_up_peer():
    got = encode_one(EVENTS["tcp_listen"])
    assert [k for k in got if k.startswith("network.peer.") or k.endswith((".daddr", ".dport"))] == []


def test_no_attribute_is_an_empty_string():
    ev = with_facts(dataclasses.replace(EVENTS["listen"], facts=None), {"fd": "5", "backlog": ""})
    request = encode_logs([*EVENTS.values(), ev], list(ALERTS.values()), RESOURCE)
    empty = [(r.event_name, kv.key) for r in records(request) for kv in r.attributes
             if kv.value.WhichOneof("value") == "string_value" and not kv.value.string_value]  # fmt: skip
    assert empty == []


def test_a_process_the_agent_saw_start_carries_its_creation_time_identity_and_effective_uid():
    started = 1_764_685_534_853_123_456
    process = dataclasses.replace(EVENTS["open"].process, start_ns=started, entity_id="b:42:7", euid=0)
    got = encode_one(dataclasses.replace(EVENTS["open"], process=process))
    assert (got["process.user.id"], got["process.real_user.id"]) == (0, EVENTS["open"].uid)  # root counts
    assert got["process.creation.time"] == "2025-12-02T14:25:34.853123Z"
    assert got["beholder.process.entity_id"] == "b:42:7"
    assert "process.creation.time" not in encode_one(EVENTS["open"])  # bootstrapped: start unknown


def test_process_and_workload_attributes_come_from_the_shared_objects():
    got = encode_one(EVENTS["open"])
    assert got["process.pid"] == 4242
    assert got["process.vpid"] == 7
    assert got["beholder.process.parent_vpid"] == 1
    assert got["process.executable.path"] == "/bin/dash"
    assert got["process.executable.name"] == "dash"
    assert got["beholder.process.parent.executable.path"] == "/usr/bin/runc"
    assert got["process.command_line"] == "/bin/sh -c cat /etc/passwd"
    assert got["container.image.name"] == "docker.io/library/nginx"
    assert got["container.image.tags"] == ["latest"]
    assert got["container.image.repo_digests"][0].startswith("docker.io/library/nginx@sha256:af296b18")
    assert got["k8s.pod.label.app"] == "nginx"
    assert got["k8s.deployment.name"] == "nginx"
    assert got["k8s.container.name"] == "nginx"
    assert "container.name" not in got


def test_exec_reports_the_new_program_instead_of_the_callers_image():
    got = encode_one(EVENTS["exec"])
    assert got["process.executable.path"] == "/bin/true"
    assert "process.command_line" not in got
    assert "beholder.resource" not in got


@pytest.mark.parametrize(
    ("change", "key", "value"),
    [
        (lambda p, c: setattr(p, "cwd", "/tmp/elsewhere"), "process.working_directory", "/tmp/elsewhere"),
        (lambda p, c: setattr(p, "exe", "/usr/bin/python3"), "process.executable.path", "/usr/bin/python3"),
        (lambda p, c: c.labels.__setitem__("tier", "web"), "k8s.pod.label.tier", "web"),
        (lambda p, c: setattr(c, "pod_name", "nginx-2"), "k8s.pod.name", "nginx-2"),
    ],
    ids=["cwd", "exe", "label-added-in-place", "pod-name"],
)
def test_cached_attributes_follow_changes_to_the_shared_objects(change, key, value):
    encoder = LogEncoder()
    proc, container = dataclasses.replace(SHELL), dataclasses.replace(EVENTS["open"].container, labels={})
    ev = event(Operation.FILE, "openat", "x", {"flags": "O_RDONLY"}, process=proc, container=container)
    before = attrs(records(ExportLogsServiceRequest.FromString(encoder.encode([ev], [], RESOURCE)))[0])
    change(proc, container)
    after = attrs(records(ExportLogsServiceRequest.FromString(encoder.encode([ev], [], RESOURCE)))[0])
    assert before.get(key) != value
    assert after[key] == value


def test_opens_that_share_an_encoder_keep_their_own_arguments():
    """Open arguments are encoded once per distinct (call, fd, flags, mode): each event still
    shows its own, in one batch and across batches."""
    data = [
        {"flags": "O_RDONLY"},
        {"flags": "O_WRONLY|O_CREAT", "mode": "0600"},
        {"flags": "O_WRONLY|O_CREAT", "mode": "0644"},
        {"fd": "3", "flags": "O_RDONLY"},
        {"flags": "O_RDONLY"},
    ]
    evs = [event(Operation.FILE, "openat", f"/f{i}", d) for i, d in enumerate(data)]
    encoder = LogEncoder()
    for _ in range(2):
        got = [
            attrs(r) for r in records(ExportLogsServiceRequest.FromString(encoder.encode(evs, [], RESOURCE)))
        ]
        shown = [
            (
                a["file.path"],
                a[sc.BEHOLDER_FILE_OPEN_FLAGS],
                a.get(sc.FILE_MODE),
                a.get("beholder.syscall.arg.fd"),
            )
            for a in got
        ]
        assert shown == [
            ("/f0", "O_RDONLY", None, None),
            ("/f1", "O_WRONLY|O_CREAT", "0600", None),
            ("/f2", "O_WRONLY|O_CREAT", "0644", None),
            ("/f3", "O_RDONLY", None, 3),
            ("/f4", "O_RDONLY", None, None),
        ]


@pytest.mark.parametrize(
    ("sample", "event_name", "severity", "expected"),
    [
        (
            "policy_block",
            "beholder.policy.alert",
            18,  # ERROR2: a Block rule of severity 5
            {
                "security_rule.name": "harden-wordpress-file-integrity-monitoring",
                "security_rule.uuid": rule_uuid("policy", "harden-wordpress-file-integrity-monitoring"),
                "security_rule.ruleset.name": "harden-wordpress-file-integrity-monitoring",
                "security_rule.category": "NIST,MITRE_T1036_masquerading",
                "security_rule.reference": "https://attack.mitre.org/techniques/T1036/",
                "beholder.policy.action": "block",
                "beholder.policy.enforcer": "BPFLSM",
                "beholder.policy.type": "MatchedPolicy",
                "beholder.rule.tags": ["NIST", "MITRE_T1036_masquerading"],
                "file.path": "/etc/shadow",
            },
        ),
        (
            "host_audit",
            "beholder.policy.alert",
            16,  # WARN4: an audit match stays a warning however severe the rule
            {"security_rule.name": "ksp-discovery-process-discovery", "beholder.alert.severity": 10},
        ),
        (
            "profile_anomaly",
            "beholder.profile.anomaly",
            14,  # WARN2: Kubescape rules detect, they do not block
            {
                "security_rule.uuid": rule_uuid("profile", "R0001"),
                "security_rule.name": "Unexpected process launched",
                "security_rule.ruleset.name": "replicaset-webapp-mywebapp-67965968bb",
                "security_rule.category": "TA0002,T1059",
                "security_rule.reference": "https://attack.mitre.org/techniques/T1059/",
                "beholder.alert.extra.profile.name": "replicaset-webapp-mywebapp-67965968bb",
            },
        ),
    ],
)
def test_alerts_carry_the_event_plus_the_rule_and_a_mapped_severity(sample, event_name, severity, expected):
    alert = ALERTS[sample]
    (record,) = records(encode_logs([], [alert], RESOURCE))
    assert record.event_name == event_name
    assert (record.severity_number, record.severity_text) == (severity, "")
    assert record.body.string_value == (
        alert.message or f"{alert.rule_id}: {alert.event.syscall} {alert.event.resource}"
    )
    got = attrs(record)
    assert {k: got.get(k) for k in expected} == expected


def test_one_resource_and_one_scope_per_batch():
    request = encode_logs(list(EVENTS.values())[:5], [], RESOURCE)
    assert len(request.resource_logs) == 1
    assert len(request.resource_logs[0].scope_logs) == 1
    scope = request.resource_logs[0].scope_logs[0].scope
    assert (scope.name, scope.version) == ("beholder", __version__)
    assert {kv.key: kv.value.string_value for kv in request.resource_logs[0].resource.attributes} == RESOURCE


@pytest.mark.parametrize(
    ("severity", "audit", "block"),
    [
        (1, 13, 17),
        (3, 13, 17),
        (4, 14, 18),
        (6, 15, 19),
        (8, 16, 20),
        (10, 16, 20),
        (0, 13, 17),
        (99, 16, 20),
    ],
)
def test_audit_matches_are_warnings_forbidden_ones_errors_and_nothing_is_fatal(severity, audit, block):
    assert alert_severity(severity, Action.AUDIT) == audit
    assert alert_severity(severity, Action.BLOCK) == alert_severity(severity, Action.ALLOW) == block


def test_the_alert_severity_never_decreases_with_the_rule_severity():
    for action in Action:
        numbers = [alert_severity(level, action) for level in range(1, 11)]
        assert numbers == sorted(numbers) and max(numbers) < 21  # 21 and up are FATAL


@pytest.mark.parametrize(
    ("value", "expected"),
    [("Low", 3), ("medium", 6), ("HIGH", 8), ("Critical", 10), ("7", 7), (5, 5), ("?", 1)],
)
def test_kubescape_severities_map_onto_the_same_scale(value, expected):
    assert kubescape_severity(value) == expected


HOST = HostIdentity("node-1", "node-1", "prod")


@pytest.mark.parametrize(
    ("env", "extra", "expected"),
    [
        (
            {},
            None,
            {
                "service.name": "beholder",
                "host.name": "node-1",
                "k8s.node.name": "node-1",
                "k8s.cluster.name": "prod",
            },
        ),
        ({"OTEL_RESOURCE_ATTRIBUTES": "team=sec,note=a%2Cb%3Dc"}, None, {"team": "sec", "note": "a,b=c"}),
        ({"OTEL_RESOURCE_ATTRIBUTES": "k8s.cluster.name=blue"}, None, {"k8s.cluster.name": "blue"}),
        (
            {"OTEL_RESOURCE_ATTRIBUTES": "service.name=a", "OTEL_SERVICE_NAME": "b"},
            None,
            {"service.name": "b"},
        ),
        ({"OTEL_RESOURCE_ATTRIBUTES": "team=sec,broken"}, None, {"team": "sec", "broken": None}),
        ({"OTEL_RESOURCE_ATTRIBUTES": "a=%C3%28,b=2"}, None, {"a": None, "b": "2"}),
        ({"OTEL_RESOURCE_ATTRIBUTES": "team=sec"}, {"team": "ops"}, {"team": "ops"}),
    ],
    ids=[
        "defaults",
        "percent-decoded",
        "env-overrides-ours",
        "service-name-wins",
        "broken-entry-left-out-valid-kept",
        "undecodable-value-left-out",
        "extra-wins",
    ],
)
def test_resource_attributes_follow_the_sdk_environment_rules(env, extra, expected):
    got = resource_attributes(HOST, extra, environ=env)
    assert got["service.version"] == __version__
    assert {k: got.get(k) for k in expected} == expected


def test_check_attributes_reports_each_kind_of_violation():
    request = encode_logs([EVENTS["open"]], [], RESOURCE)
    record = records(request)[0]
    record.attributes.append(KeyValue(key="made.up", value=AnyValue(string_value="x")))
    record.attributes.append(KeyValue(key="process.pid", value=AnyValue(string_value="1")))
    record.attributes.append(KeyValue(key="network.type", value=AnyValue(string_value="ipv5")))
    record.event_name = "beholder.file.opened"
    record.severity_text = "LOUD"  # nothing is written there
    problems = check_attributes(request)
    for needle in (
        "undeclared attribute made.up",
        "duplicate attribute process.pid",
        "process.pid is string, declared int",
        "network.type='ipv5' is not a declared member",
        "undeclared event name 'beholder.file.opened'",
        "severity 9/'LOUD'",
    ):
        assert any(needle in p for p in problems), (needle, problems)


def test_json_rendering_equals_protobuf_json_of_the_protobuf_rendering():
    events, alerts = list(EVENTS.values()), list(ALERTS.values())
    resource = {**RESOURCE, "count": 3, "flag": True, "ratio": 0.5}
    proto = ExportLogsServiceRequest.FromString(LogEncoder().encode(events, alerts, resource))
    mine = json.loads(LogEncoder(jsonwire).encode(events, alerts, resource))
    theirs = json_format.MessageToDict(proto, use_integers_for_enums=True)
    for doc in (mine, theirs):
        for rec in doc["resourceLogs"][0]["scopeLogs"][0]["logRecords"]:
            assert int(rec.pop("observedTimeUnixNano")) > T0
    assert mine == theirs


# Text as the kernel may hand it over: any code point, including lone surrogates from
# undecodable bytes, plus bytes decoded the way a careless reader would.
TEXT = st.one_of(
    st.text(st.characters(exclude_categories=()), max_size=300),
    st.binary(max_size=300).map(lambda b: b.decode("utf-8", "surrogateescape")),
)


@settings(max_examples=300, deadline=None)
@given(path=TEXT, argv=st.lists(TEXT, max_size=5), comm=TEXT, label=TEXT)
def test_arbitrary_text_encodes_and_survives_round_trips(path, argv, comm, label):
    container = dataclasses.replace(EVENTS["open"].container, labels={label: label})
    opened = event(Operation.FILE, "openat", path, {"flags": "O_RDONLY"}, comm=comm, container=container)
    execed = event(Operation.PROCESS, "execve", path, {}, argv=tuple(argv))
    request = encode_logs([opened, execed], [], RESOURCE)
    assert ExportLogsServiceRequest.FromString(request.SerializeToString()) == request
    assert check_attributes(request) == []
    got = attrs(records(request)[0])
    assert got.get("file.path", "") == wire.text(path).decode()  # empty values are left out
    assert attrs(records(request)[1]).get("process.command_args", []) == [wire.text(a).decode() for a in argv]
    line = LogEncoder(jsonwire).encode([opened, execed], [], RESOURCE)
    assert (
        json_format.Parse(line, ExportLogsServiceRequest())
        .resource_logs[0]
        .scope_logs[0]
        .log_records[0]
        .attributes
    )


@settings(max_examples=300, deadline=None)
@given(value=st.text(max_size=200) | st.sampled_from(["a=%ZZ", "a=%C3%28", "=v", "k=v,,x=y", "a=b=c"]))
def test_any_resource_env_value_yields_attributes_or_one_clear_error(value):
    parsed, problems = parse_resource_env(value)
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in parsed.items())
    assert all("\n" not in p for p in problems)
    got = resource_attributes(HOST, environ={"OTEL_RESOURCE_ATTRIBUTES": value})
    assert got["host.name"] == "node-1"


@pytest.mark.parametrize(
    ("syscall", "data", "expected"),
    [
        ("mount", {"source": "/dev/sda1", "flags": "0x1000"}, {"flags": 0x1000, "source": "/dev/sda1"}),
        ("unlinkat", {"fd": "-100", "flags": "AT_REMOVEDIR"}, {"fd": -100, "flags": 0x200}),
        ("kill", {"pid": "4243", "sig": "9"}, {"pid": 4243, "sig": 9}),
        ("setresuid", {"ids": "0,0,-1"}, {"ids": "0,0,-1"}),  # a list stays its text
    ],
)
def test_numeric_arguments_are_ints_on_the_wire_and_read_back_as_kubearmor_text(syscall, data, expected):
    operation = Operation.FILE if syscall == "unlinkat" else Operation.SYSCALL
    ev = event(operation, syscall, "", dict(data))
    request = encode_logs([ev], [], RESOURCE)
    assert check_attributes(request) == []
    got = attrs(records(request)[0])
    assert {k: got[f"beholder.syscall.arg.{k}"] for k in expected} == expected
    line = json.loads(json_format.MessageToJson(request))
    back = log_record(line["resourceLogs"][0]["scopeLogs"][0]["logRecords"][0])
    assert {k: arguments(back)[k] for k in data} == data


def test_enum_members_are_lowercase_on_logs_while_the_model_keeps_kubearmors_spelling():
    request = encode_logs([EVENTS["open"]], [ALERTS["policy_block"]], RESOURCE)
    values = [attrs(r) for r in records(request)]
    assert [v["beholder.operation"] for v in values] == ["file", "file"]
    assert values[1]["beholder.policy.action"] == "block"
    assert ALERTS["policy_block"].action.value == "Block"  # what KubeArmor JSON prints
    for key, members in sc.ENUM_VALUES.items():
        if key.startswith("beholder."):
            assert all(m == m.lower() and " " not in m for m in members), key
