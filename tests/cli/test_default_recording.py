"""The embedded default output keeps a busy host's first minute (issue 18): `beholder run`
with no output configured, on recorded records at the busy-host rate the issue measured
(120k lines in 22 s), for a simulated minute; `summary --file` and `logs --file` on the
default file still show the first records, read back through the compressed generations.
"""

from __future__ import annotations

import json
import os
import signal
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner

import beholder.sensors.source
from beholder.cli import run_cmd
from beholder.cli.main import cli
from beholder.cli.outputs import DEFAULT_RECORDING
from beholder.events import LossReport
from beholder.events.interfaces import HostIdentity
from beholder.output.rotation import GZIP_MAGIC
from beholder.output.sinks import KubeArmorJsonSink
from beholder.sensors.reader import BatchDecoder
from support.recorded_source import RecordedSource, exec_record, open_record

RATE = 120_000 // 22  # records per second on the busy host of issue 18
PER_CHUNK = 1000
CHUNKS = RATE * 60 // PER_CHUNK  # one minute


def busy_minute() -> list[list[bytes]]:
    """Each chunk: a program start, then opens of distinct files (nothing the kernel folds)."""
    return [
        [exec_record([f"/usr/local/bin/job-{n}", "--minute", "1"], pid=5000 + n)]
        + [
            open_record(f"/var/lib/busy-host/cache/{n:04d}/entry-{i:04d}.json", pid=5000 + n)
            for i in range(PER_CHUNK - 1)
        ]
        for n in range(CHUNKS)
    ]


def paced(monkeypatch: pytest.MonkeyPatch) -> RecordedSource:
    """The minute, each chunk handed over once the default file holds the chunk two before
    it: the kernel's ring buffer holds a few chunks, never the whole minute at once."""
    gates = {n: threading.Event() for n in range(2, CHUNKS)}
    written = [0]
    emit = KubeArmorJsonSink.emit

    def counted(self: KubeArmorJsonSink, events: list, alerts: list) -> None:
        emit(self, events, alerts)
        written[0] += len(events)
        for n in range(2, min(written[0] // PER_CHUNK + 3, CHUNKS)):
            gates[n].set()

    monkeypatch.setattr(KubeArmorJsonSink, "emit", counted)
    return RecordedSource(busy_minute(), gates=gates)


@pytest.fixture
def ran_a_busy_minute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """`beholder run` with its default outputs in `tmp_path`; the stats file's path."""
    source = paced(monkeypatch)
    monkeypatch.setattr(beholder.sensors.source, "KernelSource", lambda _options: source)
    monkeypatch.setattr(run_cmd, "missing_for_run", lambda: "")  # no BPF here: no privileges needed
    monkeypatch.chdir(tmp_path)
    stats = tmp_path / "stats.json"
    stopper = threading.Thread(
        target=lambda: source.drained.wait(600) and os.kill(os.getpid(), signal.SIGTERM)
    )
    stopper.start()  # SIGTERM once all is handed over: `run` stops, drains and closes its outputs
    argv = ["run", "--duration", "600", "--query-socket", "", "--stats-file", str(stats)]
    result = CliRunner().invoke(cli, argv, catch_exceptions=False)
    stopper.join()
    assert result.exit_code == 0, result.output
    assert f"read them with `beholder summary --file {DEFAULT_RECORDING}`" in result.stderr
    return stats


def test_the_first_minute_of_a_busy_host_survives_in_the_default_file(ran_a_busy_minute: Path) -> None:
    stats = json.loads(ran_a_busy_minute.read_text())
    assert stats["lost"] == {}, stats["lost"]  # every record written (a loss would be counted here)
    recording = Path(DEFAULT_RECORDING)
    rotated = sorted(Path().glob(f"{DEFAULT_RECORDING}.*.gz"))
    assert rotated, "a busy minute fills more than one generation"
    assert all(p.read_bytes()[:2] == GZIP_MAGIC for p in rotated)

    first = CliRunner().invoke(
        cli, ["logs", "--file", str(recording), "--logFilter", "all", "--limit", "3", "--json"]
    )
    assert first.exit_code == 0, first.output
    records = [json.loads(line) for line in first.stdout.splitlines()]
    assert [r["Resource"] for r in records] == [
        "/usr/local/bin/job-0 --minute 1",
        "/var/lib/busy-host/cache/0000/entry-0000.json",
        "/var/lib/busy-host/cache/0000/entry-0001.json",
    ]

    summary = CliRunner().invoke(
        cli, ["summary", "--file", str(recording), "--type", "process", "-o", "json"]
    )
    assert summary.exit_code == 0, summary.output
    (host,) = json.loads(summary.stdout)["workloads"]
    started = {row["destination"] for row in host["process"]}
    assert started == {f"/usr/local/bin/job-{n}" for n in range(CHUNKS)}  # the whole minute


def test_a_loss_is_written_where_it_happened_and_logs_file_names_the_gap(tmp_path: Path) -> None:
    path = tmp_path / DEFAULT_RECORDING
    sink = KubeArmorJsonSink(path, HostIdentity(host_name="busy"))
    before, after = (BatchDecoder().decode_batch([open_record(f"/{name}")]) for name in ("before", "after"))
    sink.emit(before, [])
    sink.report_losses([LossReport("handover", 4096, 4096, 1_000_000_000, 1_796_000_000_000_000_000)])
    sink.emit(after, [])
    sink.close()
    result = CliRunner().invoke(cli, ["logs", "--file", str(path), "--logFilter", "all", "--json"])
    assert result.exit_code == 0, result.output
    assert [json.loads(line)["Resource"] for line in result.stdout.splitlines()] == ["/before", "/after"]
    assert "the recording has gaps: the agent lost 4096 records (handover 4096)" in result.stderr
    notice = json.loads(path.read_text().splitlines()[1])
    assert (notice["Type"], notice["Operation"], notice["LostRecords"]) == (
        "SystemEvent",
        "RecordsLost",
        4096,
    )
