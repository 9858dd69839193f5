"""OTLP/JSON fragments with the same function set as `wire`, so one encoder writes both.

OTLP/JSON rules (OTLP specification, "JSON Protobuf Encoding"): lowerCamelCase field names,
enum values as integers, 64-bit integers as decimal strings, default values omitted. Every
attribute fragment ends with a comma; `record` drops the last one. Strings are sanitised
exactly like the protobuf path (`wire.text`) so both renderings carry the same text.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping

from beholder.otel.resource import SCHEMA_URL
from beholder.otel.wire import text

_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_NON_FINITE = {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}  # protobuf JSON spelling


def string(value: str) -> bytes:
    """A JSON string literal holding the protobuf-safe text of `value`."""
    return _dumps(text(value).decode()).encode()


def key(name: str) -> bytes:
    return b'{"key":' + string(name) + b',"value":'


def attr_str(key_field: bytes, value: str) -> bytes:
    return key_field + b'{"stringValue":' + string(value) + b"}},"


def attr_int(key_field: bytes, value: int) -> bytes:
    return key_field + b'{"intValue":"%d"}},' % value


def attr_double(key_field: bytes, value: float) -> bytes:
    return key_field + b'{"doubleValue":' + _number(value) + b"}},"


def attr_true(key_field: bytes) -> bytes:
    return key_field + b'{"boolValue":true}},'


def attr_false(key_field: bytes) -> bytes:
    return key_field + b'{"boolValue":false}},'


def attr_str_array(key_field: bytes, values: tuple[str, ...] | list[str]) -> bytes:
    if not values:
        return key_field + b'{"arrayValue":{}}},'
    items = b",".join(b'{"stringValue":' + string(v) + b"}" for v in values)
    return key_field + b'{"arrayValue":{"values":[' + items + b"]}}},"


def _attr_any(key_field: bytes, value: object) -> bytes:
    if isinstance(value, bool):
        return key_field + (b'{"boolValue":true}},' if value else b'{"boolValue":false}},')
    if isinstance(value, int):
        return attr_int(key_field, value)
    if isinstance(value, float):
        return attr_double(key_field, value)
    return attr_str(key_field, str(value))


_LINKS: dict[tuple[bytes, bytes], bytes] = {}  # (trace id, span id) -> both fields; one per process
_LINKS_LIMIT = 4096  # a full cache is cleared


def record(
    time_ns: int,
    observed_ns: int,
    severity: int,
    body: str,
    attributes: bytes,
    event_name: str,
    trace_id: bytes = b"",
    span_id: bytes = b"",
) -> bytes:
    """One LogRecord object (fields in field-number order; ids in hex, as OTLP/JSON writes them)."""
    out = b'{"timeUnixNano":"%d","severityNumber":%d,"body":{"stringValue":%b}' % (
        time_ns,
        severity,
        string(body),
    )
    if attributes:
        out += b',"attributes":[' + attributes[:-1] + b"]"
    if span_id:  # every record of a process carries the same ids: spell them once
        link = _LINKS.get((trace_id, span_id))
        if link is None:
            if len(_LINKS) > _LINKS_LIMIT:
                _LINKS.clear()
            link = _LINKS[(trace_id, span_id)] = b',"traceId":"%b","spanId":"%b"' % (
                trace_id.hex().encode(),
                span_id.hex().encode(),
            )
        out += link
    return out + b',"observedTimeUnixNano":"%d","eventName":%b}' % (observed_ns, string(event_name))


def request(
    resource: Mapping[str, object], scope_name: str, scope_version: str, records: list[bytes]
) -> bytes:
    """One ExportLogsServiceRequest object: one ResourceLogs holding one ScopeLogs."""
    attributes = b"".join(_attr_any(key(k), v) for k, v in resource.items())
    resource_json = b'{"attributes":[' + attributes[:-1] + b"]}" if attributes else b"{}"
    scope = b'{"name":%b,"version":%b}' % (string(scope_name), string(scope_version))
    logs = b',"logRecords":[' + b",".join(records) + b"]" if records else b""
    schema = string(SCHEMA_URL)
    scope_logs = b'[{"scope":%b%b,"schemaUrl":%b}]' % (scope, logs, schema)
    resource_logs = b'{"resource":%b,"scopeLogs":%b,"schemaUrl":%b}' % (resource_json, scope_logs, schema)
    return b'{"resourceLogs":[%b]}' % resource_logs


def _number(value: float) -> bytes:
    """A JSON number, or the protobuf JSON spelling of a non-finite one."""
    return _dumps(value if math.isfinite(value) else _NON_FINITE[str(value)]).encode()
