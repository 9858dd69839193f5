"""The fast KubeArmor JSON writer (the default recording's format) writes exactly what
`json.dumps(to_kubearmor(...))` writes, while the processes and containers behind the
events change under it."""

from __future__ import annotations

import json
from dataclasses import replace

from otel_semconv.samples import ALERTS
from otel_semconv.samples import EVENTS as SAMPLE_EVENTS

from beholder.events import Alert, ContainerInfo, Event, Operation, ProcessInfo
from beholder.events.interfaces import HostIdentity
from beholder.formats.kubearmor import to_kubearmor
from beholder.formats.kubearmor_in import with_facts
from beholder.formats.kubearmor_lines import KubeArmorLines

HOST = HostIdentity(host_name="node-1", cluster_name="prod")


def expected(event: Event, alert: Alert | None = None) -> str:
    return json.dumps(to_kubearmor(event, HOST, alert), separators=(",", ":"))


def event(op: Operation, syscall: str, resource: str, proc: ProcessInfo | None, **data: str) -> Event:
    ctr = proc.container if proc is not None else None
    return with_facts(
        Event(
            timestamp_ns=1_796_000_000_123_456_789,
            operation=op,
            syscall=syscall,
            retval=-2 if "missing" in resource else 0,
            host_pid=proc.pid if proc else 77,
            host_tid=proc.pid if proc else 77,
            uid=1000,
            gid=1000,
            comm="worker",
            cgroup_id=9,
            resource=resource,
            argv=(resource, "-c", "échec\tdone") if syscall == "execve" else (),
            process=proc,
            container=ctr,
        ),
        data,
    )


def corpus() -> list[Event]:
    web = ContainerInfo(
        "ab" * 32,
        name="web",
        image="nginx:1.25",
        pod_name="web-0",
        namespace="shop",
        labels={"app": "web"},
        workload_kind="StatefulSet",
        workload_name="web",
    )
    host_proc = ProcessInfo(pid=10, ppid=1, exe="/usr/bin/python3", cmdline="python3 app.py", cwd="/srv")
    ctr_proc = ProcessInfo(
        pid=20, ppid=19, ns_pid=1, exe="/bin/sh", parent_exe="/usr/sbin/runc", cwd="/", container=web
    )
    unnamed = ContainerInfo("cd" * 32)  # no name, image, pod or labels: none of them written
    bare = ProcessInfo(pid=30, ppid=0, ns_pid=0, container=unnamed)  # nothing known of it
    odd = replace(host_proc, cmdline='python3 "quoted" \\ \x1b[31m ünïcode ☃', cwd="/tmp/ü")
    return [
        event(Operation.FILE, "openat", "/etc/passwd", host_proc, fd="-100", flags="O_RDONLY"),
        event(Operation.FILE, "openat", "/missing/\u2603\x07", host_proc, fd="-100", flags="O_RDONLY"),
        event(Operation.PROCESS, "execve", "/bin/sh", ctr_proc),
        event(Operation.FILE, "openat", "/var/www/index.html", ctr_proc, fd="-100", flags="O_RDONLY"),
        event(
            Operation.NETWORK,
            "connect",
            "sa_family=AF_INET sin_port=443 sin_addr=10.0.0.1",
            ctr_proc,
            fd="3",
            sa_family="AF_INET",
            sin_port="443",
            sin_addr="10.0.0.1",
        ),
        event(Operation.FILE, "openat", "/tmp/x", odd, fd="-100", flags="O_RDONLY"),
        event(Operation.FILE, "unlink", "/tmp/x", None),
        event(Operation.NETWORK, "listen", "", ctr_proc, fd="3", backlog="128"),  # no Resource
        replace(
            event(Operation.FILE, "openat", "/etc/hosts", bare, fd="-100", flags="O_RDONLY"), timestamp_ns=0
        ),
    ]


def test_every_line_equals_json_dumps_of_to_kubearmor() -> None:
    lines = KubeArmorLines(HOST)
    events = corpus()
    for ev in events + events:  # the second time from the kept text
        assert lines.event(ev) == expected(ev)


def test_fields_at_their_zero_value_are_left_out_by_both_writers() -> None:
    """KubeArmor's encoder leaves out "", 0 and empty lists; PPID and UID it always writes."""
    lines = KubeArmorLines(HOST)
    listen, unknown = corpus()[-2:]
    assert '"Resource"' not in lines.event(listen) and '"Data":"syscall=SYS_LISTEN fd=3"' in lines.event(
        listen
    )
    record = json.loads(lines.event(unknown))
    assert not {"Timestamp", "UpdatedTime", "PodName", "Labels", "ContainerName", "ContainerImage"} & set(
        record
    )
    assert not {"HostPPID", "PID", "ProcessName", "ParentProcessName", "Cwd"} & record.keys()
    assert (record["PPID"], record["UID"], record["NamespaceName"]) == (0, 1000, "container_namespace")


def test_a_process_or_container_that_changes_is_written_as_it_is_now() -> None:
    lines = KubeArmorLines(HOST)
    ev = corpus()[3]
    assert lines.event(ev) == expected(ev)
    proc, ctr = ev.process, ev.container
    assert proc is not None and ctr is not None
    proc.cwd, proc.exe = "/var/www", "/usr/sbin/nginx"  # chdir, then exec: the same object
    assert lines.event(ev) == expected(ev)
    ctr.labels = {"app": "web", "tier": "front"}  # the pod watcher replaces the labels
    assert lines.event(ev) == expected(ev)
    assert '"Labels":"app=web,tier=front"' in lines.event(ev)
    assert '"Cwd":"/var/www/"' in lines.event(ev)


def test_the_semconv_samples_and_their_alerts_are_written_as_json_dumps_writes_them() -> None:
    lines = KubeArmorLines(HOST)
    for ev in SAMPLE_EVENTS.values():
        assert lines.event(ev) == expected(ev)
    for alert in ALERTS.values():
        assert lines.alert(alert) == expected(alert.event, alert)
