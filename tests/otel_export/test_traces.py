"""Process spans: tree, ids, timing and attributes from fork/exec/exit events; export over OTLP."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from beholder import __version__
from beholder.enrich.enricher import Enricher
from beholder.events.facts import Exec, Exit, FileAccess, Fork
from beholder.events.model import ContainerInfo, Event, Operation, ProcessInfo
from beholder.otel import jsonwire, wire
from beholder.otel import semconv as sc
from beholder.otel.encode import LogEncoder, encode_logs
from beholder.otel.queue import ExportQueue
from beholder.otel.resource import SCHEMA_URL, SCOPE_NAME
from beholder.otel.semconv_check import declared_type, value_type
from beholder.otel.trace_sink import TraceSink, traces_wanted
from beholder.otel.traces import ProcessSpans, read_boot_id, span_id, start_ticks, trace_id
from beholder.otel.transport import make_transport
from otel_export.receiver import RECEIVERS, Collector, config_for

BOOT = "b00710ad-0000-4000-8000-000000000000"
T0 = 1_700_000_000_000_000_000
SHELL_PID, CHILD_PID, GRANDCHILD_PID = 100, 200, 300
WEB = ContainerInfo("c0ffee", name="web", pod_name="web-1", namespace="shop")


def fake_proc(tmp_path: Path, start_ticks: dict[int, int]) -> Path:
    """/proc/<pid>/stat with field 22 (start time) as given; other pids are gone."""
    for pid, ticks in start_ticks.items():
        (tmp_path / str(pid)).mkdir(parents=True)
        rest = " ".join(["S", "1"] + ["0"] * 17 + [str(ticks)] + ["0"] * 10)
        (tmp_path / str(pid) / "stat").write_text(f"{pid} (a (strange) comm) {rest}\n")
    return tmp_path


def process(pid: int, exe: str, ppid: int, container: ContainerInfo | None = None) -> ProcessInfo:
    return ProcessInfo(pid=pid, ppid=ppid, exe=exe, cmdline=exe, uid=1000, container=container)


def fork(ts: int, parent: ProcessInfo, child: int) -> Event:
    return Event(ts, Operation.PROCESS, "fork", child, parent.pid, parent.pid, 0, 0, "sh", 1,
                 kind=sc.EVENT_PROCESS_FORK, facts=Fork(parent.pid, child), process=parent)  # fmt: skip


def exec_(ts: int, proc: ProcessInfo) -> Event:
    return Event(ts, Operation.PROCESS, "execve", 0, proc.pid, proc.pid, 0, 0, "x", 1,
                 kind=sc.EVENT_PROCESS_EXEC, facts=Exec(proc.exe), process=proc)  # fmt: skip


def exit_(ts: int, proc: ProcessInfo, code: int | None) -> Event:
    return Event(ts, Operation.PROCESS, "exit", 0, proc.pid, proc.pid, 0, 0, "x", 1,
                 kind=sc.EVENT_PROCESS_EXIT, facts=Exit(code), process=proc)  # fmt: skip


def decode(spans: list[bytes]) -> list[Span]:
    request = ExportTraceServiceRequest.FromString(wire.request({}, SCOPE_NAME, __version__, spans))
    assert request.resource_spans[0].schema_url == SCHEMA_URL
    return list(request.resource_spans[0].scope_spans[0].spans)


def attributes(span: Span) -> dict[str, object]:
    return {kv.key: getattr(kv.value, kv.value.WhichOneof("value")) for kv in span.attributes}


@pytest.fixture
def pipeline(tmp_path: Path) -> tuple[ProcessSpans, dict[str, ProcessInfo]]:
    """A shell already running when the agent started forks a child, which forks a grandchild."""
    spans = ProcessSpans(fake_proc(tmp_path, {SHELL_PID: 50, CHILD_PID: 900}), boot_id=BOOT)
    shell = process(SHELL_PID, "/bin/bash", 1)
    child = process(CHILD_PID, "/bin/sh", SHELL_PID, WEB)
    grandchild = process(GRANDCHILD_PID, "/bin/cat", CHILD_PID, WEB)
    return spans, {"shell": shell, "child": child, "grandchild": grandchild}


def test_a_process_tree_becomes_a_span_tree_with_fork_to_exit_timing(pipeline) -> None:
    spans, p = pipeline
    finished = spans.observe(
        [
            fork(T0 + 1, p["shell"], CHILD_PID),
            exec_(T0 + 2, p["child"]),
            fork(T0 + 3, p["child"], GRANDCHILD_PID),  # gone before /proc was read: event time
            exec_(T0 + 4, p["grandchild"]),
            exit_(T0 + 5, p["grandchild"], 0),
            exit_(T0 + 6, p["child"], 3),
        ]
    )
    grandchild, child = decode(finished)
    (shell,) = decode(spans.close(now_ns=T0 + 10))
    child_identity = f"{BOOT}:{CHILD_PID}:900"
    assert child.span_id == span_id(child_identity) and len(child.trace_id) == 16
    # The shell was running before the agent: its child roots a trace of its own.
    assert child.trace_id == trace_id(child_identity) != shell.trace_id
    assert child.parent_span_id == shell.span_id and shell.parent_span_id == b""
    assert grandchild.trace_id == child.trace_id and grandchild.parent_span_id == child.span_id
    assert (child.start_time_unix_nano, child.end_time_unix_nano) == (T0 + 1, T0 + 6)
    assert (grandchild.start_time_unix_nano, grandchild.end_time_unix_nano) == (T0 + 3, T0 + 5)
    assert (child.name, grandchild.name, shell.name) == ("sh", "cat", "bash")
    assert attributes(child) == {
        sc.PROCESS_PID: CHILD_PID,
        sc.BEHOLDER_PROCESS_ENTITY_ID: child_identity,
        sc.PROCESS_PARENT_PID: SHELL_PID,
        sc.PROCESS_EXECUTABLE_PATH: "/bin/sh",
        sc.PROCESS_EXECUTABLE_NAME: "sh",
        sc.PROCESS_COMMAND_LINE: "/bin/sh",
        sc.PROCESS_REAL_USER_ID: 1000,
        sc.PROCESS_EXIT_CODE: 3,
        sc.CONTAINER_ID: "c0ffee",
        sc.K8S_CONTAINER_NAME: "web",
        sc.K8S_POD_NAME: "web-1",
        sc.K8S_NAMESPACE_NAME: "shop",
    }
    assert attributes(shell)[sc.BEHOLDER_PROCESS_RUNNING] is True
    assert sc.BEHOLDER_PROCESS_RUNNING not in attributes(child)


def test_every_span_attribute_is_declared_with_its_type(pipeline) -> None:
    spans, p = pipeline
    finished = spans.observe([fork(T0, p["shell"], CHILD_PID), exit_(T0 + 1, p["child"], None)])
    decoded = decode(finished + spans.close(T0 + 2))
    assert decoded and all(span.attributes for span in decoded)  # the loop below checks something
    for span in decoded:
        for kv in span.attributes:
            assert declared_type(kv.key) == value_type(kv.value), kv.key


def test_ids_are_derived_so_records_and_a_restarted_agent_name_the_same_span(pipeline, tmp_path) -> None:
    spans, p = pipeline
    spans.observe([fork(T0 + 1, p["shell"], CHILD_PID)])
    first = spans.context(CHILD_PID)
    again = ProcessSpans(tmp_path, boot_id=BOOT)  # a restarted agent: the child is now pre-existing
    again.observe([exec_(T0 + 50, p["child"])])
    assert first is not None and again.context(CHILD_PID).span_id == first.span_id


def test_a_reused_pid_ends_the_stale_span_and_starts_a_new_one(pipeline) -> None:
    spans, p = pipeline
    spans.observe([fork(T0 + 1, p["shell"], CHILD_PID)])  # its exit is lost
    stale = spans.context(CHILD_PID)
    (ended,) = decode(spans.observe([fork(T0 + 9, p["shell"], CHILD_PID)]))
    assert ended.span_id == stale.span_id and ended.end_time_unix_nano == T0 + 9
    assert attributes(ended)[sc.BEHOLDER_PROCESS_RUNNING] is True


def test_open_spans_are_bounded(tmp_path) -> None:
    spans = ProcessSpans(tmp_path, boot_id=BOOT, max_open=3)
    parent = process(10, "/bin/sh", 1)
    spans.observe([fork(T0 + n, parent, 1000 + n) for n in range(10)])
    open_now = [pid for pid in (10, *range(1000, 1010)) if spans.context(pid) is not None]
    assert len(open_now) == 3 and 1009 in open_now


@pytest.mark.parametrize(
    ("env", "wanted"),
    [
        ({}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, True),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:4318/v1/traces"}, True),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_TRACES_EXPORTER": "none"}, False),
    ],
)
def test_traces_are_exported_when_an_endpoint_is_named(env: dict[str, str], wanted: bool) -> None:
    assert traces_wanted(env) is wanted


@pytest.mark.parametrize("protocol", list(RECEIVERS))
def test_the_trace_sink_delivers_spans_through_the_export_queue(
    protocol: str, collector: Collector, pipeline, recorded
) -> None:
    spans, p = pipeline
    with RECEIVERS[protocol](collector) as receiver:
        config = config_for(protocol, receiver.url, signal="traces")
        queue = ExportQueue(make_transport(config), recorded.metrics, timeout_s=5)
        sink = TraceSink(queue, {sc.SERVICE_NAME: "beholder"}, spans)
        batch = [fork(T0 + 1, p["shell"], CHILD_PID), exec_(T0 + 2, p["child"]), exit_(T0 + 3, p["child"], 0)]
        spans.observe(batch)  # the enrich stage's part
        sink.emit(batch, [])
        sink.close()  # the shell, still running, is exported too
    names = sorted(s.name for s in collector.spans())
    assert names == ["bash", "sh"] and sink.pending_records == 0
    assert recorded.counted("beholder.event.lost") == {}


def test_a_process_started_after_the_agent_but_first_seen_late_keeps_its_children(tmp_path) -> None:
    """A container's init forked outside a --cgroup-id filter: its fork is unseen, its tree is not."""
    now_ticks = time.clock_gettime_ns(time.CLOCK_BOOTTIME) // (1_000_000_000 // os.sysconf("SC_CLK_TCK"))
    spans = ProcessSpans(fake_proc(tmp_path, {CHILD_PID: now_ticks + 1000}), boot_id=BOOT)
    init = process(CHILD_PID, "/bin/sh", 1)
    (grandchild,) = decode(
        spans.observe(
            [fork(T0, init, GRANDCHILD_PID), exit_(T0 + 1, process(GRANDCHILD_PID, "/bin/cat", 0), 0)]
        )
    )
    assert grandchild.trace_id == spans.context(CHILD_PID).trace_id
    assert grandchild.parent_span_id == spans.context(CHILD_PID).span_id


