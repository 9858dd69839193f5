"""Default bounds of the OTLP export path, importable by the CLI without loading the exporter."""

from __future__ import annotations

# Export queue: what it may hold in memory before it spills to the spool (or drops, counted).
EXPORT_QUEUE_BYTES = 8 << 20
# Disk spool: compressed requests waiting for the collector.
SPOOL_MAX_BYTES = 256 << 20
