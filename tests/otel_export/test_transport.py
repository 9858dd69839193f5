"""Both OTLP transports deliver decodable requests with headers, gzip, TLS, retries and partial success."""

from __future__ import annotations

import threading
import time

import grpc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from beholder.otel.config import ConfigError
from beholder.otel.http_transport import _retry_after
from beholder.otel.transport import Backoff, SendResult, make_transport, send_with_retry
from otel_export.receiver import RECEIVERS, Collector, Failure, GrpcReceiver, TlsFiles, config_for
from otel_export.records import numbered_request, numbers

PROTOCOLS = list(RECEIVERS)


def send_once(
    protocol: str, collector: Collector, tls: TlsFiles | None = None, mtls: bool = False, **cfg: object
) -> SendResult:
    with RECEIVERS[protocol](collector, tls, require_client_cert=mtls) as receiver:
        transport = make_transport(config_for(protocol, receiver.url, **cfg))
        try:
            return transport.send(numbered_request(0, 3).SerializeToString(), 5.0)
        finally:
            transport.close()


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_request_arrives_intact_with_configured_headers(protocol: str, collector: Collector) -> None:
    result = send_once(protocol, collector, headers={"x-tenant": "blue", "authorization": "Bearer t"})
    assert result == SendResult(ok=True)
    assert numbers(collector.records()) == [0, 1, 2]
    assert collector.logs[0] == numbered_request(0, 3)
    assert {"x-tenant": "blue", "authorization": "Bearer t"}.items() <= collector.headers[0].items()


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_gzip_compressed_request_decodes(protocol: str, collector: Collector) -> None:
    assert send_once(protocol, collector, compression="gzip").ok
    assert numbers(collector.records()) == [0, 1, 2]
    if protocol == "http/protobuf":
        assert collector.headers[0]["content-encoding"] == "gzip"


def test_grpc_gzip_really_compresses(collector: Collector) -> None:
    with GrpcReceiver(collector, identity_only=True) as receiver:
        outcomes = {}
        for compression in ("none", "gzip"):
            transport = make_transport(config_for("grpc", receiver.url, compression=compression))
            outcomes[compression] = transport.send(numbered_request(0, 1).SerializeToString(), 5.0).ok
            transport.close()
    assert outcomes == {"none": True, "gzip": False}


def test_http_sends_protobuf_content_type(collector: Collector) -> None:
    send_once("http/protobuf", collector)
    assert collector.headers[0]["content-type"] == "application/x-protobuf"


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("mtls", [False, True], ids=["tls", "mtls"])
def test_tls_with_private_ca(protocol: str, mtls: bool, collector: Collector, tls_files: TlsFiles) -> None:
    client = {"client_key": str(tls_files.client_key), "client_certificate": str(tls_files.client_cert)}
    result = send_once(
        protocol, collector, tls_files, mtls=mtls, certificate=str(tls_files.ca), **(client if mtls else {})
    )
    assert result.ok, result.error
    assert numbers(collector.records()) == [0, 1, 2]


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_untrusted_server_certificate_is_refused(
    protocol: str, collector: Collector, tls_files: TlsFiles
) -> None:
    result = send_once(protocol, collector, tls_files, timeout_s=2.0)
    assert not result.ok
    assert collector.records() == []


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_partial_success_reports_rejected_records(protocol: str, collector: Collector) -> None:
    collector.reject_per_request = 2
    assert send_once(protocol, collector) == SendResult(ok=True, rejected=2)


FAILURES = [
    # (name, failure, retryable, server delay)
    ("unavailable", Failure(503, grpc.StatusCode.UNAVAILABLE), True, None),
    ("throttled_with_delay", Failure(429, grpc.StatusCode.RESOURCE_EXHAUSTED, retry_after_s=7), True, 7.0),
    ("bad_gateway", Failure(502, grpc.StatusCode.UNAVAILABLE, retry_after_s=2), True, 2.0),
    ("invalid_request", Failure(400, grpc.StatusCode.INVALID_ARGUMENT), False, None),
    ("unauthenticated", Failure(401, grpc.StatusCode.UNAUTHENTICATED), False, None),
]


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize(
    ("failure", "retryable", "delay"), [f[1:] for f in FAILURES], ids=[f[0] for f in FAILURES]
)
def test_failure_classified_with_server_delay(
    protocol: str, failure: Failure, retryable: bool, delay: float | None, collector: Collector
) -> None:
    collector.failures.append(failure)
    result = send_once(protocol, collector)
    assert (result.ok, result.retryable, result.retry_after_s) == (False, retryable, delay)


