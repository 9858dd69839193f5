"""Collector config checks shared by the config and manifest tests.

`merge` follows the Collector's own rule for several `--config` files (maps merge key by key,
anything else is replaced), so a recipe fragment is checked exactly as the Collector sees it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from tests.deploy.contrib_components import MODULES, TYPES

KINDS = ("receivers", "processors", "exporters", "connectors", "extensions")
# ${env:NAME} needs NAME set; ${env:NAME:-default} does not.
ENV_REF = re.compile(r"\$\{env:([A-Za-z_][A-Za-z0-9_]*)(:-[^}]*)?\}")


def load(path: Path) -> dict[str, Any]:
    doc = yaml.safe_load(path.read_text())
    assert isinstance(doc, dict), f"{path}: not a mapping"
    return doc


def merge(base: Any, fragment: Any) -> Any:
    if isinstance(base, dict) and isinstance(fragment, dict):
        out = dict(base)
        for key, value in fragment.items():
            out[key] = merge(base[key], value) if key in base else value
        return out
    return fragment


def merged(configs: Iterable[dict[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for config in configs:
        result = merge(result, config)
    return result


def component_type(component_id: str) -> str:
    """`otlphttp/loki` is an instance of type `otlphttp`."""
    return component_id.split("/", 1)[0]


def wiring_problems(config: dict[str, Any]) -> list[str]:
    """Pipelines that name undefined components, components no pipeline uses, dead-end pipelines."""
    problems = []
    service = config.get("service") or {}
    pipelines = service.get("pipelines") or {}
    if not pipelines:
        problems.append("no pipelines")
    used: dict[str, set[str]] = {kind: set() for kind in KINDS}
    for name, pipeline in pipelines.items():
        for kind in ("receivers", "processors", "exporters"):
            for component in pipeline.get(kind) or []:
                used[kind].add(component)
                if component not in (config.get(kind) or {}):
                    problems.append(f"pipeline {name}: {kind[:-1]} {component} is not defined")
        for kind in ("receivers", "exporters"):
            if not pipeline.get(kind):
                problems.append(f"pipeline {name}: no {kind}")
    for extension in service.get("extensions") or []:
        used["extensions"].add(extension)
        if extension not in (config.get("extensions") or {}):
            problems.append(f"extension {extension} is not defined")
    for kind in ("receivers", "processors", "exporters", "extensions"):
        for component in config.get(kind) or {}:
            if component not in used[kind]:
                problems.append(f"{kind[:-1]} {component} is defined but used by no pipeline")
    return problems


def unknown_types(config: dict[str, Any]) -> list[str]:
    """Component types that are not (known to be) in the contrib distribution."""
    problems = []
    for kind in KINDS:
        for component in config.get(kind) or {}:
            module = TYPES.get((kind, component_type(component)))
            if module is None:
                problems.append(f"{kind[:-1]} type {component_type(component)!r} is not in the checked list")
            elif module not in MODULES[kind]:
                problems.append(f"{kind[:-1]} module {module} is not in the contrib manifest")
    return problems


def required_env(config: dict[str, Any]) -> set[str]:
    """Environment variables the config reads without a default."""
    return {name for name, default in ENV_REF.findall(yaml.safe_dump(config)) if not default}
