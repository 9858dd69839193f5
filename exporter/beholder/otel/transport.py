"""Send already-serialized `ExportLogsServiceRequest` (or `ExportTraceServiceRequest`) bytes
over OTLP/gRPC or OTLP/HTTP.

Requests arrive as bytes (built once by the encoder, possibly read back from the disk
spool), so neither transport re-parses them: the gRPC call uses an identity serializer on
the signal's `Export` method and HTTP posts the body as is, gzip-compressed if asked.
One `send` is one attempt and says whether a failure is worth retrying (and after how long
the server asked us to wait); `send_with_retry` and the export queue decide what to do
with that, so retry policy lives in one place. The HTTP transport also takes bodies that are
already gzip members (`send_gzipped`, fed from the compressed disk spool), so a replay with
gzip configured is posted without inflating and deflating it again.
"""

from __future__ import annotations

import email.utils
import gzip
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import grpc
import requests
from google.protobuf.message import DecodeError, Message
from google.rpc.error_details_pb2 import RetryInfo
from opentelemetry.exporter.otlp.proto.grpc import _OTLP_GRPC_CHANNEL_OPTIONS
from opentelemetry.exporter.otlp.proto.http import _OTLP_HTTP_HEADERS
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from beholder.otel.config import GRPC, ConfigError, OtlpConfig

GRPC_HINT = "this looks like an OTLP/gRPC endpoint: set OTEL_EXPORTER_OTLP_PROTOCOL=grpc"


@dataclass(frozen=True, slots=True)
class _Service:
    """A signal's gRPC method, response type and partial-success count field."""

    method: str
    response: type[Message]
    rejected_field: str

    def rejected(self, response: Message) -> int:
        return getattr(response.partial_success, self.rejected_field)  # type: ignore[attr-defined]


_SERVICES = {
    "logs": _Service(
        "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
        ExportLogsServiceResponse,
        "rejected_log_records",
    ),
    "traces": _Service(
        "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
        ExportTraceServiceResponse,
        "rejected_spans",
    ),
}
# The spec's retryable gRPC codes; RESOURCE_EXHAUSTED only when the server sends RetryInfo.
_GRPC_RETRYABLE = frozenset(
    {
        grpc.StatusCode.CANCELLED,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.ABORTED,
        grpc.StatusCode.OUT_OF_RANGE,
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DATA_LOSS,
    }
)
_HTTP_RETRYABLE = frozenset({429, 502, 503, 504})
_MAX_SERVER_DELAY_S = 300.0


@dataclass(frozen=True, slots=True)
class SendResult:
    """Outcome of one attempt; `rejected` is the server's partial-success count."""

    ok: bool
    retryable: bool = False
    retry_after_s: float | None = None
    rejected: int = 0
    error: str = ""


class Transport(Protocol):
    def send(self, payload: bytes, timeout_s: float) -> SendResult: ...

    def close(self) -> None: ...


@runtime_checkable
class GzipTransport(Transport, Protocol):
    """A transport that can send a body that is already a gzip member of the payload."""

    def send_gzipped(self, body: bytes, timeout_s: float) -> SendResult: ...


