"""What every signal's resource and scope say about who emits it, identical on logs, metrics
and traces so a backend joins them: the conventions version, a stable instance id, the SDK.

`resource_attributes` adds OTEL_RESOURCE_ATTRIBUTES and OTEL_SERVICE_NAME as the SDK's
environment-variable spec says. `service.instance.id` is derived, not random: a restarted
agent on the same node is the same instance (its spool replays under it, its series
continue). The UUIDv5 namespace is the one the semantic conventions recommend for it.
"""

from __future__ import annotations

import functools
import logging
import os
import urllib.parse
import uuid
from collections.abc import Mapping
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from beholder import __version__
from beholder.events.interfaces import HostIdentity
from beholder.otel import semconv as sc

# The semantic-conventions release `semconv/registry/otel.yaml` follows (a test compares the
# registry with the pinned opentelemetry-semantic-conventions package of this version).
SCHEMA_URL = "https://opentelemetry.io/schemas/1.44.0"
SCOPE_NAME = "beholder"
INSTANCE_NAMESPACE = uuid.UUID("4d63009a-8d0f-11ee-aad7-4c796ed8e320")
MACHINE_ID_PATHS = (Path("/etc/machine-id"), Path("/var/lib/dbus/machine-id"))


def machine_id(paths: tuple[Path, ...] = MACHINE_ID_PATHS) -> str:
    """The host's machine id, or "" where there is none (a minimal container image)."""
    for path in paths:
        try:
            found = path.read_text(encoding="ascii", errors="replace").strip()
        except OSError:
            continue
        if found:
            return found
    return ""


def service_instance_id(host: HostIdentity, machine: str) -> str:
    """UUIDv5 of (machine id, node): stable across restarts, distinct per node."""
    return str(uuid.uuid5(INSTANCE_NAMESPACE, f"{machine}/{host.node_name or host.host_name}/beholder"))


def _sdk_version() -> str:
    try:
        return version("opentelemetry-sdk")
    except PackageNotFoundError:
        return ""


def identity_attributes(
    host: HostIdentity, machine_id_paths: tuple[Path, ...] = MACHINE_ID_PATHS
) -> dict[str, str]:
    """service.instance.id and the telemetry.* attributes every signal's resource carries."""
    attrs = {
        sc.SERVICE_INSTANCE_ID: service_instance_id(host, machine_id(machine_id_paths)),
        sc.TELEMETRY_SDK_NAME: "opentelemetry",
        sc.TELEMETRY_SDK_LANGUAGE: "python",
        sc.TELEMETRY_DISTRO_NAME: "beholder",
        sc.TELEMETRY_DISTRO_VERSION: __version__,
    }
    sdk = _sdk_version()
    if sdk:
        attrs[sc.TELEMETRY_SDK_VERSION] = sdk
    return attrs


def parse_resource_env(value: str) -> tuple[dict[str, str], list[str]]:
    """`k1=v1,k2=v2` with percent-encoded values (OTel SDK environment-variable spec).

    A broken entry is left out and named in the problems; the valid pairs are kept, as
    the Python SDK's own detector does.
    """
    out: dict[str, str] = {}
    problems: list[str] = []
    for item in value.split(","):
        if not item.strip():
            continue
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            problems.append(f"entry {item.strip()[:60]!r} is not key=value")
            continue
        try:
            out[key.strip()] = urllib.parse.unquote(raw.strip(), errors="strict")
        except UnicodeDecodeError as exc:
            problems.append(f"{key.strip()}: {exc.reason}")
    return out, problems


@functools.cache
def _report_once(message: str) -> None:
    """Every sink and the metrics build the resource: say a problem once, not once each."""
    logging.getLogger("beholder.otel").error("%s", message)


def resource_attributes(
    host: HostIdentity, extra: dict[str, str] | None = None, environ: Mapping[str, str] | None = None
) -> dict[str, str | int | bool]:
    """The agent's resource: ours, then OTEL_RESOURCE_ATTRIBUTES, then `extra`, then OTEL_SERVICE_NAME.

    Broken entries of OTEL_RESOURCE_ATTRIBUTES are left out and reported once, in one line,
    on the `beholder.otel` logger; its valid pairs are kept.
    """
    env = os.environ if environ is None else environ
    attrs: dict[str, str | int | bool] = {
        sc.SERVICE_NAME: "beholder",
        sc.SERVICE_VERSION: __version__,
        sc.HOST_NAME: host.host_name,
        **identity_attributes(host),
    }
    if host.node_name:
        attrs[sc.K8S_NODE_NAME] = host.node_name
    if host.cluster_name:
        attrs[sc.K8S_CLUSTER_NAME] = host.cluster_name
    parsed, problems = parse_resource_env(env.get("OTEL_RESOURCE_ATTRIBUTES", ""))
    attrs.update(parsed)
    if problems:
        _report_once(f"OTEL_RESOURCE_ATTRIBUTES: {'; '.join(problems)}; ignoring those entries")
    attrs.update(extra or {})
    service = env.get("OTEL_SERVICE_NAME", "").strip()
    if service:
        attrs[sc.SERVICE_NAME] = service
    return attrs
