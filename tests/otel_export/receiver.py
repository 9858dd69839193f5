"""A test collector: OTLP/gRPC (LogsService, MetricsService, TraceService) and OTLP/HTTP
(/v1/logs, /v1/metrics, /v1/traces).

Both servers decode with `opentelemetry-proto` into one `Collector`, which also scripts the
answers (failures with retry hints, partial success) so tests can drive the exporter's
retry and loss paths against real sockets.
"""

from __future__ import annotations

import gzip
import ssl
import threading
from collections import deque
from collections.abc import Callable
from concurrent import futures
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self

import grpc
from google.protobuf.duration_pb2 import Duration
from google.rpc.error_details_pb2 import RetryInfo
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2, logs_service_pb2_grpc
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2, metrics_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from beholder.otel.config import OtlpConfig


@dataclass(frozen=True)
class Failure:
    """One scripted refusal: an HTTP status or gRPC code, with an optional retry hint."""

    http_status: int = 503
    grpc_code: grpc.StatusCode = grpc.StatusCode.UNAVAILABLE
    retry_after_s: int | None = None


@dataclass
class Collector:
    logs: list[logs_service_pb2.ExportLogsServiceRequest] = field(default_factory=list)
    metrics: list[metrics_service_pb2.ExportMetricsServiceRequest] = field(default_factory=list)
    traces: list[trace_service_pb2.ExportTraceServiceRequest] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    http_bodies: list[bytes] = field(default_factory=list)  # as they came over the wire
    failures: deque[Failure] = field(default_factory=deque)
    refused: int = 0
    reject_per_request: int = 0
    cond: threading.Condition = field(default_factory=threading.Condition)
    answering: threading.Event = field(default_factory=threading.Event)  # clear: every request hangs
    # Long runs: count every record but keep only these (copies, so no request stays in memory).
    keep: Callable[[LogRecord], bool] | None = None
    counted: int = 0
    kept: list[LogRecord] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.answering.set()

    def next_failure(self) -> Failure | None:
        with self.cond:
            if self.failures:
                self.refused += 1
                return self.failures.popleft()
            return None

    def add_logs(self, request: logs_service_pb2.ExportLogsServiceRequest, headers: dict[str, str]) -> int:
        with self.cond:
            if self.keep is None:
                self.logs.append(request)
                self.headers.append(headers)
            else:
                self._count_and_keep(request, self.keep)
            self.cond.notify_all()
            return self.reject_per_request

    def _count_and_keep(
        self, request: logs_service_pb2.ExportLogsServiceRequest, keep: Callable[[LogRecord], bool]
    ) -> None:
        for rl in request.resource_logs:
            for sl in rl.scope_logs:
                self.counted += len(sl.log_records)
                for record in sl.log_records:
                    if keep(record):
                        copy = LogRecord()
                        copy.CopyFrom(record)
                        self.kept.append(copy)

    @property
    def total(self) -> int:
        """Log records received (all of them, also in `keep` mode)."""
        with self.cond:
            return self.counted if self.keep is not None else _count(self.logs)

    def add_metrics(self, request: metrics_service_pb2.ExportMetricsServiceRequest) -> None:
        with self.cond:
            self.metrics.append(request)
            self.cond.notify_all()

    def add_traces(self, request: trace_service_pb2.ExportTraceServiceRequest) -> None:
        with self.cond:
            self.traces.append(request)
            self.cond.notify_all()

    def spans(self) -> list[Span]:
        """Every span received, in arrival order."""
        with self.cond:
            return [
                s
                for req in self.traces
                for rs in req.resource_spans
                for ss in rs.scope_spans
                for s in ss.spans
            ]

    def records(self) -> list[LogRecord]:
        """Every record received, in arrival order (in `keep` mode: the kept ones)."""
        with self.cond:
            if self.keep is not None:
                return list(self.kept)
            return [
                r
                for req in self.logs
                for rl in req.resource_logs
                for sl in rl.scope_logs
                for r in sl.log_records
            ]

    def wait_for_records(self, n: int, timeout_s: float = 30.0) -> list[LogRecord]:
        with self.cond:
            self.cond.wait_for(lambda: _count(self.logs) >= n, timeout_s)
        return self.records()

    def wait_for_metrics(self, predicate, timeout_s: float = 30.0) -> bool:
        with self.cond:
            return self.cond.wait_for(lambda: predicate(self.metrics), timeout_s)


def _count(requests: list[logs_service_pb2.ExportLogsServiceRequest]) -> int:
    return sum(len(sl.log_records) for req in requests for rl in req.resource_logs for sl in rl.scope_logs)


def _logs_response(rejected: int) -> logs_service_pb2.ExportLogsServiceResponse:
    response = logs_service_pb2.ExportLogsServiceResponse()
    if rejected:
        response.partial_success.rejected_log_records = rejected
        response.partial_success.error_message = "rejected by the test collector"
    return response


@dataclass(frozen=True)
class TlsFiles:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path


