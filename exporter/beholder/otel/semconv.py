"""Semantic-convention names Beholder emits. Generated from semconv/registry; do not edit.

Regenerate with `beholder semconv generate`; a test fails when this file is stale.
"""

from __future__ import annotations

from typing import Final

# --- attributes (templates are prefixes: emit f'{NAME}.{key}') ---

# Rule-specific details, `beholder.alert.extra.<key>` (e.g. the profile name).
BEHOLDER_ALERT_EXTRA: Final = "beholder.alert.extra"
# Rule severity on KubeArmor's 1–10 scale, before mapping to a severity number.
BEHOLDER_ALERT_SEVERITY: Final = "beholder.alert.severity"
# What raised an alert, a KubeArmor policy or a behaviour profile.
BEHOLDER_ALERT_SOURCE: Final = "beholder.alert.source"
# Capability the kernel checked, without the CAP_ prefix.
BEHOLDER_CAPABILITY_NAME: Final = "beholder.capability.name"
# cgroup v2 id of the calling task (ties host events to a cgroup before enrichment).
BEHOLDER_CGROUP_ID: Final = "beholder.cgroup.id"
# Record type asked in an outgoing DNS question.
BEHOLDER_DNS_QUESTION_TYPE: Final = "beholder.dns.question.type"
# Identical events the kernel folded into this one (in-kernel dedup); absent when 0.
BEHOLDER_EVENT_REPEAT_COUNT: Final = "beholder.event.repeat_count"
# A path or argv was cut at the kernel's buffer limit; absent when false.
BEHOLDER_EVENT_TRUNCATED: Final = "beholder.event.truncated"
# Destination path of rename/link calls.
BEHOLDER_FILE_NEW_PATH: Final = "beholder.file.new_path"
# open(2) flags as KubeArmor prints them.
BEHOLDER_FILE_OPEN_FLAGS: Final = "beholder.file.open.flags"
# Service account the pod runs as.
BEHOLDER_K8S_SERVICE_ACCOUNT_NAME: Final = "beholder.k8s.service_account.name"
# Records one stage lost during the reporting interval of a `beholder.agent.loss` record.
BEHOLDER_LOSS_COUNT: Final = "beholder.loss.count"
# Seconds since the previous loss report (the agent reports at most once a second).
BEHOLDER_LOSS_INTERVAL: Final = "beholder.loss.interval"
# Records that stage has lost since the agent started.
BEHOLDER_LOSS_TOTAL: Final = "beholder.loss.total"
# Socket address family as the kernel names it.
BEHOLDER_NETWORK_ADDRESS_FAMILY: Final = "beholder.network.address_family"
# TCP state the socket left, in the `network.connection.state` spelling.
BEHOLDER_NETWORK_CONNECTION_PREVIOUS_STATE: Final = "beholder.network.connection.previous_state"
# socket(2) type with its flags.
BEHOLDER_NETWORK_SOCKET_TYPE: Final = "beholder.network.socket.type"
# Event class (KubeArmor's `Operation`, in lowercase).
BEHOLDER_OPERATION: Final = "beholder.operation"
# Action of the matched rule (KubeArmor `Action`).
BEHOLDER_POLICY_ACTION: Final = "beholder.policy.action"
# Who enforced or observed the rule (KubeArmor `Enforcer`).
BEHOLDER_POLICY_ENFORCER: Final = "beholder.policy.enforcer"
# KubeArmor alert `Type`.
BEHOLDER_POLICY_TYPE: Final = "beholder.policy.type"
# Host pid of the child a fork/clone created.
BEHOLDER_PROCESS_CHILD_PID: Final = "beholder.process.child_pid"
# Stable process identity, `<boot id>:<pid>:<start time in clock ticks since boot>` (like Tetragon's exec
# id or ECS `process.entity_id`): unique across pid reuse and reboots, the same for every agent that sees
# the process. The process span's id is derived from it.
BEHOLDER_PROCESS_ENTITY_ID: Final = "beholder.process.entity_id"
# On a process span: the process ended while no agent watched (between an agent's crash or stop and the
# next start); the span ends when it was last known alive.
BEHOLDER_PROCESS_EXIT_UNSEEN: Final = "beholder.process.exit_unseen"
# Executable of the parent process (KubeArmor `ParentProcessName`).
BEHOLDER_PROCESS_PARENT_EXECUTABLE_PATH: Final = "beholder.process.parent.executable.path"
# Parent process id inside the process's pid namespace (KubeArmor `PPID`).
BEHOLDER_PROCESS_PARENT_VPID: Final = "beholder.process.parent_vpid"
# Real group id of the calling thread (OpenTelemetry has user ids only).
BEHOLDER_PROCESS_REAL_GROUP_ID: Final = "beholder.process.real_group.id"
# On a process span: the process was still running when the span was exported (the agent stopped); the
# span ends at that moment, not at the process's exit.
BEHOLDER_PROCESS_RUNNING: Final = "beholder.process.running"
# Why events were suppressed.
BEHOLDER_REASON: Final = "beholder.reason"
# KubeArmor's `Resource` text, set only when no more specific attribute carries it (socket triples, listen
# fds, mount targets, signal targets).
BEHOLDER_RESOURCE: Final = "beholder.resource"
# The rule's id in its source: the KubeArmor policy name, or the Kubescape rule id (`security_rule.uuid`
# is a UUIDv5 of `<beholder.alert.source>/<beholder.rule.id>`).
BEHOLDER_RULE_ID: Final = "beholder.rule.id"
# Rule tags (KubeArmor `ATags`; MITRE/NIST ids).
BEHOLDER_RULE_TAGS: Final = "beholder.rule.tags"
# Pipeline stage that lost records: ringbuf (kernel ring buffer full), handover (the agent's reader-to-
# processing queue full), decode, export_queue (the OTLP export queue at its memory bound: records arrive
# faster than they are encoded and spilled), export (refused by the collector, or unreachable without a
# spool), spool (disk spool full or damaged), output (a console, KubeArmor, JSON, Kubescape or OTLP file
# output could not write: disk full, reader gone, or its queue full).
BEHOLDER_STAGE: Final = "beholder.stage"
# Summary table an event was folded into (process, file, network, syscall, capability).
BEHOLDER_SUMMARY_TABLE: Final = "beholder.summary.table"
# A syscall argument no other attribute carries, `beholder.syscall.arg.<name>`, with the name KubeArmor's
# `Data` uses; text arguments (mount source, module params, the ids of setresuid) here, numeric ones as
# the int attributes below.
BEHOLDER_SYSCALL_ARG: Final = "beholder.syscall.arg"
# listen()'s backlog.
BEHOLDER_SYSCALL_ARG_BACKLOG: Final = "beholder.syscall.arg.backlog"
# bpf()'s command number.
BEHOLDER_SYSCALL_ARG_CMD: Final = "beholder.syscall.arg.cmd"
# io_uring_setup()'s entries.
BEHOLDER_SYSCALL_ARG_ENTRIES: Final = "beholder.syscall.arg.entries"
# A file descriptor argument (AT_FDCWD is -100).
BEHOLDER_SYSCALL_ARG_FD: Final = "beholder.syscall.arg.fd"
# The flags argument as a number (mount, umount2, memfd_create, unshare, setns, fchownat, unlinkat).
BEHOLDER_SYSCALL_ARG_FLAGS: Final = "beholder.syscall.arg.flags"
# The group id set*gid() asked for.
BEHOLDER_SYSCALL_ARG_GROUPID: Final = "beholder.syscall.arg.groupid"
# The descriptor accept() returned.
BEHOLDER_SYSCALL_ARG_NEWFD: Final = "beholder.syscall.arg.newfd"
# The target pid of kill, tgkill, ptrace.
BEHOLDER_SYSCALL_ARG_PID: Final = "beholder.syscall.arg.pid"
# socket()'s protocol number.
BEHOLDER_SYSCALL_ARG_PROTOCOL: Final = "beholder.syscall.arg.protocol"
# ptrace()'s request number.
BEHOLDER_SYSCALL_ARG_REQUEST: Final = "beholder.syscall.arg.request"
# The signal number kill/tkill/tgkill sent.
BEHOLDER_SYSCALL_ARG_SIG: Final = "beholder.syscall.arg.sig"
# The target thread of tgkill.
BEHOLDER_SYSCALL_ARG_TID: Final = "beholder.syscall.arg.tid"
# The user id set*uid() asked for.
BEHOLDER_SYSCALL_ARG_USERID: Final = "beholder.syscall.arg.userid"
# Syscall or hook name without the SYS_ prefix.
BEHOLDER_SYSCALL_NAME: Final = "beholder.syscall.name"
# KubeArmor's `Result`, `Passed` or the errno text.
BEHOLDER_SYSCALL_RESULT: Final = "beholder.syscall.result"
# Raw return value (negative errno on failure).
BEHOLDER_SYSCALL_RETVAL: Final = "beholder.syscall.retval"
# Kernel thread id (TID) in the host pid namespace, set when the calling thread is not the thread-group
# leader (OpenTelemetry's thread.id is a runtime-managed id, not the TID).
BEHOLDER_THREAD_TID: Final = "beholder.thread.tid"
# Address of the peer an accept() returned.
CLIENT_ADDRESS: Final = "client.address"
# Port of the peer an accept() returned.
CLIENT_PORT: Final = "client.port"
# Container id.
CONTAINER_ID: Final = "container.id"
# Image id (config digest) the runtime reports.
CONTAINER_IMAGE_ID: Final = "container.image.id"
# Image name without tag or digest.
CONTAINER_IMAGE_NAME: Final = "container.image.name"
# Repository digest of the image reference (name@sha256:...).
CONTAINER_IMAGE_REPO_DIGESTS: Final = "container.image.repo_digests"
# Image tag the container was started from.
CONTAINER_IMAGE_TAGS: Final = "container.image.tags"
# Container name from the runtime, for containers outside a pod.
CONTAINER_NAME: Final = "container.name"
# Container runtime managing the container.
CONTAINER_RUNTIME_NAME: Final = "container.runtime.name"
# Name asked in an outgoing DNS question, as sent (with the trailing dot).
DNS_QUESTION_NAME: Final = "dns.question.name"
# Errno name of a failed syscall (an open enum, as upstream declares it).
ERROR_TYPE: Final = "error.type"
# New group gid requested by the chown family.
FILE_GROUP_ID: Final = "file.group.id"
# Mode bits in octal, for creat/open with O_CREAT and the chmod family.
FILE_MODE: Final = "file.mode"
# New owner uid requested by the chown family.
FILE_OWNER_ID: Final = "file.owner.id"
# Path the syscall named, as the process passed it.
FILE_PATH: Final = "file.path"
# Target a symlink/symlinkat call points the new link at.
FILE_SYMBOLIC_LINK_TARGET_PATH: Final = "file.symbolic_link.target_path"
# Host name of the observing node (KubeArmor's HostName).
HOST_NAME: Final = "host.name"
# Cluster name (KubeArmor's ClusterName); only when given with `--cluster-name`.
K8S_CLUSTER_NAME: Final = "k8s.cluster.name"
# Container name from the pod spec.
K8S_CONTAINER_NAME: Final = "k8s.container.name"
# Owning CronJob.
K8S_CRONJOB_NAME: Final = "k8s.cronjob.name"
# Owning DaemonSet.
K8S_DAEMONSET_NAME: Final = "k8s.daemonset.name"
# Owning Deployment.
K8S_DEPLOYMENT_NAME: Final = "k8s.deployment.name"
# Owning Job.
K8S_JOB_NAME: Final = "k8s.job.name"
# Namespace of the pod.
K8S_NAMESPACE_NAME: Final = "k8s.namespace.name"
# Kubernetes node name; only when known (`--node-name`, NODE_NAME, or the pod watcher on).
K8S_NODE_NAME: Final = "k8s.node.name"
# One attribute per pod label, `k8s.pod.label.<key>`.
K8S_POD_LABEL: Final = "k8s.pod.label"
# Pod name.
K8S_POD_NAME: Final = "k8s.pod.name"
# Pod uid.
K8S_POD_UID: Final = "k8s.pod.uid"
# Owning ReplicaSet, when no Deployment owns it.
K8S_REPLICASET_NAME: Final = "k8s.replicaset.name"
# Owning StatefulSet.
K8S_STATEFULSET_NAME: Final = "k8s.statefulset.name"
# TCP state a socket moved to (inet_sock_set_state).
NETWORK_CONNECTION_STATE: Final = "network.connection.state"
# Local address of a bind or a TCP state change.
NETWORK_LOCAL_ADDRESS: Final = "network.local.address"
# Local port of a bind or a TCP state change.
NETWORK_LOCAL_PORT: Final = "network.local.port"
# Remote address of a connection or datagram (IP, or path for a unix socket).
NETWORK_PEER_ADDRESS: Final = "network.peer.address"
# Remote port.
NETWORK_PEER_PORT: Final = "network.peer.port"
# Application protocol the event speaks (`dns` for a DNS question).
NETWORK_PROTOCOL_NAME: Final = "network.protocol.name"
# Transport, from the socket type (stream/datagram) or the address family.
NETWORK_TRANSPORT: Final = "network.transport"
# IP version, from the socket's address family.
NETWORK_TYPE: Final = "network.type"
# Argument vector of an exec, including argv[0].
PROCESS_COMMAND_ARGS: Final = "process.command_args"
# Full command line of the process as one string (from /proc/<pid>/cmdline).
PROCESS_COMMAND_LINE: Final = "process.command_line"
# When the process started (ISO 8601, UTC), from the fork or exec the agent saw.
PROCESS_CREATION_TIME: Final = "process.creation.time"
# Base name of the process executable; for an exec event, of the program just executed.
PROCESS_EXECUTABLE_NAME: Final = "process.executable.name"
# Full path of the process executable; for an exec event, the program just executed.
PROCESS_EXECUTABLE_PATH: Final = "process.executable.path"
# Exit code of the process (low byte of exit_group's argument).
PROCESS_EXIT_CODE: Final = "process.exit.code"
# The process has a controlling terminal (/proc/<pid>/stat tty_nr at its exec or first sight, inherited at
# fork); absent when the agent could not read it.
PROCESS_INTERACTIVE: Final = "process.interactive"
# The process's cgroup as /proc/<pid>/cgroup spells it on a cgroup v2 host, from the cgroup id of its
# latest event.
PROCESS_LINUX_CGROUP: Final = "process.linux.cgroup"
# Parent process id in the host's pid namespace.
PROCESS_PARENT_PID: Final = "process.parent_pid"
# Process id (thread-group id) in the host's pid namespace.
PROCESS_PID: Final = "process.pid"
# Real user id of the calling thread at the time of the event (bpf_get_current_uid_gid).
PROCESS_REAL_USER_ID: Final = "process.real_user.id"
# Effective user id of the process: as /proc showed it at its exec (set-user-ID programs differ from
# process.real_user.id), then as the set*uid calls the agent saw changed it; absent when the agent could
# not read it.
PROCESS_USER_ID: Final = "process.user.id"
# Process id inside the process's own pid namespace (the container's view).
PROCESS_VPID: Final = "process.vpid"
# Current working directory of the process.
PROCESS_WORKING_DIRECTORY: Final = "process.working_directory"
# MITRE ATT&CK / NIST classification, comma-separated: a policy's tags, or a profile rule's tactic and
# technique.
SECURITY_RULE_CATEGORY: Final = "security_rule.category"
# The rule's message (KubeArmor `Message`).
SECURITY_RULE_DESCRIPTION: Final = "security_rule.description"
# Rule name (KubeArmor policy name, Kubescape rule name).
SECURITY_RULE_NAME: Final = "security_rule.name"
# The ATT&CK page of the first technique the rule names.
SECURITY_RULE_REFERENCE: Final = "security_rule.reference"
# What the rule belongs to: the KubeArmor policy's name, or the behaviour profile a Kubescape rule judged
# against (`kubescape` when the rule needs none).
SECURITY_RULE_RULESET_NAME: Final = "security_rule.ruleset.name"
# UUIDv5 of the rule's identity (`<source>/<rule id>`: the KubeArmor policy name or the Kubescape rule
# id), the same on every agent; the rule id itself is `security_rule.name` or `beholder.alert.extra.*`.
SECURITY_RULE_UUID: Final = "security_rule.uuid"
# Address a process connected to (connect) or sent a DNS question to.
SERVER_ADDRESS: Final = "server.address"
# Port a process connected to.
SERVER_PORT: Final = "server.port"
# UUIDv5 of the machine id and node name: the same agent on the same node keeps it across restarts, so
# logs, metrics and traces of one agent join on it.
SERVICE_INSTANCE_ID: Final = "service.instance.id"
# Always `beholder` unless OTEL_SERVICE_NAME overrides it.
SERVICE_NAME: Final = "service.name"
# Beholder version.
SERVICE_VERSION: Final = "service.version"
# Always `beholder`, the distribution that encodes the records.
TELEMETRY_DISTRO_NAME: Final = "telemetry.distro.name"
# Beholder version.
TELEMETRY_DISTRO_VERSION: Final = "telemetry.distro.version"
# Language of the SDK.
TELEMETRY_SDK_LANGUAGE: Final = "telemetry.sdk.language"
# The OpenTelemetry SDK behind the metrics (logs and traces are encoded by Beholder itself).
TELEMETRY_SDK_NAME: Final = "telemetry.sdk.name"
# Version of the OpenTelemetry SDK.
TELEMETRY_SDK_VERSION: Final = "telemetry.sdk.version"
# Kernel task name (comm) of the calling thread, at most 15 bytes.
THREAD_NAME: Final = "thread.name"

