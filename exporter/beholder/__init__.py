"""Beholder: an OpenTelemetry-native eBPF runtime-security exporter."""

__version__ = "0.1.0"
