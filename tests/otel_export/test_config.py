"""OTEL_EXPORTER_OTLP_* resolution follows the exporter specification."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from beholder.otel.config import ConfigError, endpoint_configured, from_env, parse_headers

CASES = [
    # (name, signal, env, expected fields)
    ("defaults_to_http_protobuf_on_4318", "logs", {},
     {"protocol": "http/protobuf", "endpoint": "http://localhost:4318/v1/logs", "timeout_s": 10.0}),
    ("generic_http_endpoint_gets_signal_path", "logs", {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"},
     {"endpoint": "http://c:4318/v1/logs"}),
    ("generic_endpoint_trailing_slash_not_doubled", "metrics", {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318/base/"},
     {"endpoint": "http://c:4318/base/v1/metrics"}),
    ("signal_endpoint_used_as_is", "logs",
     {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://generic:1", "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT": "http://c:9/custom"},
     {"endpoint": "http://c:9/custom"}),
    ("signal_protocol_overrides_generic", "logs",
     {"OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf", "OTEL_EXPORTER_OTLP_LOGS_PROTOCOL": "grpc"},
     {"protocol": "grpc", "endpoint": "localhost:4317", "insecure": True}),
    ("grpc_https_url_is_secure", "logs",
     {"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc", "OTEL_EXPORTER_OTLP_ENDPOINT": "https://c.example:4317"},
     {"endpoint": "c.example:4317", "insecure": False}),
    ("grpc_schemeless_endpoint_is_secure_by_default", "logs",
     {"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc", "OTEL_EXPORTER_OTLP_ENDPOINT": "c:4317"},
     {"endpoint": "c:4317", "insecure": False}),
    ("grpc_schemeless_endpoint_honours_insecure", "logs",
     {"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc", "OTEL_EXPORTER_OTLP_ENDPOINT": "c:4317",
      "OTEL_EXPORTER_OTLP_LOGS_INSECURE": "true"},
     {"endpoint": "c:4317", "insecure": True}),
    ("grpc_insecure_ignored_when_scheme_given", "logs",
     {"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc", "OTEL_EXPORTER_OTLP_ENDPOINT": "https://c:4317",
      "OTEL_EXPORTER_OTLP_INSECURE": "true"},
     {"insecure": False}),
    ("grpc_ipv6_literal_keeps_brackets", "logs",
     {"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://[::1]:4317"},
     {"endpoint": "[::1]:4317"}),
    ("signal_headers_replace_generic_headers", "logs",
     {"OTEL_EXPORTER_OTLP_HEADERS": "a=1,b=2", "OTEL_EXPORTER_OTLP_LOGS_HEADERS": "Api-Key=s%20e%3Dcret"},
     {"headers": {"api-key": "s e=cret"}}),
    ("generic_headers_apply_to_metrics", "metrics", {"OTEL_EXPORTER_OTLP_HEADERS": "a=1, b = 2 "},
     {"headers": {"a": "1", "b": "2"}}),
    ("timeout_is_milliseconds", "logs", {"OTEL_EXPORTER_OTLP_LOGS_TIMEOUT": "2500"}, {"timeout_s": 2.5}),
    ("compression_gzip_case_insensitive", "logs", {"OTEL_EXPORTER_OTLP_COMPRESSION": "GZIP"},
     {"compression": "gzip"}),
    ("tls_files_signal_specific_first", "logs",
     {"OTEL_EXPORTER_OTLP_CERTIFICATE": "/g.pem", "OTEL_EXPORTER_OTLP_LOGS_CERTIFICATE": "/l.pem",
      "OTEL_EXPORTER_OTLP_CLIENT_KEY": "/k.pem", "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE": "/c.pem"},
     {"certificate": "/l.pem", "client_key": "/k.pem", "client_certificate": "/c.pem"}),
    ("https_endpoint_is_not_insecure", "logs", {"OTEL_EXPORTER_OTLP_ENDPOINT": "https://c:4318"},
     {"insecure": False, "endpoint": "https://c:4318/v1/logs"}),
    ("empty_signal_variable_falls_back_to_generic", "logs",
     {"OTEL_EXPORTER_OTLP_LOGS_COMPRESSION": " ", "OTEL_EXPORTER_OTLP_COMPRESSION": "gzip"},
     {"compression": "gzip"}),
]  # fmt: skip


@pytest.mark.parametrize(("signal", "env", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_env_resolves_like_the_spec(signal: str, env: dict[str, str], expected: dict[str, object]) -> None:
    config = from_env(signal, env)
    assert {key: getattr(config, key) for key in expected} == expected


BAD = [
    ("unknown_protocol", {"OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"}, "OTEL_EXPORTER_OTLP_PROTOCOL"),
    ("unknown_compression", {"OTEL_EXPORTER_OTLP_LOGS_COMPRESSION": "zstd"},
     "OTEL_EXPORTER_OTLP_LOGS_COMPRESSION"),
    ("timeout_not_a_number", {"OTEL_EXPORTER_OTLP_TIMEOUT": "10s"}, "OTEL_EXPORTER_OTLP_TIMEOUT"),
    ("timeout_negative", {"OTEL_EXPORTER_OTLP_LOGS_TIMEOUT": "-5"}, "OTEL_EXPORTER_OTLP_LOGS_TIMEOUT"),
    ("timeout_nan", {"OTEL_EXPORTER_OTLP_TIMEOUT": "nan"}, "OTEL_EXPORTER_OTLP_TIMEOUT"),
    ("http_endpoint_without_scheme", {"OTEL_EXPORTER_OTLP_ENDPOINT": "collector:4318"},
     "OTEL_EXPORTER_OTLP_ENDPOINT"),
    ("grpc_endpoint_bad_port",
     {"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc", "OTEL_EXPORTER_OTLP_ENDPOINT": "c:99999"},
     "OTEL_EXPORTER_OTLP_ENDPOINT"),
    ("grpc_endpoint_odd_scheme",
     {"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc", "OTEL_EXPORTER_OTLP_ENDPOINT": "unix:///x"},
     "OTEL_EXPORTER_OTLP_ENDPOINT"),
    ("insecure_not_boolean", {"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc", "OTEL_EXPORTER_OTLP_ENDPOINT": "c:1",
                              "OTEL_EXPORTER_OTLP_INSECURE": "yes"}, "OTEL_EXPORTER_OTLP_INSECURE"),
    ("header_without_equals", {"OTEL_EXPORTER_OTLP_LOGS_HEADERS": "a=1,broken"},
     "OTEL_EXPORTER_OTLP_LOGS_HEADERS"),
]  # fmt: skip


@pytest.mark.parametrize(("env", "variable"), [c[1:] for c in BAD], ids=[c[0] for c in BAD])
def test_bad_value_is_one_line_naming_the_variable(env: dict[str, str], variable: str) -> None:
    with pytest.raises(ConfigError) as raised:
        from_env("logs", env)
    message = str(raised.value)
    assert variable in message
    assert "\n" not in message


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_any_header_string_parses_or_fails_cleanly(value: str) -> None:
    try:
        headers = parse_headers("OTEL_EXPORTER_OTLP_HEADERS", value)
    except ConfigError as exc:
        assert str(exc).startswith("OTEL_EXPORTER_OTLP_HEADERS")
    else:
        assert all(key == key.strip().lower() and key for key in headers)


CONFIGURED = [
    ("nothing_set", {}, False),
    ("blank_generic", {"OTEL_EXPORTER_OTLP_ENDPOINT": "  "}, False),
    ("generic", {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, True),
    ("logs_only", {"OTEL_EXPORTER_OTLP_LOGS_ENDPOINT": "http://c:4318/v1/logs"}, True),
    ("metrics_only_does_not_count_for_logs", {"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": "http://c:1"}, False),
]


@pytest.mark.parametrize(("env", "expected"), [c[1:] for c in CONFIGURED], ids=[c[0] for c in CONFIGURED])
def test_endpoint_counts_as_configured_only_when_named(env: dict[str, str], expected: bool) -> None:
    assert endpoint_configured("logs", env) is expected