# --- events ---

EVENT_PROCESS_EXEC: Final = "beholder.process.exec"
EVENT_PROCESS_FORK: Final = "beholder.process.fork"
EVENT_PROCESS_EXIT: Final = "beholder.process.exit"
EVENT_FILE_OPEN: Final = "beholder.file.open"
EVENT_FILE_UNLINK: Final = "beholder.file.unlink"
EVENT_FILE_RENAME: Final = "beholder.file.rename"
EVENT_FILE_CHMOD: Final = "beholder.file.chmod"
EVENT_FILE_CHOWN: Final = "beholder.file.chown"
EVENT_FILE_LINK: Final = "beholder.file.link"
EVENT_FILE_CHDIR: Final = "beholder.file.chdir"
EVENT_NETWORK_SOCKET: Final = "beholder.network.socket"
EVENT_NETWORK_CONNECT: Final = "beholder.network.connect"
EVENT_NETWORK_BIND: Final = "beholder.network.bind"
EVENT_NETWORK_LISTEN: Final = "beholder.network.listen"
EVENT_NETWORK_ACCEPT: Final = "beholder.network.accept"
EVENT_NETWORK_TCP_STATE: Final = "beholder.network.tcp_state"
EVENT_NETWORK_DNS: Final = "beholder.network.dns"
EVENT_SYSCALL_CREDENTIALS: Final = "beholder.syscall.credentials"
EVENT_SYSCALL_PTRACE: Final = "beholder.syscall.ptrace"
EVENT_SYSCALL_MOUNT: Final = "beholder.syscall.mount"
EVENT_SYSCALL_NAMESPACE: Final = "beholder.syscall.namespace"
EVENT_SYSCALL_SIGNAL: Final = "beholder.syscall.signal"
EVENT_SYSCALL_BPF: Final = "beholder.syscall.bpf"
EVENT_SYSCALL_MODULE: Final = "beholder.syscall.module"
EVENT_SYSCALL_MEMFD: Final = "beholder.syscall.memfd"
EVENT_SYSCALL_IO_URING: Final = "beholder.syscall.io_uring"
EVENT_SYSCALL_OTHER: Final = "beholder.syscall.other"
EVENT_CAPABILITY_CHECK: Final = "beholder.capability.check"
EVENT_POLICY_ALERT: Final = "beholder.policy.alert"
EVENT_PROFILE_ANOMALY: Final = "beholder.profile.anomaly"
EVENT_AGENT_LOSS: Final = "beholder.agent.loss"

