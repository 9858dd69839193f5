"""OpenTelemetry export: semantic convention, OTLP log encoding, exporters and sinks."""
