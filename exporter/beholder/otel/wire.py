"""Protobuf wire-format pieces for OTLP log records, written as bytes.

Building one `LogRecord` message object per event (and a `KeyValue` per attribute) costs
more than the whole encoding budget, so the encoder concatenates pre-encoded byte chunks and
lets the C protobuf runtime parse the finished batch once. Only the handful of field tags the
logs data model needs live here; field numbers are from opentelemetry-proto's logs.proto
and common.proto.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from typing import Final

from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.resource.v1.resource_pb2 import Resource

from beholder.otel.resource import SCHEMA_URL

# LogRecord fields (logs.proto)
LR_TIME: Final = b"\x09"  # 1, fixed64
LR_SEVERITY_NUMBER: Final = b"\x10"  # 2, enum
LR_BODY: Final = b"\x2a"  # 5, AnyValue
LR_ATTRIBUTE: Final = b"\x32"  # 6, repeated KeyValue
LR_TRACE_ID: Final = b"\x4a"  # 9, bytes
LR_SPAN_ID: Final = b"\x52"  # 10, bytes
LR_OBSERVED_TIME: Final = b"\x59"  # 11, fixed64
LR_EVENT_NAME: Final = b"\x62"  # 12, string
# Containers: ExportLogsServiceRequest.resource_logs, ResourceLogs.resource/scope_logs,
# ScopeLogs.scope/log_records, InstrumentationScope.name/version.
FIELD_1: Final = b"\x0a"
FIELD_2: Final = b"\x12"
FIELD_3: Final = b"\x1a"  # ResourceLogs/ScopeLogs (and ResourceSpans/ScopeSpans).schema_url
# AnyValue fields (common.proto); KeyValue.key is FIELD_1 and KeyValue.value is FIELD_2.
AV_STRING: Final = b"\x0a"
AV_BOOL_TRUE: Final = b"\x10\x01"
AV_INT: Final = b"\x18"
AV_DOUBLE: Final = b"\x21"  # 4, fixed64
AV_ARRAY: Final = b"\x2a"

_SMALL: Final = tuple(bytes((i,)) if i < 0x80 else bytes((i & 0x7F | 0x80, i >> 7)) for i in range(1 << 14))
fixed64: Final = struct.Struct("<Q").pack
_double: Final = struct.Struct("<d").pack


def varint(value: int) -> bytes:
    """Base-128 varint; negative numbers as 64-bit two's complement, like int64 fields."""
    if 0 <= value < 16384:
        return _SMALL[value]
    value &= 0xFFFFFFFFFFFFFFFF
    out = bytearray()
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def text(value: str) -> bytes:
    """UTF-8 that protobuf accepts: lone surrogates (undecodable bytes) become `\\udcXX`."""
    try:
        return value.encode()
    except UnicodeEncodeError:
        return value.encode("utf-8", "backslashreplace")


def delimited(tag: bytes, payload: bytes) -> bytes:
    """A length-delimited field: tag, length, payload."""
    n = len(payload)
    return tag + (_SMALL[n] if n < 16384 else varint(n)) + payload


def key(name: str) -> bytes:
    """The encoded `KeyValue.key` field, computed once per attribute name."""
    return delimited(FIELD_1, text(name))


def attr_str(key_field: bytes, value: str) -> bytes:
    """A whole LogRecord attribute field holding a string: the lengths first, then one join
    (nested `delimited` calls would copy the value once per enclosing field)."""
    v = text(value)
    n = len(v)
    n_len = _SMALL[n] if n < 16384 else varint(n)
    av = 1 + len(n_len) + n  # AnyValue: tag, length, UTF-8
    av_len = _SMALL[av] if av < 16384 else varint(av)
    kv = len(key_field) + 1 + len(av_len) + av  # KeyValue: key, value field
    kv_len = _SMALL[kv] if kv < 16384 else varint(kv)
    return b"".join((LR_ATTRIBUTE, kv_len, key_field, FIELD_2, av_len, AV_STRING, n_len, v))


def attr_int(key_field: bytes, value: int) -> bytes:
    """A whole LogRecord attribute field holding an int64."""
    av = AV_INT + (_SMALL[value] if 0 <= value < 16384 else varint(value))
    return delimited(LR_ATTRIBUTE, key_field + FIELD_2 + _SMALL[len(av)] + av)


def attr_double(key_field: bytes, value: float) -> bytes:
    """A whole LogRecord attribute field holding a double."""
    return delimited(LR_ATTRIBUTE, key_field + FIELD_2 + b"\x09" + AV_DOUBLE + _double(value))


