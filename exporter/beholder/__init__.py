"""Beholder: an OpenTelemetry-native eBPF runtime-security exporter."""

from beholder.native import use_sources_where_needed

__version__ = "0.1.0"
use_sources_where_needed()