def test_resource_exhausted_without_retry_info_is_not_retried(collector: Collector) -> None:
    collector.failures.append(Failure(grpc_code=grpc.StatusCode.RESOURCE_EXHAUSTED))
    assert not send_once("grpc", collector).retryable


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_retry_delivers_after_transient_failures(protocol: str, collector: Collector) -> None:
    collector.failures.extend([Failure(503, grpc.StatusCode.UNAVAILABLE)] * 3)
    with RECEIVERS[protocol](collector) as receiver:
        transport = make_transport(config_for(protocol, receiver.url))
        backoff = Backoff(initial_s=0.01, maximum_s=0.05)
        result = send_with_retry(
            transport,
            numbered_request(0, 2).SerializeToString(),
            time.monotonic() + 20,
            backoff,
            threading.Event(),
        )
        transport.close()
    assert result.ok
    assert collector.refused == 3
    assert numbers(collector.records()) == [0, 1]


def test_retry_stops_when_the_next_wait_would_pass_the_deadline(collector: Collector) -> None:
    collector.failures.extend([Failure(503, retry_after_s=60)] * 5)
    with RECEIVERS["http/protobuf"](collector) as receiver:
        transport = make_transport(config_for("http/protobuf", receiver.url))
        result = send_with_retry(transport, b"", time.monotonic() + 10, Backoff(), threading.Event())
        transport.close()
    assert (result.ok, result.retryable, collector.refused) == (False, True, 1)


def test_connection_refused_is_retryable() -> None:
    for protocol in PROTOCOLS:
        transport = make_transport(config_for(protocol, "http://127.0.0.1:9"))
        result = transport.send(b"", 2.0)
        transport.close()
        assert (result.ok, result.retryable) == (False, True), protocol


BACKOFF = [
    # (rng value, server hint, expected delays for four attempts)
    ("midpoint_doubles_up_to_the_cap", 0.5, None, [1.0, 2.0, 4.0, 5.0]),
    ("low_jitter", 0.0, None, [0.8, 1.6, 3.2, 4.0]),
    ("high_jitter_capped", 1.0, None, [1.2, 2.4, 4.8, 6.0]),
    ("server_hint_wins", 0.5, 3.5, [3.5, 3.5, 3.5, 3.5]),
]


@pytest.mark.parametrize(("rng", "hint", "expected"), [b[1:] for b in BACKOFF], ids=[b[0] for b in BACKOFF])
def test_backoff_is_exponential_with_jitter(rng: float, hint: float | None, expected: list[float]) -> None:
    backoff = Backoff(initial_s=1.0, maximum_s=5.0, jitter=0.2, rng=lambda: rng)
    assert [round(backoff.next_delay(hint), 6) for _ in expected] == expected


def test_unreadable_certificate_is_a_config_error(tmp_path) -> None:
    missing = str(tmp_path / "nope.pem")
    for protocol in PROTOCOLS:
        with pytest.raises(ConfigError, match="OTEL_EXPORTER_OTLP_CERTIFICATE"):
            make_transport(config_for(protocol, "https://127.0.0.1:1", certificate=missing))


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.none(), st.text(max_size=60), st.integers(0, 10**6).map(str)))
def test_any_retry_after_header_yields_no_delay_or_a_non_negative_one(value: str | None) -> None:
    delay = _retry_after(value)
    assert delay is None or delay >= 0
    if value is not None and value.strip().isascii() and value.strip().isdigit():
        assert delay == float(value.strip())


def test_http_export_to_a_grpc_port_says_to_set_the_protocol(collector: Collector) -> None:
    with GrpcReceiver(collector) as receiver:
        transport = make_transport(config_for("http/protobuf", receiver.url))
        result = transport.send(numbered_request(0, 1).SerializeToString(), 5.0)
        transport.close()
    assert not result.ok
    assert result.error.startswith(
        "this looks like an OTLP/gRPC endpoint: set OTEL_EXPORTER_OTLP_PROTOCOL=grpc"
    )


def test_connection_refused_gets_no_grpc_hint() -> None:
    transport = make_transport(config_for("http/protobuf", "http://127.0.0.1:9"))
    result = transport.send(b"", 2.0)
    transport.close()
    assert "OTLP/gRPC" not in result.error


def test_the_sdk_metric_exporters_error_text_gets_the_same_hint() -> None:
    from beholder.otel.transport import explain_http_error

    sdk = "Transient error ('Connection aborted.', BadStatusLine('\\x00\\x00\\x18\\x04\\x00')) encountered"
    assert explain_http_error(sdk).startswith("this looks like an OTLP/gRPC endpoint")
    assert "\\x00" not in explain_http_error(sdk)
    assert explain_http_error("ConnectionError: refused") == "ConnectionError: refused"