# --- metrics ---

METRIC_EVENT_COUNT: Final = "beholder.event.count"
METRIC_ALERT_COUNT: Final = "beholder.alert.count"
METRIC_EVENT_LOST: Final = "beholder.event.lost"
METRIC_EVENT_SUPPRESSED: Final = "beholder.event.suppressed"
METRIC_EXPORT_QUEUE_USAGE: Final = "beholder.export.queue.usage"
METRIC_EXPORT_QUEUE_LIMIT: Final = "beholder.export.queue.limit"
METRIC_EXPORT_SPOOL_USAGE: Final = "beholder.export.spool.usage"
METRIC_EXPORT_SPOOL_LIMIT: Final = "beholder.export.spool.limit"
METRIC_PIPELINE_DURATION: Final = "beholder.pipeline.duration"
METRIC_SUMMARY_EVENT_COUNT: Final = "beholder.summary.event.count"

# Declared value type of every attribute (a template's type is its values' type).

ATTRIBUTE_TYPES: Final[dict[str, str]] = {
    "beholder.alert.extra": "string",
    "beholder.alert.severity": "int",
    "beholder.alert.source": "string",
    "beholder.capability.name": "string",
    "beholder.cgroup.id": "int",
    "beholder.dns.question.type": "string",
    "beholder.event.repeat_count": "int",
    "beholder.event.truncated": "boolean",
    "beholder.file.new_path": "string",
    "beholder.file.open.flags": "string",
    "beholder.k8s.service_account.name": "string",
    "beholder.loss.count": "int",
    "beholder.loss.interval": "double",
    "beholder.loss.total": "int",
    "beholder.network.address_family": "string",
    "beholder.network.connection.previous_state": "string",
    "beholder.network.socket.type": "string",
    "beholder.operation": "string",
    "beholder.policy.action": "string",
    "beholder.policy.enforcer": "string",
    "beholder.policy.type": "string",
    "beholder.process.child_pid": "int",
    "beholder.process.entity_id": "string",
    "beholder.process.exit_unseen": "boolean",
    "beholder.process.parent.executable.path": "string",
    "beholder.process.parent_vpid": "int",
    "beholder.process.real_group.id": "int",
    "beholder.process.running": "boolean",
    "beholder.reason": "string",
    "beholder.resource": "string",
    "beholder.rule.id": "string",
    "beholder.rule.tags": "string[]",
    "beholder.stage": "string",
    "beholder.summary.table": "string",
    "beholder.syscall.arg": "string",
    "beholder.syscall.arg.backlog": "int",
    "beholder.syscall.arg.cmd": "int",
    "beholder.syscall.arg.entries": "int",
    "beholder.syscall.arg.fd": "int",
    "beholder.syscall.arg.flags": "int",
    "beholder.syscall.arg.groupid": "int",
    "beholder.syscall.arg.newfd": "int",
    "beholder.syscall.arg.pid": "int",
    "beholder.syscall.arg.protocol": "int",
    "beholder.syscall.arg.request": "int",
    "beholder.syscall.arg.sig": "int",
    "beholder.syscall.arg.tid": "int",
    "beholder.syscall.arg.userid": "int",
    "beholder.syscall.name": "string",
    "beholder.syscall.result": "string",
    "beholder.syscall.retval": "int",
    "beholder.thread.tid": "int",
    "client.address": "string",
    "client.port": "int",
    "container.id": "string",
    "container.image.id": "string",
    "container.image.name": "string",
    "container.image.repo_digests": "string[]",
    "container.image.tags": "string[]",
    "container.name": "string",
    "container.runtime.name": "string",
    "dns.question.name": "string",
    "error.type": "string",
    "file.group.id": "string",
    "file.mode": "string",
    "file.owner.id": "string",
    "file.path": "string",
    "file.symbolic_link.target_path": "string",
    "host.name": "string",
    "k8s.cluster.name": "string",
    "k8s.container.name": "string",
    "k8s.cronjob.name": "string",
    "k8s.daemonset.name": "string",
    "k8s.deployment.name": "string",
    "k8s.job.name": "string",
    "k8s.namespace.name": "string",
    "k8s.node.name": "string",
    "k8s.pod.label": "string",
    "k8s.pod.name": "string",
    "k8s.pod.uid": "string",
    "k8s.replicaset.name": "string",
    "k8s.statefulset.name": "string",
    "network.connection.state": "string",
    "network.local.address": "string",
    "network.local.port": "int",
    "network.peer.address": "string",
    "network.peer.port": "int",
    "network.protocol.name": "string",
    "network.transport": "string",
    "network.type": "string",
    "process.command_args": "string[]",
    "process.command_line": "string",
    "process.creation.time": "string",
    "process.executable.name": "string",
    "process.executable.path": "string",
    "process.exit.code": "int",
    "process.interactive": "boolean",
    "process.linux.cgroup": "string",
    "process.parent_pid": "int",
    "process.pid": "int",
    "process.real_user.id": "int",
    "process.user.id": "int",
    "process.vpid": "int",
    "process.working_directory": "string",
    "security_rule.category": "string",
    "security_rule.description": "string",
    "security_rule.name": "string",
    "security_rule.reference": "string",
    "security_rule.ruleset.name": "string",
    "security_rule.uuid": "string",
    "server.address": "string",
    "server.port": "int",
    "service.instance.id": "string",
    "service.name": "string",
    "service.version": "string",
    "telemetry.distro.name": "string",
    "telemetry.distro.version": "string",
    "telemetry.sdk.language": "string",
    "telemetry.sdk.name": "string",
    "telemetry.sdk.version": "string",
    "thread.name": "string",
}
TEMPLATE_PREFIXES: Final = frozenset(
    {
        "beholder.alert.extra",
        "beholder.syscall.arg",
        "k8s.pod.label",
    }
)
ENUM_VALUES: Final[dict[str, frozenset[str]]] = {
    "beholder.alert.source": frozenset(
        {
            "policy",
            "profile",
        }
    ),
    "beholder.operation": frozenset(
        {
            "process",
            "file",
            "network",
            "syscall",
            "capabilities",
        }
    ),
    "beholder.policy.action": frozenset(
        {
            "allow",
            "audit",
            "block",
        }
    ),
    "beholder.stage": frozenset(
        {
            "ringbuf",
            "handover",
            "decode",
            "export_queue",
            "export",
            "spool",
            "output",
        }
    ),
    "network.connection.state": frozenset(
        {
            "closed",
            "close_wait",
            "closing",
            "established",
            "fin_wait_1",
            "fin_wait_2",
            "last_ack",
            "listen",
            "syn_received",
            "syn_sent",
            "time_wait",
        }
    ),
    "network.transport": frozenset(
        {
            "tcp",
            "udp",
            "unix",
        }
    ),
    "network.type": frozenset(
        {
            "ipv4",
            "ipv6",
        }
    ),
    "telemetry.sdk.language": frozenset(
        {
            "python",
        }
    ),
}
ALERT_EVENT_BY_SOURCE: Final[dict[str, str]] = {
    "policy": "beholder.policy.alert",
    "profile": "beholder.profile.anomaly",
}

# Metric name -> (instrument, unit).
METRICS: Final[dict[str, tuple[str, str]]] = {
    "beholder.event.count": ("counter", "{event}"),
    "beholder.alert.count": ("counter", "{alert}"),
    "beholder.event.lost": ("counter", "{event}"),
    "beholder.event.suppressed": ("counter", "{event}"),
    "beholder.export.queue.usage": ("updowncounter", "{record}"),
    "beholder.export.queue.limit": ("updowncounter", "{record}"),
    "beholder.export.spool.usage": ("updowncounter", "By"),
    "beholder.export.spool.limit": ("updowncounter", "By"),
    "beholder.pipeline.duration": ("histogram", "s"),
    "beholder.summary.event.count": ("counter", "{event}"),
}
