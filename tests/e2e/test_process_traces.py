"""Process lineage as traces, end to end: a shell pipeline in a runc container, the real agent,
a real OTLP/gRPC receiver. The spans' tree, ids and timing are checked against the kernel's
own fork/exec/exit events (the agent's native JSON output of the same run), and every log
record of the container names the span of its process.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.proto.trace.v1.trace_pb2 import Span
from otel_export.receiver import Collector, GrpcReceiver

from beholder.otel import semconv as sc
from conftest import require
from support import runc
from support.agent_process import AgentProcess
from support.kernel import kernel_ready

pytestmark = pytest.mark.kernel

# busybox sh forks once per pipeline element and once for the subshell; absolute paths so
# that every element is a real exec.
SCRIPT = "/bin/echo traced | /bin/cat | /bin/cat > /tmp/out; (/bin/ls / > /dev/null); /bin/sleep 0.2"


def values(kvs) -> dict[str, Any]:
    return {kv.key: getattr(kv.value, kv.value.WhichOneof("value")) for kv in kvs}


@pytest.fixture(scope="module")
def traced(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    ok, why = kernel_ready()
    require(ok, why)
    require(runc.BUSYBOX.exists(), "busybox-static not installed")
    tmp = tmp_path_factory.mktemp("traces")
    ctr = runc.make_bundle(tmp / "bundle", ["/bin/sh", "-c", SCRIPT])
    cgroup_id = runc.precreate_cgroup(ctr)  # this container only: other helpers' workloads stay out
    collector = Collector()
    with GrpcReceiver(collector) as rx:
        env = {"OTEL_EXPORTER_OTLP_ENDPOINT": rx.url, "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}
        agent = AgentProcess(
            tmp,
            ["--spool-dir", str(tmp / "spool"), "--cgroup-id", str(cgroup_id)],
            outputs=("json", "otlp"),
            env=env,
        ).start()
        result = runc.run(ctr)
        assert result.returncode == 0, result.stderr.decode()
        agent.wait_for(lambda r: r["syscall"] == "exit" and r["process"]["exe"].endswith("sleep"))
        agent.stop()
    # The container's spans, and the rest of their trace: runc's init stages may exit before
    # their cgroup is attributed to the container.
    every = collector.spans()
    mine = {s.trace_id for s in every if values(s.attributes).get(sc.CONTAINER_ID) == ctr.container_id}
    assert len(mine) == 1, "the container's processes are not one trace"
    spans = [s for s in every if s.trace_id in mine]
    kernel = [r for r in agent.by_output["json"] if "alert" not in r and r["cgroup_id"] == cgroup_id]
    yield {"spans": spans, "kernel": kernel, "collector": collector, "ctr": ctr}


def by_pid(spans: list[Span]) -> dict[int, Span]:
    return {values(s.attributes)[sc.PROCESS_PID]: s for s in spans}


def test_the_container_start_is_one_trace_with_one_root(traced) -> None:
    spans = traced["spans"]
    # runc's init stages, sh, echo, cat, cat, the subshell (ls); sh execs sleep in place.
    assert len(spans) >= 7, [s.name for s in spans]
    assert len({s.span_id for s in spans}) == len(spans)
    ids = {s.span_id: s for s in spans}
    (root,) = [s for s in spans if not s.parent_span_id]
    assert root.name.startswith("runc")  # the runtime's first process in the container's cgroup
    for span in spans:
        while span.parent_span_id:
            span = ids[span.parent_span_id]
        assert span is root


def test_the_span_tree_is_the_kernels_fork_tree(traced) -> None:
    """A span's parent is the process that forked it (the kernel's fork event), which runc's
    CLONE_PARENT makes differ from process.parent_pid for the container's init."""
    spans, kernel = by_pid(traced["spans"]), traced["kernel"]
    forks = [(r["host_pid"], int(r["data"]["child_pid"])) for r in kernel if r["syscall"] == "fork"]
    assert len(forks) >= 5
    for parent, child in forks:
        assert spans[child].parent_span_id == spans[parent].span_id
    executed = sorted(values(s.attributes).get(sc.PROCESS_EXECUTABLE_PATH, "") for s in spans.values())
    assert executed.count("/bin/cat") == 2 and {"/bin/echo", "/bin/ls", "/bin/sleep"} <= set(executed)


def test_span_timing_is_the_kernel_fork_and_exit_time(traced) -> None:
    spans, kernel = by_pid(traced["spans"]), traced["kernel"]
    forks = {int(r["data"]["child_pid"]): r["timestamp_ns"] for r in kernel if r["syscall"] == "fork"}
    exits = {r["host_pid"]: r["timestamp_ns"] for r in kernel if r["syscall"] == "exit"}
    execs = [r for r in kernel if r["syscall"] == "execve" and r["retval"] == 0]
    assert forks and set(forks) <= set(spans)
    assert exits and execs  # the loops below check something
    for pid, forked in forks.items():
        assert spans[pid].start_time_unix_nano == forked
    for pid, exited in exits.items():
        assert spans[pid].end_time_unix_nano == exited
    for r in execs:
        span = spans[r["host_pid"]]
        assert span.start_time_unix_nano <= r["timestamp_ns"] <= span.end_time_unix_nano


def test_every_log_record_of_the_container_names_its_process_span(traced) -> None:
    spans = by_pid(traced["spans"])
    records = [
        r
        for r in traced["collector"].records()
        if values(r.attributes).get(sc.CONTAINER_ID) == traced["ctr"].container_id
    ]
    assert records
    for record in records:
        attributes = values(record.attributes)
        span = spans[attributes[sc.PROCESS_PID]]
        assert (record.trace_id, record.span_id) == (span.trace_id, span.span_id), record.event_name
        identity = values(span.attributes)[sc.BEHOLDER_PROCESS_ENTITY_ID]
        assert attributes[sc.BEHOLDER_PROCESS_ENTITY_ID] == identity, record.event_name
