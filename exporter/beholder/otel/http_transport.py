"""OTLP/HTTP: serialized requests posted to `/v1/<signal>` (see `beholder.otel.transport`)."""

from __future__ import annotations

import email.utils
import gzip
import time

import requests
from google.protobuf.message import DecodeError
from opentelemetry.exporter.otlp.proto.http import _OTLP_HTTP_HEADERS

from beholder.otel.config import OtlpConfig
from beholder.otel.transport import SERVICES, SendResult, Service, explain_http_error, read_pem

_HTTP_RETRYABLE = frozenset({429, 502, 503, 504})


class HttpTransport:
    """POST to `/v1/<signal>` on a `requests` session, as the official HTTP exporter does."""

    def __init__(self, config: OtlpConfig) -> None:
        self._service = SERVICES[config.signal]
        self._url = config.endpoint
        self._gzip = config.compression == "gzip"
        self._session = requests.Session()
        self._session.headers.update(_OTLP_HTTP_HEADERS)
        self._session.headers.update(config.headers)
        if self._gzip:
            self._session.headers["Content-Encoding"] = "gzip"
        for path, variable in (  # fail at start-up with one line, not on the first export
            (config.certificate, "OTEL_EXPORTER_OTLP_CERTIFICATE"),
            (config.client_key, "OTEL_EXPORTER_OTLP_CLIENT_KEY"),
            (config.client_certificate, "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE"),
        ):
            read_pem(path, variable)
        # Passed per request: a session-level `verify` loses to REQUESTS_CA_BUNDLE from the environment.
        self._verify: str | bool = config.certificate or True
        self._cert = (config.client_certificate, config.client_key) if config.client_certificate else None

    def send(self, payload: bytes, timeout_s: float) -> SendResult:
        return self._post(
            gzip.compress(payload, compresslevel=5, mtime=0) if self._gzip else payload, timeout_s
        )

    def send_gzipped(self, body: bytes, timeout_s: float) -> SendResult:
        return self._post(body if self._gzip else gzip.decompress(body), timeout_s)

    def _post(self, body: bytes, timeout_s: float) -> SendResult:
        try:
            response = self._session.post(
                self._url, data=body, timeout=timeout_s, verify=self._verify, cert=self._cert
            )
        except requests.RequestException as exc:
            return SendResult(
                ok=False, retryable=True, error=explain_http_error(f"{type(exc).__name__}: {exc}")
            )
        status = response.status_code
        if 200 <= status < 300:
            return SendResult(ok=True, rejected=_http_rejected(self._service, response.content))
        return SendResult(
            ok=False,
            retryable=status in _HTTP_RETRYABLE,
            retry_after_s=_retry_after(response.headers.get("Retry-After")),
            error=f"HTTP {status}: {response.text[:200]}",
        )

    def close(self) -> None:
        self._session.close()


def _http_rejected(service: Service, body: bytes) -> int:
    if not body:
        return 0
    response = service.response()
    try:
        response.ParseFromString(body)
    except DecodeError:
        return 0
    return service.rejected(response)


def _retry_after(value: str | None) -> float | None:
    """`Retry-After` is either delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - time.time(), 0.0)
