"""Hand-built events and alerts shaped like the sensors' decoded output (see the brief's examples)."""

from __future__ import annotations

from opentelemetry.sdk.metrics import MeterProvider

from beholder.events.model import Action, Alert, ContainerInfo, Event, Operation, ProcessInfo
from beholder.formats.kubearmor_in import with_facts
from beholder.otel.metrics import LOSS_STAGES, PipelineMetrics
from beholder.summary import Summary
from beholder.summary.metrics import register_summary_metrics

T0 = 1_700_000_000_123_456_789

SHELL = ProcessInfo(
    pid=4242,
    ppid=4200,
    ns_pid=7,
    ns_ppid=1,
    comm="sh",
    exe="/bin/dash",
    cmdline="/bin/sh -c cat /etc/passwd",
    parent_exe="/usr/bin/runc",
    cwd="/var/www/html",
    uid=33,
    gid=33,
)
NGINX = ContainerInfo(
    container_id="8762eafc25a35ab90089f79703b86659989e8e547c2c029fb60f55d884355000",
    runtime="containerd",
    name="nginx",
    image="docker.io/library/nginx:latest@sha256:af296b188c7b7df99ba960ca614439c99cb7cf252ed7bbc23e90cfda59092305",
    image_id="sha256:c622cf306b94e8a6e7cfd718f048015e033614170f19228d8beee23a0ccc57bb",
    pod_uid="275ecb36-5aa8-4c2a-9c47-d8bb681b9aff",
    pod_name="nginx-8f458dc5b-fl42t",
    namespace="default",
    labels={"app": "nginx", "pod-template-hash": "8f458dc5b"},
    workload_kind="Deployment",
    workload_name="nginx",
    service_account="default",
)


def event(operation: Operation, syscall: str, resource: str = "", data: dict | None = None, **kw) -> Event:
    """An enriched event from the shell process inside the nginx container."""
    fields = dict(
        timestamp_ns=T0,
        operation=operation,
        syscall=syscall,
        retval=0,
        host_pid=4242,
        host_tid=4242,
        uid=33,
        gid=33,
        comm="sh",
        cgroup_id=9876,
        resource=resource,
        process=SHELL,
        container=NGINX,
    )
    fields.update(kw)
    return with_facts(Event(**fields), data)


