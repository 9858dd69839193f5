"""What every signal's resource and scope say about who emits it, identical on logs, metrics
and traces so a backend joins them: the conventions version, a stable instance id, the SDK.

`service.instance.id` is derived, not random: a restarted agent on the same node is the same
instance (its spool replays under it, its series continue). The UUIDv5 namespace is the one
the semantic conventions recommend for this attribute.
"""

from __future__ import annotations

import uuid
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
