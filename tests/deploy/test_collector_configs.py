"""Collector configs: wired end to end, and made only of contrib-distribution components."""

from __future__ import annotations

import pytest

from beholder.otel.semconv_gen import load_registry
from conftest import ROOT
from tests.deploy.collector import load, merged, required_env, unknown_types, wiring_problems
from tests.deploy.contrib_components import MODULES, TYPES

CONFIG_DIR = ROOT / "collector-config"
# Each way a config is meant to be run: the files given to `otelcol-contrib --config`, in order.
RUNS = (
    ("agent.yaml",),
    ("agent.yaml", "loki-labels.yaml"),
    ("gateway.yaml",),
    ("vendors/elastic.yaml",),
    ("vendors/splunk-hec.yaml",),
    ("vendors/datadog.yaml",),
)
# loki-labels.yaml is a fragment; alone it is not a config.
FRAGMENTS = {"loki-labels.yaml"}
LOKI_LABEL_KEYS = ["k8s.namespace.name", "k8s.pod.name"]


def run_config(files: tuple[str, ...]) -> dict:
    return merged(load(CONFIG_DIR / name) for name in files)


def run_id(files: tuple[str, ...]) -> str:
    return "+".join(files)


def test_every_config_file_is_part_of_a_checked_run() -> None:
    files = {str(p.relative_to(CONFIG_DIR)) for p in CONFIG_DIR.rglob("*.yaml")} - {"kustomization.yaml"}
    assert files == {name for run in RUNS for name in run}


@pytest.mark.parametrize("files", RUNS, ids=run_id)
def test_every_pipeline_is_wired_end_to_end(files: tuple[str, ...]) -> None:
    assert wiring_problems(run_config(files)) == []


@pytest.mark.parametrize("files", RUNS, ids=run_id)
def test_every_component_type_is_in_the_contrib_distribution(files: tuple[str, ...]) -> None:
    assert unknown_types(run_config(files)) == []


@pytest.mark.parametrize("files", RUNS, ids=run_id)
def test_memory_limiter_runs_first_and_batch_last_in_every_pipeline(files: tuple[str, ...]) -> None:
    for name, pipeline in run_config(files)["service"]["pipelines"].items():
        processors = pipeline["processors"]
        assert processors[0] == "memory_limiter", name
        assert processors[-1] == "batch", name


@pytest.mark.parametrize("files", RUNS, ids=run_id)
def test_logs_metrics_and_traces_each_have_a_pipeline(files: tuple[str, ...]) -> None:
    signals = {name.split("/", 1)[0] for name in run_config(files)["service"]["pipelines"]}
    assert signals == {"logs", "metrics", "traces"}


def test_fragment_alone_is_not_a_complete_config() -> None:
    # Proves the wiring check bites: the recipe names processors only agent.yaml defines.
    problems = wiring_problems(load(CONFIG_DIR / "loki-labels.yaml"))
    assert "pipeline logs: processor memory_limiter is not defined" in problems


@pytest.mark.parametrize(
    ("config", "problem"),
    [
        (
            {
                "receivers": {"otlp": {}},
                "exporters": {"debug": {}, "otlphttp": {}},
                "service": {"pipelines": {"logs": {"receivers": ["otlp"], "exporters": ["otlphttp"]}}},
            },
            "exporter debug is defined but used by no pipeline",
        ),
        (
            {
                "receivers": {"otlp": {}},
                "service": {"pipelines": {"logs": {"receivers": ["otlp"], "exporters": ["otlphttp"]}}},
            },
            "pipeline logs: exporter otlphttp is not defined",
        ),
        (
            {"receivers": {"otlp": {}}, "service": {"pipelines": {"logs": {"receivers": ["otlp"]}}}},
            "pipeline logs: no exporters",
        ),
    ],
    ids=["unused-exporter", "undefined-exporter", "dead-end"],
)
def test_wiring_check_reports_each_kind_of_break(config: dict, problem: str) -> None:
    assert problem in wiring_problems(config)


def test_type_check_rejects_components_outside_the_distribution() -> None:
    config = {"exporters": {"loki": {}, "otlphttp/x": {}}}
    assert unknown_types(config) == ["exporter type 'loki' is not in the checked list"]


def test_every_checked_type_maps_to_a_module_in_the_manifest() -> None:
    assert [(kind, module) for (kind, _), module in TYPES.items() if module not in MODULES[kind]] == []


def test_loki_recipe_lifts_record_level_namespace_and_pod_to_the_resource() -> None:
    config = run_config(("agent.yaml", "loki-labels.yaml"))
    assert config["processors"]["groupbyattrs/loki-labels"]["keys"] == LOKI_LABEL_KEYS
    assert "groupbyattrs/loki-labels" in config["service"]["pipelines"]["logs"]["processors"]
    # The keys are real semconv attributes that Beholder puts on records, not on the resource;
    # that is why the recipe is needed at all.
    registry = load_registry(ROOT)
    resource = {ref.id for ref in registry.group("beholder.agent").refs}
    every_event = {ref.id for ref in registry.group("beholder.common").refs}
    for key in LOKI_LABEL_KEYS:
        assert key in registry.attributes
        assert key in every_event and key not in resource


def test_gateway_applies_the_same_loki_label_recipe() -> None:
    recipe = load(CONFIG_DIR / "loki-labels.yaml")["processors"]
    gateway = load(CONFIG_DIR / "gateway.yaml")
    assert gateway["processors"]["groupbyattrs/loki-labels"] == recipe["groupbyattrs/loki-labels"]
    assert "groupbyattrs/loki-labels" in gateway["service"]["pipelines"]["logs"]["processors"]


@pytest.mark.parametrize("files", RUNS, ids=run_id)
def test_backend_credentials_come_from_the_environment(files: tuple[str, ...]) -> None:
    # Secrets are never written into a config; MY_POD_IP is the listen address.
    assert required_env(run_config(files)) <= {
        "MY_POD_IP",
        "ELASTICSEARCH_API_KEY",
        "SPLUNK_HEC_TOKEN",
        "DD_API_KEY",
    }
