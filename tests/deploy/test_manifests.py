"""Kustomize overlays, rendered by `kubectl kustomize` and checked offline.

Schemas come from the kubernetes-validate package (strict: unknown fields fail), so no API
server or network is needed. Beyond the schema: the agent's privileges are exactly the
justified ones, and each overlay's agent really reaches the Collector it deploys.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import kubernetes_validate
import pytest
import yaml

from beholder.otel.config import from_env
from beholder.sources.cluster import RESOURCES as WATCHED
from conftest import ROOT
from tests.deploy.collector import load, merged, required_env, unknown_types, wiring_problems
from tests.deploy.conftest import OVERLAY_DIR, OVERLAYS
from tests.deploy.contrib_components import IMAGE
from tests.deploy.manifests import agent_pod, arg, container, env_of, find, one, pod_specs

# Oldest and newest Kubernetes minor versions the manifests must be valid for.
KUBERNETES_VERSIONS = ("1.28", kubernetes_validate.latest_version())
CAPABILITIES = {"BPF", "PERFMON", "SYS_RESOURCE", "SYS_PTRACE", "DAC_READ_SEARCH"}
# host path -> mounted read-only
HOST_PATHS = {
    "/sys/kernel/tracing": True,
    "/sys/kernel/debug": True,
    "/sys/fs/cgroup": True,
    "/sys/kernel/btf": True,
    "/sys/kernel/security": True,
    "/var/lib/beholder/spool": False,
    "/var/lib/beholder/bpf-cache": False,
}
WATCH_VERBS = {"list", "watch"}  # what a list+watch loop does, and nothing else
# Exactly the resources the agent watches: pods, and every kind its live sources watch.
RBAC_RESOURCES = {("", "pods")} | {(r.group, r.plural) for r in WATCHED}
CONFIG_MOUNT = "/conf"


def collector_config(docs: list[dict[str, Any]], pod_spec: dict[str, Any], c: dict[str, Any]) -> dict:
    """The config a Collector container runs: its --config files, from the mounted ConfigMap."""
    mount = next(m for m in c["volumeMounts"] if m["mountPath"] == CONFIG_MOUNT)
    volume = next(v for v in pod_spec["volumes"] if v["name"] == mount["name"])
    data = one(docs, "ConfigMap", volume["configMap"]["name"])["data"]
    files = [path.removeprefix(f"{CONFIG_MOUNT}/") for path in arg(c, "--config")]
    assert files and all(f in data for f in files), files
    return merged(_parse(data[f]) for f in files)


def _parse(text: str) -> dict:
    return yaml.safe_load(text)


def collectors(docs: list[dict[str, Any]]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    return [
        (spec, c) for spec in pod_specs(docs) for c in spec["containers"] if c["name"] == "otel-collector"
    ]


def test_every_overlay_is_rendered_and_checked() -> None:
    assert sorted(p.name for p in OVERLAY_DIR.iterdir() if p.is_dir()) == sorted(OVERLAYS)


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_is_valid_against_the_kubernetes_schema(rendered: dict, overlay: str, version: str) -> None:
    problems = []
    for doc in rendered[overlay]:
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            problems.append(f"{doc['kind']}/{doc['metadata']['name']}: {exc.message}")
    assert problems == []


def test_schema_check_rejects_a_misspelt_field(rendered: dict) -> None:
    daemonset = one(rendered["agent-only"], "DaemonSet", "beholder")
    broken = {**daemonset, "spec": {**daemonset["spec"], "updateStrategey": {}}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSIONS[0], strict=True)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_no_container_is_privileged_or_may_escalate(rendered: dict, overlay: str) -> None:
    for spec in pod_specs(rendered[overlay]):
        for c in spec["containers"]:
            context = c["securityContext"]
            assert context.get("privileged", False) is False, c["name"]
            assert context["allowPrivilegeEscalation"] is False, c["name"]
            assert context["capabilities"]["drop"] == ["ALL"], c["name"]
            assert context["readOnlyRootFilesystem"] is True, c["name"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_agent_adds_exactly_the_justified_capabilities(rendered: dict, overlay: str) -> None:
    agent = container(agent_pod(rendered[overlay])["spec"], "agent")
    assert set(agent["securityContext"]["capabilities"]["add"]) == CAPABILITIES
    for _, c in collectors(rendered[overlay]):
        assert "add" not in c["securityContext"]["capabilities"]
        assert c["securityContext"]["runAsNonRoot"] is True


def test_each_capability_is_justified_beside_it_and_in_the_readme() -> None:
    lines = (ROOT / "deploy/kustomize/base/daemonset.yaml").read_text().splitlines()
    readme = (ROOT / "deploy/README.md").read_text()
    for cap in CAPABILITIES:
        index = next(i for i, line in enumerate(lines) if line.strip() == f"- {cap}")
        assert lines[index - 1].strip().startswith("#"), f"{cap} has no comment above it"
        assert re.search(rf"^\| `{cap}` \| \S", readme, re.M), f"{cap} missing from the README table"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_host_paths_are_the_expected_ones_and_read_only_where_claimed(rendered: dict, overlay: str) -> None:
    spec = agent_pod(rendered[overlay])["spec"]
    host_volumes = {v["name"]: v["hostPath"]["path"] for v in spec["volumes"] if "hostPath" in v}
    assert set(host_volumes.values()) == set(HOST_PATHS)
    mounts = {m["name"]: m.get("readOnly", False) for c in spec["containers"] for m in c["volumeMounts"]}
    assert {path: mounts[name] for name, path in host_volumes.items()} == HOST_PATHS
    for spec in pod_specs(rendered[overlay]):
        for c in spec["containers"]:
            if c["name"] != "agent":
                assert not {m["name"] for m in c.get("volumeMounts", [])} & set(host_volumes)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_agent_shares_only_the_host_pid_namespace(rendered: dict, overlay: str) -> None:
    spec = agent_pod(rendered[overlay])["spec"]
    assert spec["hostPID"] is True
    assert not spec.get("hostNetwork") and not spec.get("hostIPC")


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_rbac_is_read_only_and_limited_to_what_the_agent_reads(rendered: dict, overlay: str) -> None:
    roles = find(rendered[overlay], "ClusterRole") + find(rendered[overlay], "Role")
    granted = set()
    for role in roles:
        for rule in role["rules"]:
            assert set(rule["verbs"]) == WATCH_VERBS, rule
            granted |= {(group, res) for group in rule["apiGroups"] for res in rule["resources"]}
    assert granted == RBAC_RESOURCES


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_role_is_bound_to_the_agents_service_account(rendered: dict, overlay: str) -> None:
    docs = rendered[overlay]
    daemonset = one(docs, "DaemonSet", "beholder")
    account = daemonset["spec"]["template"]["spec"]["serviceAccountName"]
    one(docs, "ServiceAccount", account)
    binding = one(docs, "ClusterRoleBinding", "beholder")
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": account, "namespace": daemonset["metadata"]["namespace"]}
    ]
    one(docs, "ClusterRole", binding["roleRef"]["name"])


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_node_name_comes_from_the_downward_api(rendered: dict, overlay: str) -> None:
    agent = container(agent_pod(rendered[overlay])["spec"], "agent")
    node = next(e for e in agent["env"] if e["name"] == "NODE_NAME")
    assert node["valueFrom"] == {"fieldRef": {"fieldPath": "spec.nodeName"}}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_probes_and_scraping_target_the_agents_metrics_address(rendered: dict, overlay: str) -> None:
    template = agent_pod(rendered[overlay])
    agent = container(template["spec"], "agent")
    (address,) = arg(agent, "--metrics-addr")
    port = int(address.rpartition(":")[2])
    ports = {p["name"]: p["containerPort"] for p in agent["ports"]}
    assert ports[agent["livenessProbe"]["httpGet"]["port"]] == port
    assert ports[agent["readinessProbe"]["httpGet"]["port"]] == port
    assert (agent["livenessProbe"]["httpGet"]["path"], agent["readinessProbe"]["httpGet"]["path"]) == (
        "/healthz",
        "/readyz",
    )
    assert template["metadata"]["annotations"]["prometheus.io/port"] == str(port)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_container_has_requests_and_limits(rendered: dict, overlay: str) -> None:
    for spec in pod_specs(rendered[overlay]):
        for c in spec["containers"]:
            assert set(c["resources"]["requests"]) == {"cpu", "memory"}, c["name"]
            assert set(c["resources"]["limits"]) == {"cpu", "memory"}, c["name"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_config_map_volumes_and_agent_inputs_resolve(rendered: dict, overlay: str) -> None:
    docs = rendered[overlay]
    for spec in pod_specs(docs):
        for volume in spec["volumes"]:
            if "configMap" in volume:
                one(docs, "ConfigMap", volume["configMap"]["name"])
    agent = container(agent_pod(docs)["spec"], "agent")
    mounted = {m["mountPath"] for m in agent["volumeMounts"]}
    for flag in ("--policy", "--profile"):
        (path,) = arg(agent, flag)
        assert path in mounted, f"{flag} names the mounted volume (its ..data swap reloads live)"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_pipeline_metrics_take_exactly_one_path_to_prometheus(rendered: dict, overlay: str) -> None:
    template = agent_pod(rendered[overlay])
    env = env_of(container(template["spec"], "agent"))
    pushed = bool(env.get("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_ENDPOINT"))
    scraped = template["metadata"]["annotations"]["prometheus.io/scrape"] == "true"
    assert pushed != scraped


def test_agent_only_sends_events_to_lokis_otlp_endpoint(rendered: dict) -> None:
    env = env_of(container(agent_pod(rendered["agent-only"])["spec"], "agent"))
    logs = from_env("logs", env)
    assert urlsplit(logs.endpoint).path == "/otlp/v1/logs"
    assert collectors(rendered["agent-only"]) == []


def _http_receiver_port(config: dict) -> tuple[str, int]:
    host, _, port = config["receivers"]["otlp"]["protocols"]["http"]["endpoint"].rpartition(":")
    return host, int(port)


def test_sidecar_agent_reaches_the_collector_in_its_pod(rendered: dict) -> None:
    docs = rendered["agent-with-collector-sidecar"]
    spec = agent_pod(docs)["spec"]
    endpoint = urlsplit(from_env("logs", env_of(container(spec, "agent"))).endpoint)
    config = collector_config(docs, spec, container(spec, "otel-collector"))
    host, port = _http_receiver_port(config)
    assert (endpoint.hostname, endpoint.port) == ("localhost", port)
    assert host == "127.0.0.1"


def test_gateway_agent_reaches_the_gateway_service(rendered: dict) -> None:
    docs = rendered["agent-to-gateway"]
    endpoint = urlsplit(from_env("logs", env_of(container(agent_pod(docs)["spec"], "agent"))).endpoint)
    service_name, namespace, *_ = endpoint.hostname.split(".")
    service = one(docs, "Service", service_name)
    assert service["metadata"]["namespace"] == namespace
    service_port = next(p for p in service["spec"]["ports"] if p["port"] == endpoint.port)
    deployment = next(
        d
        for d in find(docs, "Deployment")
        if d["spec"]["template"]["metadata"]["labels"].items() >= service["spec"]["selector"].items()
    )
    spec = deployment["spec"]["template"]["spec"]
    gateway = container(spec, "otel-collector")
    ports = {p["name"]: p["containerPort"] for p in gateway["ports"]}
    _, receiver_port = _http_receiver_port(collector_config(docs, spec, gateway))
    assert ports[service_port["targetPort"]] == receiver_port


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_collectors_run_the_pinned_image_with_configs_that_wire_up(rendered: dict, overlay: str) -> None:
    docs = rendered[overlay]
    for spec, c in collectors(docs):
        assert c["image"] == IMAGE
        config = collector_config(docs, spec, c)
        assert wiring_problems(config) == []
        assert unknown_types(config) == []
        assert required_env(config) <= {e["name"] for e in c["env"]}


def test_collector_config_map_holds_the_files_in_collector_config(rendered: dict) -> None:
    data = one(rendered["agent-to-gateway"], "ConfigMap", "beholder-collector")["data"]
    for name, text in data.items():
        assert _parse(text) == load(ROOT / "collector-config" / name)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_namespaced_object_lands_in_the_beholder_namespace(rendered: dict, overlay: str) -> None:
    cluster_scoped = {"Namespace", "ClusterRole", "ClusterRoleBinding"}
    placed = {
        f"{d['kind']}/{d['metadata']['name']}": d["metadata"].get("namespace")
        for d in rendered[overlay]
        if d["kind"] not in cluster_scoped
    }
    assert placed == dict.fromkeys(placed, "beholder")


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_only_the_agent_container_leaves_apparmor_confinement(rendered: dict, overlay: str) -> None:
    prefix = "container.apparmor.security.beta.kubernetes.io/"
    unconfined = {
        key.removeprefix(prefix)
        for doc in find(rendered[overlay], "DaemonSet") + find(rendered[overlay], "Deployment")
        for key, value in doc["spec"]["template"]["metadata"].get("annotations", {}).items()
        if key.startswith(prefix) and value == "unconfined"
    }
    assert unconfined == {"agent"}