def test_each_log_record_carries_its_own_process_ids_in_both_wire_formats() -> None:
    """The encoded trace/span id fields are reused per process: records of two processes,
    interleaved and encoded twice, still each name their own process's span."""
    procs = [process(pid, f"/bin/p{pid}", 1) for pid in (7, 8)]
    for p in procs:
        p.trace_id, p.span_id = os.urandom(16), os.urandom(8)
    events = [exec_(T0 + i, procs[i % 2]) for i in range(4)]
    expected = [(p.trace_id, p.span_id) for p in (procs[i % 2] for i in range(4))]
    for _ in range(2):
        logs = encode_logs(events, [], {})
        got = [(r.trace_id, r.span_id) for r in logs.resource_logs[0].scope_logs[0].log_records]
        assert got == expected
        doc = json.loads(LogEncoder(jsonwire).encode(events, [], {}))
        records = doc["resourceLogs"][0]["scopeLogs"][0]["logRecords"]
        got = [(bytes.fromhex(r["traceId"]), bytes.fromhex(r["spanId"])) for r in records]
        assert got == expected


def test_a_restarted_agent_continues_the_open_spans_and_ends_those_that_exited_unseen(tmp_path) -> None:
    proc = fake_proc(tmp_path / "proc", {SHELL_PID: 50, CHILD_PID: 900, GRANDCHILD_PID: 950})
    state = tmp_path / "open-spans.json"
    first = ProcessSpans(proc, boot_id=BOOT)
    shell, child = process(SHELL_PID, "/bin/bash", 1), process(CHILD_PID, "/bin/sh", SHELL_PID)
    first.observe([fork(T0 + 1, shell, CHILD_PID), fork(T0 + 2, child, GRANDCHILD_PID)])
    before = {pid: first.context(pid) for pid in (SHELL_PID, CHILD_PID, GRANDCHILD_PID)}
    assert first.save(state, now_ns=T0 + 5)
    assert not first.save(state, now_ns=T0 + 6)  # nothing changed since
    # SIGKILL: nothing more is exported; the grandchild exits while no agent runs.
    shutil.rmtree(proc / str(GRANDCHILD_PID))
    again = ProcessSpans(proc, boot_id=BOOT)
    assert again.restore(state) == 2
    (unseen,) = decode(again.take())
    assert (unseen.trace_id, unseen.span_id) == (
        before[GRANDCHILD_PID].trace_id,
        before[GRANDCHILD_PID].span_id,
    )
    assert attributes(unseen)[sc.BEHOLDER_PROCESS_EXIT_UNSEEN] is True
    assert unseen.end_time_unix_nano == T0 + 5  # when it was last known alive
    (ended,) = decode(again.observe([exit_(T0 + 50, child, 0)]))
    assert (ended.trace_id, ended.span_id) == (before[CHILD_PID].trace_id, before[CHILD_PID].span_id)
    assert ended.trace_id == unseen.trace_id  # the child's own trace, which /proc alone cannot tell
    assert ended.parent_span_id == before[SHELL_PID].span_id
    assert (ended.start_time_unix_nano, ended.end_time_unix_nano) == (T0 + 1, T0 + 50)
    assert again.context(SHELL_PID) == before[SHELL_PID]


