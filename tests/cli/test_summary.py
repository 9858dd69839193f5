"""The summary tables fold events the way `karmor summary` shows them (seed 001), within bounds."""

from __future__ import annotations

import errno
import json

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from beholder.events.interfaces import HostIdentity
from beholder.events.model import Action, Alert, Operation
from beholder.formats.kubearmor import to_kubearmor
from beholder.formats.kubearmor_in import ReadReport, read_records
from beholder.otel import jsonwire
from beholder.otel import semconv as sc
from beholder.otel.encode import LogEncoder
from beholder.policy.alerts import posture_alert
from beholder.query.otlp_file import read_otlp_lines
from beholder.summary import Peer, StaticPeers, Summary, SummaryLimits
from beholder.summary.metrics import register_summary_metrics
from cli.builders import DB, T0, WEB, alert_on, event, exec_of, net, open_of


def _rows(summary: Summary, table: str, container: str = "web") -> list[tuple]:
    (workload,) = summary.snapshot(container=container)
    columns = [c for c in workload[table][0] if c != "last_updated_ns"] if workload[table] else []
    return [tuple(row[c] for c in columns) for row in workload[table]]


@pytest.mark.parametrize(
    ("paths", "expected"),
    [
        (["/etc/passwd"], [("/etc/passwd", 1)]),
        (["/etc/passwd", "/etc/passwd"], [("/etc/passwd", 2)]),
        (["/etc/passwd", "/etc/group", "/etc/hosts"], [("/etc/", 3)]),
        (["/etc/passwd", "/etc/group", "/etc/passwd"], [("/etc/", 3)]),
        (["/proc/sys/kernel/ngroups_max"] * 2 + ["/tmp/a", "/tmp/b"],
         [("/proc/sys/kernel/ngroups_max", 2), ("/tmp/", 2)]),
        (["/", "/etc/a"], [("/", 1), ("/etc/a", 1)]),
        (["/lib/x86_64-linux-gnu/libc.so.6", "/lib/terminfo/x/xterm"],
         [("/lib/terminfo/x/xterm", 1), ("/lib/x86_64-linux-gnu/libc.so.6", 1)]),
        (["relative.txt", "other.txt"], [("", 2)]),
    ],
)  # fmt: skip
def test_file_paths_fold_into_a_directory_once_a_second_file_is_touched(paths, expected):
    summary = Summary()
    summary.add([open_of(p, ts=T0 + i) for i, p in enumerate(paths)])
    assert [(dst, n) for _src, dst, _status, n in _rows(summary, "file")] == expected


def test_file_rows_are_per_source_process():
    summary = Summary()
    summary.add([open_of("/etc/a", exe="/bin/ls"), open_of("/etc/b", exe="/bin/cat")])
    assert _rows(summary, "file") == [("/bin/cat", "/etc/b", "Allow", 1), ("/bin/ls", "/etc/a", "Allow", 1)]


@pytest.mark.parametrize(
    ("retval", "action", "status"),
    [
        (0, None, "Allow"),
        (-errno.ENOENT, Action.AUDIT, "Audit"),
        (-errno.EACCES, None, "Deny"),
        (-errno.EPERM, None, "Deny"),
        (0, Action.AUDIT, "Audit"),
        (-errno.EPERM, Action.BLOCK, "Block"),
    ],
)
def test_process_row_status_comes_from_the_alert_then_the_result(retval, action, status):
    summary = Summary()
    ev = exec_of("/bin/cat", parent="/bin/dash", retval=retval)
    summary.add([ev], [alert_on(ev, action)] if action else [])
    assert _rows(summary, "process") == [("/bin/dash", "/bin/cat", status, 1)]


def test_execs_that_ran_nothing_are_left_out_but_denials_stay():
    summary = Summary()
    summary.add([exec_of("/root/.cargo/bin/ls", retval=-errno.ENOENT), exec_of("/bin/ls"),
                 exec_of("/bin/su", retval=-errno.EACCES)])  # fmt: skip
    assert [(dst, status) for _src, dst, status, _n in _rows(summary, "process")] == [
        ("/bin/ls", "Allow"), ("/bin/su", "Deny")
    ]  # fmt: skip


def test_replayed_alert_record_counts_its_event_once():
    summary = Summary()
    telemetry, replayed = exec_of("/bin/cat", parent="/bin/dash"), exec_of("/bin/cat", parent="/bin/dash")
    summary.add([telemetry], [alert_on(replayed, Action.AUDIT)])
    assert _rows(summary, "process") == [("/bin/dash", "/bin/cat", "Audit", 1)]
    summary.add([], [alert_on(exec_of("/bin/cat", parent="/bin/dash", ts=T0 + 1, retval=-errno.EPERM))])
    assert ("/bin/dash", "/bin/cat", "Block", 1) in _rows(summary, "process")


