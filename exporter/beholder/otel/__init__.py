"""OpenTelemetry export: semantic convention, OTLP log encoding, exporters and sinks."""

import logging

# The SDK's resource detector warns about a broken OTEL_RESOURCE_ATTRIBUTES entry each time
# it builds a Resource (at import, and for the metrics); `encode.resource_attributes` says it
# once, in our words, and keeps the valid pairs as the SDK does.
logging.getLogger("opentelemetry.sdk.resources").setLevel(logging.ERROR)
