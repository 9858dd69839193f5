"""OTLP/gRPC: serialized requests on the signal's Export method (see `beholder.otel.transport`)."""

from __future__ import annotations

import grpc
from google.protobuf.message import DecodeError
from google.rpc.error_details_pb2 import RetryInfo
from opentelemetry.exporter.otlp.proto.grpc import _OTLP_GRPC_CHANNEL_OPTIONS

from beholder.otel.config import OtlpConfig
from beholder.otel.transport import SERVICES, SendResult, read_pem

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


class GrpcTransport:
    """The signal's Export method on one long-lived channel, with the official exporter's options."""

    def __init__(self, config: OtlpConfig) -> None:
        self._service = SERVICES[config.signal]
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
        root_certificates=read_pem(config.certificate, "OTEL_EXPORTER_OTLP_CERTIFICATE"),
        private_key=read_pem(config.client_key, "OTEL_EXPORTER_OTLP_CLIENT_KEY"),
        certificate_chain=read_pem(config.client_certificate, "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE"),
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
