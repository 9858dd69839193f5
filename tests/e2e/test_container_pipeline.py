"""One real pipeline end to end: a runc container whose cgroup matches a pod served by a
(recorded-shape) Kubernetes API, KubeArmor policies evaluated inline, and the result checked
at a real OTLP/gRPC receiver and in the KubeArmor JSON output.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord
from otel_export.receiver import Collector, GrpcReceiver

from conftest import require
from support import runc
from support.agent_process import AgentProcess
from support.kernel import kernel_ready
from tests.k8s.fakeapi import NODE, FakeKubeApi, make_pod

pytestmark = pytest.mark.kernel

POLICIES = """
apiVersion: security.kubearmor.com/v1
kind: KubeArmorPolicy
metadata: {name: audit-cat, namespace: shop}
spec:
  selector: {matchLabels: {app.kubernetes.io/name: web}}
  severity: 4
  tags: [MITRE, T1005]
  message: cat ran in the web pod
  process:
    matchPaths: [{path: /bin/cat}]
  action: Audit
---
apiVersion: security.kubearmor.com/v1
kind: KubeArmorPolicy
metadata: {name: block-etc-writes, namespace: shop}
spec:
  selector: {matchLabels: {app.kubernetes.io/name: web}}
  severity: 7
  file:
    matchDirectories: [{dir: /etc/, recursive: true, readOnly: true}]
  action: Block
---
apiVersion: security.kubearmor.com/v1
kind: KubeArmorPolicy
metadata: {name: allow-known-tools, namespace: shop}
spec:
  selector: {matchLabels: {app.kubernetes.io/name: web}}
  process:
    matchPaths: [{path: /bin/sh}, {path: /bin/sleep}, {path: /bin/cat}, {path: /bin/echo}]
  action: Allow