def test_a_state_file_of_another_boot_or_damaged_restores_nothing(tmp_path, caplog) -> None:
    proc = fake_proc(tmp_path / "proc", {SHELL_PID: 50})
    state = tmp_path / "open-spans.json"
    first = ProcessSpans(proc, boot_id=BOOT)
    first.observe([exec_(T0, process(SHELL_PID, "/bin/bash", 1))])
    first.save(state, force=True)
    assert ProcessSpans(proc, boot_id="another-boot").restore(state) == 0
    state.write_text("{not json")
    assert ProcessSpans(proc, boot_id=BOOT).restore(state) == 0
    assert f"{state}: open process spans not restored" in caplog.text


def test_every_record_carries_its_process_identity_and_span_without_a_trace_exporter() -> None:
    enricher = Enricher()
    pid = os.getpid()
    ev = Event(T0, Operation.FILE, "openat", 3, pid, pid, 0, 0, "pytest", 1, kind=sc.EVENT_FILE_OPEN,
               resource="/etc/hosts", facts=FileAccess("/etc/hosts"))  # fmt: skip
    enricher.enrich([ev])
    identity = f"{read_boot_id()}:{pid}:{start_ticks(pid)}"
    (record,) = encode_logs([ev], [], {}).resource_logs[0].scope_logs[0].log_records
    assert record.span_id == span_id(identity) and len(record.trace_id) == 16
    assert {kv.key: kv.value.string_value for kv in record.attributes}[
        sc.BEHOLDER_PROCESS_ENTITY_ID
    ] == identity
    assert enricher.spans.take() == []  # no trace sink: spans are not even encoded
