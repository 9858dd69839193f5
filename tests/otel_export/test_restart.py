"""Spooled records survive a SIGKILLed agent; SIGTERM flushes before exit."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord

from beholder.otel import semconv as sc
from beholder.otel.spool import Spool
from otel_export.receiver import RECEIVERS, Collector

HELPER = Path(__file__).with_name("agent_helper.py")


def pids(records: list[LogRecord]) -> list[int]:
    return [next(a.value.int_value for a in r.attributes if a.key == sc.PROCESS_PID) for r in records]


def start_agent(url: str, protocol: str, spool: Path, *args: str) -> subprocess.Popen[str]:
    endpoint = url.split("://", 1)[1] if protocol == "grpc" else url
    env = {
        **os.environ,
        "OTEL_EXPORTER_OTLP_PROTOCOL": protocol,
        "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
        "OTEL_EXPORTER_OTLP_INSECURE": "true",
        "OTEL_EXPORTER_OTLP_TIMEOUT": "2000",
    }
    agent = subprocess.Popen(
        [sys.executable, str(HELPER), "--spool", str(spool), *args],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert agent.stdout is not None
    assert agent.stdout.readline().strip() == "ready"
    return agent


@pytest.mark.parametrize("protocol", list(RECEIVERS))
def test_records_spooled_before_sigkill_arrive_after_restart_in_order(
    protocol: str, collector: Collector, tmp_path: Path
) -> None:
    spool = tmp_path / "spool"
    receiver = RECEIVERS[protocol](collector).start()
    receiver.stop()  # collector down
    first = start_agent(receiver.url, protocol, spool, "--batches", "30", "--per-batch", "20")
    first.send_signal(signal.SIGKILL)
    assert first.wait(30) == -signal.SIGKILL
    assert any(spool.glob("*.seg"))
    assert collector.records() == []

    receiver.start()  # collector back; a new agent replays, then sends its own events
    second = start_agent(
        receiver.url, protocol, spool, "--start", "600", "--batches", "10", "--per-batch", "20", "--no-flush"
    )
    try:
        assert pids(collector.wait_for_records(800)) == list(range(800))
    finally:
        second.send_signal(signal.SIGTERM)
        assert second.wait(30) == 0
        receiver.stop()
    assert Spool(spool, max_bytes=1 << 30).pending_records == 0


def test_sigterm_flushes_queued_records_before_exit(collector: Collector, tmp_path: Path) -> None:
    with RECEIVERS["http/protobuf"](collector) as receiver:
        agent = start_agent(
            receiver.url,
            "http/protobuf",
            tmp_path / "spool",
            "--batches",
            "50",
            "--per-batch",
            "40",
            "--no-flush",
        )
        agent.send_signal(signal.SIGTERM)
        assert agent.wait(30) == 0
        assert pids(collector.records()) == list(range(2000))