EVENTS = {
    "exec": event(Operation.PROCESS, "execve", "/bin/true", {"argv": "a b"}, argv=("/bin/true", "a", "b")),
    "fork": event(Operation.PROCESS, "fork", "4243", {"parent_pid": "4242", "child_pid": "4243"}),
    "exit": event(Operation.PROCESS, "exit", "", {"exit_code": "0"}),
    "exit_by_signal": event(Operation.PROCESS, "exit", "", {"exit_code": "unknown"}),
    "open": event(
        Operation.FILE, "openat", "/etc/ld.so.cache", {"fd": "-100", "flags": "O_RDONLY|O_CLOEXEC"}
    ),
    "open_denied": event(
        Operation.FILE, "openat", "/etc/shadow", {"fd": "-100", "flags": "O_RDONLY"}, retval=-13
    ),
    "creat": event(
        Operation.FILE, "openat", "/tmp/x", {"fd": "-100", "flags": "O_WRONLY|O_CREAT", "mode": "0644"}
    ),
    "unlink": event(Operation.FILE, "unlinkat", "/sbin/raw", {"fd": "-100", "flags": ""}),
    "rename": event(Operation.FILE, "renameat2", "/tmp/a", {"fd": "-100", "newpath": "/tmp/b"}),
    "chown": event(Operation.FILE, "fchownat", "/tmp/a", {"fd": "-100", "uid": "0", "gid": "0"}),
    "symlink": event(Operation.FILE, "symlink", "/tmp/link", {"target": "/etc/passwd"}),
    "chdir": event(Operation.FILE, "chdir", "/tmp", {}),
    "socket": event(
        Operation.NETWORK, "socket", "domain=AF_UNIX type=SOCK_STREAM|SOCK_CLOEXEC protocol=0", {"fd": "3"}
    ),
    "socket_tcp": event(
        Operation.NETWORK, "socket", "domain=AF_INET type=SOCK_STREAM protocol=6", {"fd": "4"}
    ),
    "connect": event(
        Operation.NETWORK,
        "connect",
        "sa_family=AF_INET sin_port=53 sin_addr=10.0.0.10",
        {"fd": "3", "sa_family": "AF_INET", "sin_port": "53", "sin_addr": "10.0.0.10"},
    ),
    "connect_unix": event(
        Operation.NETWORK,
        "connect",
        "sa_family=AF_UNIX sun_path=/run/docker.sock",
        {"fd": "3", "sa_family": "AF_UNIX", "sun_path": "/run/docker.sock"},
    ),
    "bind6": event(
        Operation.NETWORK,
        "bind",
        "sa_family=AF_INET6 sin6_port=8080 sin6_addr=::",
        {"fd": "5", "sa_family": "AF_INET6", "sin6_port": "8080", "sin6_addr": "::"},
    ),
    "listen": event(Operation.NETWORK, "listen", "fd=5", {"fd": "5", "backlog": "128"}),
    "accept": event(
        Operation.NETWORK,
        "accept4",
        "sa_family=AF_INET sin_port=51234 sin_addr=10.1.2.3",
        {"fd": "5", "sa_family": "AF_INET", "sin_port": "51234", "sin_addr": "10.1.2.3", "newfd": "6"},
        retval=6,
    ),
    "tcp_state": event(
        Operation.NETWORK,
        "tcp_state",
        "10.0.0.5:40000 -> 10.0.0.10:443 SYN_SENT->ESTABLISHED",
        {
            "sa_family": "AF_INET",
            "saddr": "10.0.0.5",
            "sport": "40000",
            "daddr": "10.0.0.10",
            "dport": "443",
            "oldstate": "SYN_SENT",
            "newstate": "ESTABLISHED",
        },
    ),
    "tcp_listen": event(
        Operation.NETWORK,
        "tcp_state",
        "0.0.0.0:8080 CLOSE->LISTEN",
        {
            "sa_family": "AF_INET",
            "saddr": "0.0.0.0",
            "sport": "8080",
            "daddr": "0.0.0.0",
            "dport": "0",
            "oldstate": "CLOSE",
            "newstate": "LISTEN",
        },
    ),
    "dns": event(
        Operation.NETWORK,
        "sendto",
        "example.com.",
        {
            "fd": "3",
            "qname": "example.com.",
            "qtype": "A",
            "sa_family": "AF_INET",
            "sin_port": "53",
            "sin_addr": "10.0.0.10",
        },
    ),
    "capability": event(Operation.CAPABILITY, "cap_capable", "NET_RAW", {"capability": "NET_RAW"}),
    "setuid": event(Operation.SYSCALL, "setuid", "", {"userid": "0"}, retval=-1),
    "mount": event(Operation.SYSCALL, "mount", "/mnt", {"source": "/dev/sda1", "flags": "0x0"}),
    "raw_syscall": event(Operation.SYSCALL, "getpeername", "", {}),
    "host_repeated": event(
        Operation.FILE,
        "openat",
        "/proc/self/stat",
        {"fd": "-100", "flags": "O_RDONLY"},
        host_tid=4250,
        repeat_count=12,
        truncated=True,
        container=None,
        process=None,
    ),
}

ALERTS = {
    "policy_block": Alert(
        event=EVENTS["open_denied"],
        source="policy",
        rule_id="harden-wordpress-file-integrity-monitoring",
        rule_name="harden-wordpress-file-integrity-monitoring",
        action=Action.BLOCK,
        severity=5,
        message="Detected and prevented compromise to File integrity",
        tags=("NIST", "MITRE_T1036_masquerading"),
        enforcer="BPFLSM",
        policy_type="MatchedPolicy",
    ),
    "host_audit": Alert(
        event=EVENTS["host_repeated"],
        source="policy",
        rule_id="ksp-discovery-process-discovery",
        rule_name="",
        action=Action.AUDIT,
        severity=10,
        policy_type="MatchedHostPolicy",
    ),
    "profile_anomaly": Alert(
        event=EVENTS["exec"],
        source="profile",
        rule_id="R0001",
        rule_name="Unexpected process launched",
        action=Action.AUDIT,
        severity=5,
        message="Unexpected process launched: /bin/true",
        extra={
            "profile.name": "replicaset-webapp-mywebapp-67965968bb",
            "mitre.tactic": "TA0002",
            "mitre.technique": "T1059",
        },
    ),
}


def record_every_instrument(provider: MeterProvider, metrics: PipelineMetrics) -> None:
    """Move every instrument the agent registers once, so each one is exported."""
    metrics.record_batch(list(EVENTS.values()), list(ALERTS.values()))
    for stage in LOSS_STAGES:
        metrics.lost(stage, 1)
    metrics.suppressed(2)
    metrics.queue_changed(5)
    metrics.queue_limit(10)
    metrics.spool_limit(4096)
    metrics.spool_bytes(1024)
    summary = Summary()
    register_summary_metrics(provider, summary)
    summary.add(list(EVENTS.values()))