def _monitor_only_block() -> Alert:
    """A Block rule matched an exec on a node that only monitors: the program ran."""
    return posture_alert(exec_of("/bin/cat", parent="/bin/dash"), "block", lsm_enforcing=False)


def _through_kubearmor_json(alert: Alert) -> Alert:
    line = json.dumps(to_kubearmor(alert.event, HostIdentity(host_name="n"), alert))
    (record,) = [r for r, _host in read_records([line], "ka.json", ReadReport())]
    assert isinstance(record, Alert)
    return record


def _through_otlp_file(alert: Alert) -> Alert:
    line = LogEncoder(jsonwire).encode([], [alert], {"host.name": "n"}).decode()
    (record,) = read_otlp_lines([line], "otlp.json", ReadReport())
    assert record.alert is not None
    return record.alert


@pytest.mark.parametrize("source", ["live", "kubearmor json", "otlp file"])
def test_status_of_a_monitor_only_block_is_audit_from_every_source(source):
    alert = _monitor_only_block()
    read = {
        "live": alert,
        "kubearmor json": _through_kubearmor_json(alert),
        "otlp file": _through_otlp_file(alert),
    }
    summary = Summary()
    summary.add([], [read[source]])
    assert _rows(summary, "process") == [("/bin/dash", "/bin/cat", "Audit", 1)]


def test_process_rows_count_and_keep_the_latest_time():
    summary = Summary()
    summary.add([exec_of("/bin/ls", ts=T0 + 5), exec_of("/bin/ls", ts=T0), exec_of("/bin/rm")])
    (workload,) = summary.snapshot()
    rows = {r["destination"]: (r["count"], r["last_updated_ns"]) for r in workload["process"]}
    assert rows == {"/bin/ls": (2, T0 + 5), "/bin/rm": (1, T0)}


def test_workloads_are_kept_apart_and_filtered_by_namespace_pod_and_container():
    summary = Summary(cluster="pandora")
    summary.add([exec_of("/bin/ls"), exec_of("/bin/ls", container=DB), exec_of("/bin/ls", container=None)])
    assert [(w["namespace"], w["pod"], w["container"]) for w in summary.snapshot()] == [
        ("", "", ""),
        ("data", "db-0", "db"),
        ("dvwa", "web-1", "web"),
    ]
    (web,) = summary.snapshot(namespace="dvwa")
    assert (web["cluster"], web["labels"]) == ("pandora", "app=web")
    assert summary.snapshot(pod="db-0")[0]["container"] == "db"
    assert summary.snapshot(container="nope") == []
    assert summary.snapshot(container=DB.container_id[:12])[0]["pod"] == "db-0"


@pytest.mark.parametrize(
    ("events", "table", "expected"),
    [
        (
            [net("socket", resource="domain=AF_INET type=SOCK_STREAM protocol=0"),
             net("connect", sa_family="AF_INET", sin_addr="10.43.0.5", sin_port="3306")],
            "egress",
            [("TCP", "/usr/sbin/apache2", "svc/dvwa-mysql-service", "3306", "dvwa", "app=mysql", 1)],
        ),
        (
            [net("connect", sa_family="AF_INET6", sin6_addr="fd00::1", sin6_port="443")],
            "egress",
            [("TCPv6", "/usr/sbin/apache2", "fd00::1", "443", "", "", 1)],
        ),
        (
            [net("sendto", sa_family="AF_INET", sin_addr="10.0.0.10", sin_port="53", qname="example.com.")],
            "egress",
            [("UDP", "/usr/sbin/apache2", "10.0.0.10", "53", "", "", 1)],
        ),
        (
            [net("connect", sa_family="AF_UNIX", sun_path="/run/mysqld/mysqld.sock")],
            "egress",
            [("AF_UNIX", "/usr/sbin/apache2", "/run/mysqld/mysqld.sock", "", "", "", 1)],
        ),
        (
            [net("socket", fd="4", resource="domain=AF_INET6 type=SOCK_STREAM protocol=0"),
             net("bind", fd="4", sa_family="AF_INET6", sin6_addr="::", sin6_port="80"),
             net("accept4", fd="4", sa_family="AF_INET6", sin6_addr="::ffff:127.0.0.1", sin6_port="51000"),
             net("accept4", fd="4", sa_family="AF_INET", sin_addr="127.0.0.1", sin_port="51002")],
            "ingress",
            [("TCPv6", "/usr/sbin/apache2", "127.0.0.1", "80", "", "", 2)],
        ),
        (
            [net("accept", fd="9", sa_family="AF_INET", sin_addr="10.1.1.1", sin_port="50000")],
            "ingress",
            [("TCP", "/usr/sbin/apache2", "10.1.1.1", "", "", "", 1)],
        ),
        (
            [net("bind", sa_family="AF_NETLINK", nl_pid="0", nl_groups="0")],
            "bind",
            [("AF_NETLINK", "/usr/sbin/apache2", "", "", 1)],
        ),
        (
            [net("bind", sa_family="AF_UNIX", sun_path="@/tmp/.X11-unix")],
            "bind",
            [("AF_UNIX", "/usr/sbin/apache2", "", "@/tmp/.X11-unix", 1)],
        ),
        (
            [net("socket", fd="5", resource="domain=AF_INET type=SOCK_DGRAM protocol=0"),
             net("bind", fd="5", sa_family="AF_INET", sin_addr="0.0.0.0", sin_port="5353")],
            "bind",
            [("UDP", "/usr/sbin/apache2", "5353", "0.0.0.0", 1)],
        ),
    ],
)  # fmt: skip
def test_network_events_fill_ingress_egress_and_bind(events, table, expected):
    mysql = {"metadata": {"name": "dvwa-mysql-service", "namespace": "dvwa", "labels": {"app": "mysql"}},
             "spec": {"clusterIP": "10.43.0.5"}}  # fmt: skip
    summary = Summary(resolver=StaticPeers(services=[mysql]))
    summary.add(events)
    assert _rows(summary, table) == expected