class Backoff:
    """Exponential backoff with ±jitter; a server-provided delay wins when there is one."""

    def __init__(
        self,
        initial_s: float = 1.0,
        maximum_s: float = 30.0,
        jitter: float = 0.2,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.initial_s = initial_s
        self.maximum_s = maximum_s
        self.jitter = jitter
        self._rng = rng
        self._attempt = 0

    def next_delay(self, server_hint_s: float | None = None) -> float:
        if server_hint_s is not None:
            self._attempt += 1
            return min(max(server_hint_s, 0.0), _MAX_SERVER_DELAY_S)
        base = min(self.initial_s * 2**self._attempt, self.maximum_s)
        self._attempt += 1
        return base * (1 - self.jitter + 2 * self.jitter * self._rng())

    def reset(self) -> None:
        self._attempt = 0


def send_with_retry(
    transport: Transport, payload: bytes, deadline: float, backoff: Backoff, stop: threading.Event
) -> SendResult:
    """Retry retryable failures until `deadline` (monotonic seconds) or `stop` is set."""
    backoff.reset()
    while True:
        remaining = deadline - time.monotonic()
        result = transport.send(payload, max(remaining, 0.001))
        if result.ok or not result.retryable:
            return result
        delay = backoff.next_delay(result.retry_after_s)
        if delay > deadline - time.monotonic() or stop.wait(delay):
            return result


def make_transport(config: OtlpConfig) -> Transport:
    """The transport for `config.protocol`; unreadable TLS files raise `ConfigError`."""
    if config.signal not in _SERVICES:
        raise ValueError("the batch transports carry logs and traces; metrics use the SDK exporter")
    return GrpcTransport(config) if config.protocol == GRPC else HttpTransport(config)


class GrpcTransport:
    """The signal's Export method on one long-lived channel, with the official exporter's options."""

    def __init__(self, config: OtlpConfig) -> None:
        self._service = _SERVICES[config.signal]
        compression = (
            grpc.Compression.Gzip if config.compression == "gzip" else grpc.Compression.NoCompression
        )
        options = tuple(_OTLP_GRPC_CHANNEL_OPTIONS)
        if config.insecure:
            self._channel = grpc.insecure_channel(config.endpoint, options, compression)
        else:
            self._channel = grpc.secure_channel(
                config.endpoint, grpc_credentials(config), options, compression
            )
        self._export = self._channel.unary_unary(
            self._service.method,
            request_serializer=None,
            response_deserializer=self._service.response.FromString,
        )
        self._metadata = tuple(config.headers.items())

    def send(self, payload: bytes, timeout_s: float) -> SendResult:
        try:
            response = self._export(payload, timeout=timeout_s, metadata=self._metadata)
        except grpc.RpcError as error:
            return _grpc_failure(error)
        return SendResult(ok=True, rejected=self._service.rejected(response))

    def close(self) -> None:
        self._channel.close()


def grpc_credentials(config: OtlpConfig) -> grpc.ChannelCredentials:
    """TLS (or mTLS) credentials from the configured PEM files; system roots when none."""
    return grpc.ssl_channel_credentials(
        root_certificates=_read_pem(config.certificate, "OTEL_EXPORTER_OTLP_CERTIFICATE"),
        private_key=_read_pem(config.client_key, "OTEL_EXPORTER_OTLP_CLIENT_KEY"),
        certificate_chain=_read_pem(config.client_certificate, "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE"),
    )


def _grpc_failure(error: grpc.RpcError) -> SendResult:
    code = error.code() if isinstance(error, grpc.Call) else grpc.StatusCode.UNKNOWN
    hint = _retry_info_delay(error)
    retryable = code in _GRPC_RETRYABLE or (code == grpc.StatusCode.RESOURCE_EXHAUSTED and hint is not None)
    details = error.details() if isinstance(error, grpc.Call) else str(error)
    return SendResult(ok=False, retryable=retryable, retry_after_s=hint, error=f"{code.name}: {details}")


def _retry_info_delay(error: grpc.RpcError) -> float | None:
    if not isinstance(error, grpc.Call):
        return None
    raw = dict(error.trailing_metadata() or ()).get("google.rpc.retryinfo-bin")
    if not isinstance(raw, bytes):
        return None
    info = RetryInfo()
    try:
        info.ParseFromString(raw)
    except DecodeError:
        return None
    return info.retry_delay.seconds + info.retry_delay.nanos / 1e9


class HttpTransport:
    """POST to `/v1/<signal>` on a `requests` session, as the official HTTP exporter does."""

    def __init__(self, config: OtlpConfig) -> None:
        self._service = _SERVICES[config.signal]
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
            _read_pem(path, variable)
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


def explain_http_error(text: str) -> str:
    """The error of a failed OTLP/HTTP request, or the fix when the port speaks gRPC.

    A gRPC port answers an HTTP/1.1 request with an HTTP/2 SETTINGS frame, whose 3-byte
    length starts with zero bytes; http.client reports it as `BadStatusLine('\\x00\\x00…')`,
    deep inside what requests and the SDK's exporters raise. The frame's bytes mean nothing
    to a reader, so the hint replaces them.
    """
    if "BadStatusLine('\\x00\\x00" in text:
        return f"{GRPC_HINT} (the server answered with an HTTP/2 frame)"
    return text


def _http_rejected(service: _Service, body: bytes) -> int:
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


def _read_pem(path: str | None, variable: str) -> bytes | None:
    if not path:
        return None
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as exc:
        raise ConfigError(f"{variable}={path!r}: {exc.strerror}") from None