def attr_true(key_field: bytes) -> bytes:
    """A whole LogRecord attribute field holding boolean true."""
    return delimited(LR_ATTRIBUTE, key_field + FIELD_2 + b"\x02" + AV_BOOL_TRUE)


def attr_false(key_field: bytes) -> bytes:
    """A whole LogRecord attribute field holding boolean false."""
    return delimited(LR_ATTRIBUTE, key_field + FIELD_2 + b"\x02\x10\x00")


def attr_str_array(key_field: bytes, values: tuple[str, ...] | list[str]) -> bytes:
    """A whole LogRecord attribute field holding an array of strings."""
    array = b"".join(delimited(FIELD_1, delimited(AV_STRING, text(v))) for v in values)
    return delimited(LR_ATTRIBUTE, key_field + delimited(FIELD_2, delimited(AV_ARRAY, array)))


_SEVERITY: dict[int, bytes] = {}
_EVENT_NAME: dict[str, bytes] = {}
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
    """One `ScopeLogs.log_records` field holding a LogRecord (linked to a span when ids are given).

    No SeverityText: it is for a severity as the source wrote it, and the kernel wrote none.
    """
    sev = _SEVERITY.get(severity)
    if sev is None:
        sev = _SEVERITY[severity] = LR_SEVERITY_NUMBER + varint(severity)
    name = _EVENT_NAME.get(event_name)
    if name is None:
        name = _EVENT_NAME[event_name] = delimited(LR_EVENT_NAME, text(event_name))
    body_value = text(body)
    n = len(body_value)
    n_len = _SMALL[n] if n < 16384 else varint(n)
    body_size = 1 + len(n_len) + n  # AnyValue: tag, length, UTF-8
    body_len = _SMALL[body_size] if body_size < 16384 else varint(body_size)
    link = b""
    if span_id:  # every record of a process carries the same ids: encode them once
        cached = _LINKS.get((trace_id, span_id))
        if cached is None:
            if len(_LINKS) > _LINKS_LIMIT:
                _LINKS.clear()
            cached = _LINKS[(trace_id, span_id)] = delimited(LR_TRACE_ID, trace_id) + delimited(
                LR_SPAN_ID, span_id
            )
        link = cached
    # LogRecord: two fixed64 fields (9 bytes each), severity, body, attributes, ids, name
    size = 18 + len(sev) + 1 + len(body_len) + body_size + len(attributes) + len(link) + len(name)
    return b"".join(
        (
            FIELD_2,
            _SMALL[size] if size < 16384 else varint(size),
            LR_TIME,
            fixed64(time_ns),
            LR_OBSERVED_TIME,
            fixed64(observed_ns),
            sev,
            LR_BODY,
            body_len,
            AV_STRING,
            n_len,
            body_value,
            attributes,
            link,
            name,
        )
    )


def _any_value(value: object) -> AnyValue:
    if isinstance(value, bool):
        return AnyValue(bool_value=value)
    if isinstance(value, int):
        return AnyValue(int_value=value)
    if isinstance(value, float):
        return AnyValue(double_value=value)
    return AnyValue(string_value=str(value))


def request(
    resource: Mapping[str, object],
    scope_name: str,
    scope_version: str,
    records: list[bytes],
    schema_url: str = SCHEMA_URL,
) -> bytes:
    """A serialized Export{Logs,Trace}ServiceRequest: one Resource{Logs,Spans} holding one
    Scope{Logs,Spans}, both declaring `schema_url` (the two messages share field numbers).

    The lengths are summed first and the request is joined once: nesting `delimited` calls
    would copy the whole batch (megabytes) once per enclosing message."""
    res = Resource(attributes=[KeyValue(key=k, value=_any_value(v)) for k, v in resource.items()])
    scope = delimited(FIELD_1, delimited(FIELD_1, text(scope_name)) + delimited(FIELD_2, text(scope_version)))
    schema = delimited(FIELD_3, text(schema_url))
    resource_field = delimited(FIELD_1, res.SerializeToString())
    scope_size = len(scope) + sum(map(len, records)) + len(schema)  # Scope{Logs,Spans}
    scope_head = FIELD_2 + varint(scope_size)
    resource_size = len(resource_field) + len(scope_head) + scope_size + len(schema)  # Resource{Logs,Spans}
    head = (FIELD_1 + varint(resource_size), resource_field, scope_head, scope)
    return b"".join((*head, *records, schema, schema))