"""


def attrs(record: LogRecord) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for kv in record.attributes:
        value = kv.value
        kind = value.WhichOneof("value")
        out[kv.key] = list(value.array_value.values) if kind == "array_value" else getattr(value, kind)
    return out


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    ok, why = kernel_ready()
    require(ok, why)
    require(runc.BUSYBOX.exists(), "busybox-static not installed")
    tmp = tmp_path_factory.mktemp("e2e")
    (tmp / "policies").mkdir()
    (tmp / "policies" / "web.yaml").write_text(POLICIES)
    marker = uuid.uuid4().hex[:12]
    # Absolute paths: busybox sh would otherwise run applets through /proc/self/exe.
    script = (
        f"/bin/sleep 1; /bin/cat /etc/hostname; /bin/echo {marker} > /etc/motd; /bin/ls /; /bin/sleep 0.5"
    )
    ctr = runc.make_bundle(tmp / "bundle", ["/bin/sh", "-c", script])
    cgroup_id = runc.precreate_cgroup(ctr)  # trace this container only: exact books on a busy host
    collector = Collector()
    with FakeKubeApi([make_pod(ctr.container_id, ctr.pod_uid)], "100") as api, GrpcReceiver(collector) as rx:
        env = {
            "OTEL_EXPORTER_OTLP_ENDPOINT": rx.url,
            "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
            "OTEL_RESOURCE_ATTRIBUTES": "deployment.environment.name=e2e",
        }
        agent = AgentProcess(
            tmp,
            ["--policy", str(tmp / "policies"), "--k8s-api-url", api.url, "--node-name", NODE,
             "--cluster-name", "e2e-cluster", "--spool-dir", str(tmp / "spool"),
             "--cgroup-id", str(cgroup_id),
             "--no-alert-throttling"],  # every alert is checked here; throttling has its own test
            outputs=("kubearmor", "json", "otlp"),
            env=env,
        ).start()  # fmt: skip
        result = runc.run(ctr)
        assert result.returncode == 0, result.stderr.decode()
        agent.wait_for(lambda r: r.get("PolicyName") == "DefaultPosture", output="kubearmor")
        stats = agent.stop()
        yield {"agent": agent, "ctr": ctr, "collector": collector, "stats": stats, "marker": marker}


def test_container_events_carry_pod_identity(pipeline: dict[str, Any]) -> None:
    ctr, agent = pipeline["ctr"], pipeline["agent"]
    mine = [r for r in agent.by_output["kubearmor"] if r.get("ContainerID") == ctr.container_id]
    assert mine, "no KubeArmor records for the container"
    first_exec = next(r for r in mine if r["Operation"] == "Process" and r.get("ProcessName") == "/bin/sh")
    assert first_exec["PodName"] == "web-7d9c6b5f8d-e2e01"
    assert first_exec["NamespaceName"] == "shop"
    assert first_exec["ContainerName"] == "nginx"
    assert first_exec["ContainerImage"].startswith("docker.io/library/nginx:1.27")
    assert "app.kubernetes.io/name=web" in first_exec["Labels"]
    assert first_exec["Owner"] == {"Ref": "Deployment", "Name": "web", "Namespace": "shop"}
    assert first_exec["ClusterName"] == "e2e-cluster"
    native = [
        r
        for r in agent.by_output["json"]
        if r["container"] and r["container"]["container_id"] == ctr.container_id
    ]
    assert native and native[0]["container"]["pod_uid"] == ctr.pod_uid
    assert native[0]["container"]["service_account"] == "web"


def test_policy_alerts_match_kubearmor_semantics(pipeline: dict[str, Any]) -> None:
    ctr, agent = pipeline["ctr"], pipeline["agent"]
    alerts = [
        r
        for r in agent.by_output["kubearmor"]
        if "PolicyName" in r and r.get("ContainerID") == ctr.container_id
    ]
    by_policy: dict[str, list[dict[str, Any]]] = {}
    for alert in alerts:
        by_policy.setdefault(alert["PolicyName"], []).append(alert)

    audit = by_policy["audit-cat"][0]
    assert (audit["Action"], audit["Type"], audit["Severity"]) == ("Audit", "MatchedPolicy", "4")
    assert audit["Tags"] == "MITRE,T1005" and audit["Message"] == "cat ran in the web pod"
    assert audit["ProcessName"] == "/bin/cat" and audit["Result"] == "Passed"

    write = next(a for a in by_policy["block-etc-writes"] if a.get("Resource") == "/etc/motd")
    # This kernel refuses BPF-LSM: a Block rule is reported, never claimed.
    assert write["Action"] == "Audit (Block)" and write["Result"] == "Passed"
    assert write["Enforcer"] == "eBPF Monitor"

    posture = [a for a in by_policy["DefaultPosture"] if a["Operation"] == "Process"]
    assert "/bin/ls" in {a.get("ProcessName") for a in posture}
    allowed = {"/bin/sh", "/bin/sleep", "/bin/cat", "/bin/echo"}
    hit = {a.get("ProcessName") for a in posture}
    assert not allowed & hit, "allow-listed execs must not hit the posture"
    assert "Severity" not in posture[0]


def test_otlp_receiver_gets_events_and_alerts_with_semconv_attributes(pipeline: dict[str, Any]) -> None:
    ctr, collector = pipeline["ctr"], pipeline["collector"]
    records = collector.records()
    assert records, "nothing reached the OTLP receiver"
    resource = {
        kv.key: kv.value.string_value for kv in collector.logs[0].resource_logs[0].resource.attributes
    }
    assert resource["service.name"] == "beholder"
    assert resource["k8s.cluster.name"] == "e2e-cluster"
    assert resource["deployment.environment.name"] == "e2e"
    ours = [(r, attrs(r)) for r in records if attrs(r).get("container.id") == ctr.container_id]
    execs = [(r, a) for r, a in ours if r.event_name == "beholder.process.exec"]
    assert execs, f"no exec records; event names: {sorted({r.event_name for r, _ in ours})}"
    _, first = execs[0]
    assert first["k8s.pod.name"] == "web-7d9c6b5f8d-e2e01"
    assert first["k8s.namespace.name"] == "shop"
    assert first["k8s.pod.uid"] == ctr.pod_uid
    assert first["k8s.container.name"] == "nginx"
    assert first["k8s.deployment.name"] == "web"
    assert execs[0][0].time_unix_nano > 1_600_000_000 * 10**9, "timestamps must be in nanoseconds"
    alerts = [(r, a) for r, a in ours if r.event_name == "beholder.policy.alert"]
    names = {a["security_rule.name"] for _, a in alerts}
    assert {"audit-cat", "block-etc-writes", "DefaultPosture"} <= names
    audit = next((r, a) for r, a in alerts if a["security_rule.name"] == "audit-cat")
    assert audit[0].severity_number > 9, "alerts are more severe than INFO telemetry"


def test_books_balance_through_the_whole_pipeline(pipeline: dict[str, Any]) -> None:
    stats = pipeline["stats"]
    kernel, agent = stats["kernel"], stats["agent"]
    assert kernel["seen"] == kernel["emitted"] + kernel["suppressed"] + kernel["lost"]
    assert agent["records"] == kernel["emitted"] and agent["decode_errors"] == 0
    assert stats["kubernetes"]["enabled"] and stats["kubernetes"]["connected"] in (True, False)
    exported = len(pipeline["collector"].records())
    spooled = stats["sinks"]["OtlpSink"]["pending_records"]  # not sent before the close deadline
    # On a Kubernetes node host telemetry is off by default (KubeArmor's hostVisibility): the
    # container's events from before its cgroup is attributed are evaluated, counted, not sent.
    assert exported + spooled == agent["decoded"] - agent["hidden"] + agent["alerts"], (
        "every event and alert is exported, spooled or (evaluated but invisible) counted"
    )
