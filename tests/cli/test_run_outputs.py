"""`beholder run` end to end on recorded records (no BPF): outputs that are not regular files
are written as they are, and every loss reaches the stats file and the closing line.

Bug 1: `--output otlp-file:/dev/null` chmodded /dev/null 0600 and rotated it away. These
tests never point the agent at the real /dev/null: they make their own nodes.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

import beholder.sensors.source
from beholder.cli import run_cmd
from beholder.cli.main import cli
from conftest import require
from support.recorded_source import RecordedSource, exec_record, open_record
from support.tmpfs import small_tmpfs

CHUNKS = 40
PER_CHUNK = 50


def chunks() -> list[list[bytes]]:
    return [[open_record(f"/data/{n}/{i}") for i in range(PER_CHUNK)] for n in range(CHUNKS)]


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[RecordedSource]]:
    """`run` reads recorded records instead of loading BPF; the sources it opened."""
    opened: list[RecordedSource] = []

    def open_source(options: object) -> RecordedSource:
        opened.append(RecordedSource(chunks()))
        return opened[-1]

    monkeypatch.setattr(beholder.sensors.source, "KernelSource", open_source)
    monkeypatch.setattr(run_cmd, "missing_for_run", lambda: "")  # no BPF here: no privileges needed
    yield opened


def run(*args: str) -> Result:
    argv = ["run", "--duration", "0.3", "--query-socket", "", *args]
    return CliRunner().invoke(cli, argv, catch_exceptions=False)


def char_device(path: Path) -> os.stat_result:
    """A node like /dev/null (char 1:3) that the test owns."""
    require(os.geteuid() == 0, "mknod needs root")
    os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    os.chmod(path, 0o666)
    return os.stat(path)


def test_every_output_writes_a_character_device_as_it_is(tmp_path: Path, recorded: list) -> None:
    names = ("console", "kubearmor", "json", "otlp-file")
    nodes = {name: tmp_path / f"{name}.dev" for name in names}
    before = {name: char_device(path) for name, path in nodes.items()}
    stats_node = tmp_path / "stats.dev"
    stats_before = char_device(stats_node)
    result = run(
        *(f"--output={name}:{path}" for name, path in nodes.items()), "--stats-file", str(stats_node)
    )
    assert result.exit_code == 0, result.output
    for name, path in [*nodes.items(), ("stats", stats_node)]:
        after = os.lstat(path)
        expected = before.get(name, stats_before)
        assert stat.S_ISCHR(after.st_mode), name
        assert (stat.S_IMODE(after.st_mode), after.st_rdev) == (0o666, expected.st_rdev), name
        assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(path.name)) == [path.name]
    assert "lost 0" in result.stderr


def test_a_small_otlp_file_limit_rotates_regular_files_but_never_a_device(tmp_path: Path) -> None:
    from beholder.otel.file_sink import OtlpJsonFileSink
    from beholder.sensors.reader import BatchDecoder

    node = tmp_path / "null"
    before = char_device(node)
    regular = tmp_path / "events.jsonl"
    batch = BatchDecoder().decode_batch(chunks()[0])
    for path in (node, regular):
        sink = OtlpJsonFileSink(path, {"service.name": "t"}, max_bytes=4096, backups=2)
        for _ in range(20):
            sink.emit(batch, [])
        sink.close()
        assert sink.written == 20 * len(batch) and sink.lost == 0
    after = os.lstat(node)
    assert stat.S_ISCHR(after.st_mode) and after.st_rdev == before.st_rdev
    assert stat.S_IMODE(after.st_mode) == 0o666
    assert not (tmp_path / "null.1").exists()
    rotated = [tmp_path / "events.jsonl.1.gz", tmp_path / "events.jsonl.2.gz"]
    assert sorted(tmp_path.glob("events.jsonl*")) == [regular, *rotated]  # compressed, none plain
    assert all(stat.S_IMODE(os.stat(p).st_mode) == 0o600 for p in (regular, *rotated))


def read_all(fifo: Path, into: list[bytes]) -> threading.Thread:
    def drain() -> None:
        with open(fifo, "rb") as reader:
            into.append(reader.read())

    thread = threading.Thread(target=drain, daemon=True)
    thread.start()
    return thread


def test_a_fifo_output_and_stats_file_are_written_not_replaced(tmp_path: Path, recorded: list) -> None:
    events, stats = tmp_path / "events.fifo", tmp_path / "stats.fifo"
    os.mkfifo(events, 0o644)
    os.mkfifo(stats, 0o644)
    got_events: list[bytes] = []
    got_stats: list[bytes] = []
    readers = [read_all(events, got_events), read_all(stats, got_stats)]
    result = run("--output", f"json:{events}", "--stats-file", str(stats))
    assert result.exit_code == 0, result.output
    for reader in readers:
        reader.join(timeout=30)
    lines = got_events[0].decode().splitlines()
    assert [json.loads(line)["resource"] for line in lines][:2] == ["/data/0/0", "/data/0/1"]
    assert len(lines) == CHUNKS * PER_CHUNK
    assert json.loads(got_stats[0])["agent"]["decoded"] == CHUNKS * PER_CHUNK
    for fifo in (events, stats):
        assert stat.S_ISFIFO(os.lstat(fifo).st_mode) and stat.S_IMODE(os.lstat(fifo).st_mode) == 0o644


def test_a_unix_socket_output_is_connected_and_written(tmp_path: Path, recorded: list) -> None:
    path = tmp_path / "events.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(1)
    received: list[bytes] = []

    def accept() -> None:
        conn, _ = server.accept()
        with conn:
            received.append(b"".join(iter(lambda: conn.recv(65536), b"")))

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    result = run("--output", f"kubearmor:{path}")
    thread.join(timeout=30)
    server.close()
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in received[0].decode().splitlines()]
    assert len(records) == CHUNKS * PER_CHUNK and records[0]["Resource"] == "/data/0/0"
    assert stat.S_ISSOCK(os.lstat(path).st_mode)


def test_a_symlink_such_as_dev_stdout_is_followed_never_renamed(tmp_path: Path, recorded: list) -> None:
    real = tmp_path / "real.jsonl"
    real.write_text("")
    real.chmod(0o644)
    link = tmp_path / "stdout"
    link.symlink_to(real)
    result = run("--output", f"json:{link}")
    assert result.exit_code == 0, result.output
    assert link.is_symlink() and len(real.read_text().splitlines()) == CHUNKS * PER_CHUNK
    assert stat.S_IMODE(real.stat().st_mode) == 0o644


def errors(caplog: pytest.LogCaptureFixture, text: str) -> int:
    return sum(text in record.getMessage() for record in caplog.records if record.levelno >= logging.ERROR)


def test_a_full_device_loses_every_record_counted_in_one_line(
    tmp_path: Path, recorded: list, caplog: pytest.LogCaptureFixture
) -> None:
    stats = tmp_path / "stats.json"
    result = run("--output", "json:/dev/full", "--stats-file", str(stats))
    assert result.exit_code == 0, result.output
    report = json.loads(stats.read_text())
    total = CHUNKS * PER_CHUNK
    assert report["lost"] == {"output": total}
    assert f"lost {total} (output {total})" in result.stderr
    assert errors(caplog, "cannot write") == 1  # not one line per batch
    assert report["agent"]["batches"] > 1


def test_a_full_filesystem_is_one_error_line_and_every_record_is_written_or_counted(
    tmp_path: Path, recorded: list, caplog: pytest.LogCaptureFixture
) -> None:
    with small_tmpfs(tmp_path) as small:
        stats = tmp_path / "stats.json"
        result = run("--output", f"json:{small / 'events.jsonl'}", "--stats-file", str(stats))
        written = len((small / "events.jsonl").read_bytes().splitlines())
    assert result.exit_code == 0, result.output
    report = json.loads(stats.read_text())
    lost = report["lost"]["output"]
    assert lost > 0 and written > 0
    assert written + lost >= CHUNKS * PER_CHUNK  # a batch cut short by the full disk counts whole
    assert f"(output {lost})" in result.stderr
    assert errors(caplog, "No space left on device") == 1


def test_live_learning_masks_secrets_and_asks_the_kernel_for_syscall_counts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from beholder.bob.learn import ProfileLearner

    asked: list[object] = []
    seen: list[tuple[str, ...]] = []

    def open_source(options: object) -> RecordedSource:
        asked.append(options)
        return RecordedSource([[exec_record(["/usr/bin/mysql", "-uroot", "--password=hunter2"])]])

    observe = ProfileLearner.observe

    def watching(self: ProfileLearner, events: list) -> None:
        seen.extend(event.argv for event in events)
        observe(self, events)

    monkeypatch.setattr(beholder.sensors.source, "KernelSource", open_source)
    monkeypatch.setattr(ProfileLearner, "observe", watching)
    result = CliRunner().invoke(cli, ["profile", "learn", "web", "--duration", "0.5"])
    assert "no events matched" in result.output  # no container ran: nothing to write
    assert [getattr(options, "syscall_counts", None) for options in asked] == [True]
    assert seen and all("hunter2" not in " ".join(argv) for argv in seen), seen
    assert any(argv[:2] == ("/usr/bin/mysql", "-uroot") for argv in seen)