class _GrpcServicer(
    logs_service_pb2_grpc.LogsServiceServicer,
    metrics_service_pb2_grpc.MetricsServiceServicer,
    trace_service_pb2_grpc.TraceServiceServicer,
):
    def __init__(self, collector: Collector) -> None:
        self.collector = collector

    def _refuse(self, context: grpc.ServicerContext) -> None:
        failure = self.collector.next_failure()
        if failure is None:
            return
        if failure.retry_after_s is not None:
            info = RetryInfo(retry_delay=Duration(seconds=failure.retry_after_s))
            context.set_trailing_metadata((("google.rpc.retryinfo-bin", info.SerializeToString()),))
        context.abort(failure.grpc_code, "scripted failure")

    def Export(self, request, context):
        self.collector.answering.wait()
        self._refuse(context)
        if isinstance(request, metrics_service_pb2.ExportMetricsServiceRequest):
            self.collector.add_metrics(request)
            return metrics_service_pb2.ExportMetricsServiceResponse()
        if isinstance(request, trace_service_pb2.ExportTraceServiceRequest):
            self.collector.add_traces(request)
            return trace_service_pb2.ExportTraceServiceResponse()
        headers = {k: v for k, v in context.invocation_metadata() if isinstance(v, str)}
        return _logs_response(self.collector.add_logs(request, headers))


class _Receiver:
    """Start/stop on 127.0.0.1; `port` is fixed after the first start so a restart reuses it."""

    def __init__(
        self, collector: Collector, tls: TlsFiles | None = None, require_client_cert: bool = False
    ) -> None:
        self.collector = collector
        self.tls = tls
        self.require_client_cert = require_client_cert
        self.port = 0

    def start(self) -> Self:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class GrpcReceiver(_Receiver):
    """`identity_only` makes the server refuse compressed calls, which proves a client compressed."""

    def __init__(self, *args: Any, identity_only: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._options = [("grpc.compression_enabled_algorithms_bitset", 1)] if identity_only else []
        self._server: grpc.Server | None = None

    def start(self) -> Self:
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=4), options=self._options)
        servicer = _GrpcServicer(self.collector)
        handlers = {
            "opentelemetry.proto.collector.logs.v1.LogsService": (
                logs_service_pb2.ExportLogsServiceRequest,
                logs_service_pb2.ExportLogsServiceResponse,
            ),
            "opentelemetry.proto.collector.metrics.v1.MetricsService": (
                metrics_service_pb2.ExportMetricsServiceRequest,
                metrics_service_pb2.ExportMetricsServiceResponse,
            ),
            "opentelemetry.proto.collector.trace.v1.TraceService": (
                trace_service_pb2.ExportTraceServiceRequest,
                trace_service_pb2.ExportTraceServiceResponse,
            ),
        }
        for service, (request_type, response_type) in handlers.items():
            method = grpc.unary_unary_rpc_method_handler(
                servicer.Export,
                request_deserializer=request_type.FromString,
                response_serializer=response_type.SerializeToString,
            )
            server.add_generic_rpc_handlers(
                (grpc.method_handlers_generic_handler(service, {"Export": method}),)
            )
        address = f"127.0.0.1:{self.port}"
        if self.tls is None:
            self.port = server.add_insecure_port(address)
        else:
            credentials = grpc.ssl_server_credentials(
                [(self.tls.server_key.read_bytes(), self.tls.server_cert.read_bytes())],
                root_certificates=self.tls.ca.read_bytes() if self.require_client_cert else None,
                require_client_auth=self.require_client_cert,
            )
            self.port = server.add_secure_port(address, credentials)
        server.start()
        self._server = server
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop(grace=None).wait()
            self._server = None


class _HttpHandler(BaseHTTPRequestHandler):
    server: _HttpServer

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        collector = self.server.collector
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        collector.answering.wait()
        failure = collector.next_failure()
        if failure is not None:
            self.send_response(failure.http_status)
            if failure.retry_after_s is not None:
                self.send_header("Retry-After", str(failure.retry_after_s))
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        headers = {k.lower(): v for k, v in self.headers.items()}
        collector.http_bodies.append(body)
        if headers.get("content-encoding") == "gzip":
            body = gzip.decompress(body)
        if self.path == "/v1/logs":
            rejected = collector.add_logs(logs_service_pb2.ExportLogsServiceRequest.FromString(body), headers)
            payload = _logs_response(rejected).SerializeToString()
        elif self.path == "/v1/metrics":
            collector.add_metrics(metrics_service_pb2.ExportMetricsServiceRequest.FromString(body))
            payload = metrics_service_pb2.ExportMetricsServiceResponse().SerializeToString()
        elif self.path == "/v1/traces":
            collector.add_traces(trace_service_pb2.ExportTraceServiceRequest.FromString(body))
            payload = trace_service_pb2.ExportTraceServiceResponse().SerializeToString()
        else:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True
    collector: Collector


class HttpReceiver(_Receiver):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._server: _HttpServer | None = None

    def start(self) -> Self:
        server = _HttpServer(("127.0.0.1", self.port), _HttpHandler)
        server.collector = self.collector
        if self.tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(self.tls.server_cert, self.tls.server_key)
            if self.require_client_cert:
                context.verify_mode = ssl.CERT_REQUIRED
                context.load_verify_locations(self.tls.ca)
            server.socket = context.wrap_socket(server.socket, server_side=True)
        self.port = server.server_address[1]
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self._server = server
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


RECEIVERS = {"grpc": GrpcReceiver, "http/protobuf": HttpReceiver}


def config_for(protocol: str, url: str, signal: str = "logs", **overrides: object) -> OtlpConfig:
    """Exporter settings aimed at a test receiver's URL."""
    endpoint = url.split("://", 1)[1] if protocol == "grpc" else f"{url}/v1/{signal}"
    fields: dict[str, object] = {
        "signal": signal,
        "protocol": protocol,
        "endpoint": endpoint,
        "insecure": url.startswith("http:"),
        "timeout_s": 5.0,
    }
    fields.update(overrides)
    return OtlpConfig(**fields)  # type: ignore[arg-type]
