"""OTLP exporter settings from the standard `OTEL_EXPORTER_OTLP_*` environment variables.

Follows the OpenTelemetry exporter specification rather than any one SDK's quirks: a
signal-specific variable (`OTEL_EXPORTER_OTLP_LOGS_*`) replaces the generic one as a whole,
the generic HTTP endpoint gets `/v1/<signal>` appended while a signal endpoint is used as
is, the timeout is in milliseconds, and `INSECURE` only matters for a gRPC endpoint given
without a scheme. A bad value raises `ConfigError` naming the variable, never a traceback.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

GRPC = "grpc"
HTTP_PROTOBUF = "http/protobuf"
PROTOCOLS = (GRPC, HTTP_PROTOBUF)
COMPRESSIONS = ("none", "gzip")
SIGNALS = ("logs", "metrics", "traces")

_DEFAULT_ENDPOINT = {GRPC: "http://localhost:4317", HTTP_PROTOBUF: "http://localhost:4318"}
_DEFAULT_TIMEOUT_MS = 10_000


class ConfigError(ValueError):
    """A malformed `OTEL_*` value; the message names the variable and the value."""


@dataclass(frozen=True, slots=True)
class OtlpConfig:
    """Everything a transport needs for one signal.

    `endpoint` is the full URL for HTTP (path included) and `host:port` for gRPC.
    """

    signal: str
    protocol: str = HTTP_PROTOBUF
    endpoint: str = "http://localhost:4318/v1/logs"
    headers: dict[str, str] = field(default_factory=dict)
    compression: str = "none"
    timeout_s: float = _DEFAULT_TIMEOUT_MS / 1000
    certificate: str | None = None
    client_key: str | None = None
    client_certificate: str | None = None
    insecure: bool = True


def from_env(signal: str, env: Mapping[str, str] | None = None) -> OtlpConfig:
    """Resolve the exporter settings for `signal` ("logs", "metrics" or "traces")."""
    if signal not in SIGNALS:
        raise ValueError(f"unknown OTLP signal {signal!r}")
    env = os.environ if env is None else env
    lookup = _Lookup(env, signal)
    protocol = lookup.choice("PROTOCOL", PROTOCOLS, HTTP_PROTOBUF)
    endpoint, insecure = _endpoint(lookup, protocol, signal)
    return OtlpConfig(
        signal=signal,
        protocol=protocol,
        endpoint=endpoint,
        headers=parse_headers(*lookup.get("HEADERS", "")),
        compression=lookup.choice("COMPRESSION", COMPRESSIONS, "none"),
        timeout_s=_timeout_s(*lookup.get("TIMEOUT", str(_DEFAULT_TIMEOUT_MS))),
        certificate=lookup.get("CERTIFICATE", "")[1] or None,
        client_key=lookup.get("CLIENT_KEY", "")[1] or None,
        client_certificate=lookup.get("CLIENT_CERTIFICATE", "")[1] or None,
        insecure=insecure,
    )


def endpoint_configured(signal: str, env: Mapping[str, str] | None = None) -> bool:
    """Whether the user named a collector; without one the agent keeps its local default sinks."""
    env = os.environ if env is None else env
    names = (f"OTEL_EXPORTER_OTLP_{signal.upper()}_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
    return any(env.get(name, "").strip() for name in names)


class _Lookup:
    """Signal-specific variable first, then the generic one; returns (name, value)."""

    def __init__(self, env: Mapping[str, str], signal: str) -> None:
        self._env = env
        self._signal = signal.upper()

    def get(self, key: str, default: str) -> tuple[str, str]:
        for name in (f"OTEL_EXPORTER_OTLP_{self._signal}_{key}", f"OTEL_EXPORTER_OTLP_{key}"):
            value = self._env.get(name, "").strip()
            if value:
                return name, value
        return f"OTEL_EXPORTER_OTLP_{key}", default

    def choice(self, key: str, allowed: tuple[str, ...], default: str) -> str:
        name, value = self.get(key, default)
        value = value.lower()
        if value not in allowed:
            raise ConfigError(f"{name}={value!r}: expected one of {', '.join(allowed)}")
        return value


def _endpoint(lookup: _Lookup, protocol: str, signal: str) -> tuple[str, bool]:
    name, url = lookup.get("ENDPOINT", _DEFAULT_ENDPOINT[protocol])
    signal_specific = name.startswith(f"OTEL_EXPORTER_OTLP_{signal.upper()}_")
    if protocol == GRPC:
        return _grpc_target(lookup, name, url)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"{name}={url!r}: expected an http:// or https:// URL")
    if not signal_specific:
        url = f"{url.rstrip('/')}/v1/{signal}"
    return url, parts.scheme == "http"


def _grpc_target(lookup: _Lookup, name: str, url: str) -> tuple[str, bool]:
    parts = urlsplit(url if "//" in url else f"//{url}")
    if parts.scheme not in ("", "http", "https") or not parts.hostname:
        raise ConfigError(f"{name}={url!r}: expected host:port or an http(s):// URL")
    try:
        port = parts.port or 4317
    except ValueError as exc:
        raise ConfigError(f"{name}={url!r}: {exc}") from None
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    if parts.scheme:
        insecure = parts.scheme == "http"
    else:
        insecure_name, flag = lookup.get("INSECURE", "false")
        if flag.lower() not in ("true", "false"):
            raise ConfigError(f"{insecure_name}={flag!r}: expected true or false")
        insecure = flag.lower() == "true"
    return f"{host}:{port}", insecure


def parse_headers(name: str, value: str) -> dict[str, str]:
    """`key1=value1,key2=value2` with percent-encoded values, as the spec defines it."""
    headers: dict[str, str] = {}
    for item in value.split(","):
        if not item.strip():
            continue
        key, sep, val = item.partition("=")
        key = unquote(key).strip().lower()
        if not sep or not key or any(c.isspace() or ord(c) < 33 for c in key):
            raise ConfigError(f"{name}: malformed header {item.strip()[:40]!r}, expected key=value")
        headers[key] = unquote(val).strip()
    return headers


def _timeout_s(name: str, value: str) -> float:
    try:
        millis = float(value)
    except ValueError:
        raise ConfigError(f"{name}={value!r}: expected milliseconds") from None
    if not 0 < millis < 3_600_000:
        raise ConfigError(f"{name}={value!r}: expected milliseconds between 1 and 3600000")
    return millis / 1000
