"""The agent imports what its configuration uses, not every library the CLI could need:
each of these costs a long-running agent several MiB of RSS (docs/reliability.md)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

AGENT_SIDE = """
import json, sys
from beholder.cli.main import cli
cli.get_command(None, "run")
from beholder.otel.config import OtlpConfig
from beholder.otel.metrics import start_metrics
from beholder.otel.transport import make_transport
protocol = sys.argv[1]
if protocol != "none":
    endpoint = "127.0.0.1:9" if protocol == "grpc" else "http://127.0.0.1:9/v1/logs"
    make_transport(OtlpConfig(signal="logs", protocol=protocol, endpoint=endpoint, insecure=True)).close()
    metrics = OtlpConfig(signal="metrics", protocol=protocol, endpoint=endpoint, insecure=True)
    start_metrics({}, metrics).provider.shutdown(timeout_millis=100)
print(json.dumps(sorted({name.split(".")[0] for name in sys.modules})))
"""


def top_level_modules(protocol: str) -> set[str]:
    command = [sys.executable, "-c", AGENT_SIDE, protocol]
    out = subprocess.run(command, capture_output=True, text=True, check=True)
    return set(json.loads(out.stdout.splitlines()[-1]))


def test_run_does_not_load_the_other_commands_libraries() -> None:
    loaded = top_level_modules("none")
    assert not loaded & {"rich", "grpc", "requests", "urllib3", "prometheus_client"}


@pytest.mark.parametrize(
    ("protocol", "absent"), [("grpc", {"requests", "urllib3"}), ("http/protobuf", {"grpc"})]
)
def test_an_otlp_protocol_loads_only_its_own_client(protocol: str, absent: set[str]) -> None:
    loaded = top_level_modules(protocol)
    assert not loaded & absent
    assert not loaded & {"prometheus_client", "rich"}
