"""Write recordings the way the agent's sinks write them, for the offline CLI tests."""

from __future__ import annotations

import io
from pathlib import Path

from beholder.events.interfaces import HostIdentity
from beholder.events.model import Alert, Event
from beholder.otel.file_sink import OtlpJsonFileSink
from beholder.otel.resource import resource_attributes
from beholder.output.sinks import KubeArmorJsonSink

HOST = HostIdentity(host_name="node-1", node_name="node-1", cluster_name="pandora")


def kubearmor_file(path: Path, events: list[Event], alerts: list[Alert] = ()) -> Path:
    stream = io.StringIO()
    KubeArmorJsonSink(stream, HOST).emit(events, list(alerts))
    path.write_text(stream.getvalue())
    return path


def otlp_file(path: Path, events: list[Event], alerts: list[Alert] = ()) -> Path:
    sink = OtlpJsonFileSink(path, resource_attributes(HOST, environ={}))
    sink.emit(events, list(alerts))
    sink.close()
    return path
