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

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from google.protobuf.message import Message
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from beholder.otel.config import GRPC, ConfigError, OtlpConfig

GRPC_HINT = "this looks like an OTLP/gRPC endpoint: set OTEL_EXPORTER_OTLP_PROTOCOL=grpc"


@dataclass(frozen=True, slots=True)
class Service:
    """A signal's gRPC method, response type and partial-success count field."""

    method: str
    response: type[Message]
    rejected_field: str

    def rejected(self, response: Message) -> int:
        return getattr(response.partial_success, self.rejected_field)  # type: ignore[attr-defined]


SERVICES = {
    "logs": Service(
        "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
        ExportLogsServiceResponse,
        "rejected_log_records",
    ),
    "traces": Service(
        "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
        ExportTraceServiceResponse,
        "rejected_spans",
    ),
}
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
    if config.signal not in SERVICES:
        raise ValueError("the batch transports carry logs and traces; metrics use the SDK exporter")
    # Imported for the protocol in use only: grpcio costs the agent ~17 MiB of RSS and
    # requests (with ssl) ~9 MiB, and a run needs one of them.
    if config.protocol == GRPC:
        from beholder.otel.grpc_transport import GrpcTransport

        return GrpcTransport(config)
    from beholder.otel.http_transport import HttpTransport

    return HttpTransport(config)


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


def read_pem(path: str | None, variable: str) -> bytes | None:
    if not path:
        return None
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as exc:
        raise ConfigError(f"{variable}={path!r}: {exc.strerror}") from None