def test_static_peers_resolve_pod_and_service_ips_services_first():
    pods = [
        {"metadata": {"name": "db-0", "namespace": "data", "labels": {"app": "db"}},
         "status": {"podIP": "10.42.0.7", "podIPs": [{"ip": "10.42.0.7"}, {"ip": "fd00::7"}]}},
        {"metadata": {"name": "node-exporter"}, "spec": {"hostNetwork": True},
         "status": {"podIP": "192.168.1.2"}},
        {"metadata": "broken"},
    ]  # fmt: skip
    services = [{"metadata": {"name": "db", "namespace": "data"}, "spec": {"clusterIP": "10.43.0.9"}},
                {"metadata": {"name": "headless"}, "spec": {"clusterIP": "None"}}]  # fmt: skip
    peers = StaticPeers(pods, services)
    assert peers.resolve("fd00::7") == Peer("pod", "db-0", "data", (("app", "db"),))
    assert peers.resolve("10.43.0.9").display == "svc/db"
    assert peers.resolve("192.168.1.2") is None and peers.resolve("None") is None


def test_tables_keep_the_most_recently_updated_rows_within_the_limit():
    summary = Summary(limits=SummaryLimits(rows=3))
    summary.add([exec_of(f"/bin/x{i}") for i in range(5)])
    summary.add([exec_of("/bin/x0")])
    (workload,) = summary.snapshot()
    assert {r["destination"] for r in workload["process"]} == {"/bin/x3", "/bin/x4", "/bin/x0"}
    assert workload["evicted_rows"] == 3


def test_workloads_beyond_the_limit_evict_the_quietest():
    summary = Summary(limits=SummaryLimits(containers=2))
    summary.add(
        [exec_of("/bin/a", container=WEB), exec_of("/bin/a", container=DB), exec_of("/bin/a", container=None)]
    )
    assert [w["container"] for w in summary.snapshot()] == ["", "db"]
    assert summary.evicted_containers == 1


def test_other_operations_are_not_summarised():
    summary = Summary()
    summary.add(
        [event(Operation.SYSCALL, "setuid", data={"userid": "0"}), event(Operation.CAPABILITY, "cap_capable")]
    )
    assert summary.snapshot() == []


def test_summary_counts_are_exported_as_an_otel_counter():
    reader = InMemoryMetricReader()
    summary = Summary()
    register_summary_metrics(MeterProvider(metric_readers=[reader]), summary)
    summary.add([exec_of("/bin/ls"), open_of("/etc/a"), open_of("/etc/b"), open_of("/etc/c")])
    summary.add([open_of("/etc/d", container=None)])
    (metric,) = [m for rm in reader.get_metrics_data().resource_metrics
                 for sm in rm.scope_metrics for m in sm.metrics]  # fmt: skip
    assert metric.name == sc.METRIC_SUMMARY_EVENT_COUNT and metric.data.is_monotonic
    points = {(dict(p.attributes).get("k8s.pod.name", ""), p.attributes[sc.BEHOLDER_SUMMARY_TABLE]): p.value
              for p in metric.data.data_points}  # fmt: skip
    assert points[("web-1", "process")] == 1 and points[("web-1", "file")] == 3 and points[("", "file")] == 1
