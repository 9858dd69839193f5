"""Live conformance check: does an OTLP logs request follow Beholder's semantic convention?

Used by our tests and by receiver tests on whatever reached the collector. It reads only the
generated `semconv` constants, so it needs no YAML at run time.
"""

from __future__ import annotations

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from beholder.otel import semconv as sc
from beholder.otel.severity import SEVERITY_NAMES

_KINDS = {"string_value": "string", "int_value": "int", "bool_value": "boolean", "double_value": "double"}
EVENT_NAMES = frozenset(v for k, v in vars(sc).items() if k.startswith("EVENT_") and isinstance(v, str))


def declared_type(key: str) -> str | None:
    """Declared value type of an emitted key (exact name or `<template>.<key>`), else None."""
    found = sc.ATTRIBUTE_TYPES.get(key)
    if found is not None:
        return found
    head = key
    while "." in head:
        head = head.rsplit(".", 1)[0]
        if head in sc.TEMPLATE_PREFIXES:
            return sc.ATTRIBUTE_TYPES[head]
    return None


def value_type(value: AnyValue) -> str:
    """The semconv type name of an AnyValue (`string[]` for an all-string array)."""
    kind = value.WhichOneof("value")
    if kind == "array_value":
        inner = {_KINDS.get(v.WhichOneof("value") or "", "?") for v in value.array_value.values}
        return f"{inner.pop()}[]" if len(inner) == 1 else "mixed[]"
    return _KINDS.get(kind or "", kind or "empty")


def _check_kvs(where: str, kvs: list[KeyValue] | object, strict: bool) -> list[str]:
    problems = []
    seen: set[str] = set()
    for kv in kvs:  # type: ignore[attr-defined]
        if kv.key in seen:
            problems.append(f"{where}: duplicate attribute {kv.key}")
        seen.add(kv.key)
        declared = declared_type(kv.key)
        if declared is None:
            if strict:
                problems.append(f"{where}: undeclared attribute {kv.key}")
            continue
        actual = value_type(kv.value)
        if actual != declared:
            problems.append(f"{where}: {kv.key} is {actual}, declared {declared}")
        elif kv.key in sc.ENUM_VALUES and kv.value.string_value not in sc.ENUM_VALUES[kv.key]:
            problems.append(f"{where}: {kv.key}={kv.value.string_value!r} is not a declared member")
    return problems


def check_attributes(request: ExportLogsServiceRequest) -> list[str]:
    """Every semconv violation in the request, one line each; empty means conformant.

    Record attributes must all be declared with the right type; resource attributes are
    type-checked when declared (OTEL_RESOURCE_ATTRIBUTES may legitimately add others).
    """
    problems = []
    for r, resource_logs in enumerate(request.resource_logs):
        problems += _check_kvs(
            f"resource_logs[{r}].resource", resource_logs.resource.attributes, strict=False
        )
        for s, scope_logs in enumerate(resource_logs.scope_logs):
            for i, record in enumerate(scope_logs.log_records):
                where = f"resource_logs[{r}].scope_logs[{s}].log_records[{i}]"
                if record.event_name not in EVENT_NAMES:
                    problems.append(f"{where}: undeclared event name {record.event_name!r}")
                if record.severity_number not in SEVERITY_NAMES or record.severity_text:
                    severity = f"{record.severity_number}/{record.severity_text!r}"
                    problems.append(f"{where}: severity {severity} is not a number of the table without text")
                problems += _check_kvs(where, record.attributes, strict=True)
    return problems
