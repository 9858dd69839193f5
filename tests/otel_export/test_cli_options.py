"""`beholder run` passes the export bounds (flags, BEHOLDER_RUN_* variables or the config file) to the
OTLP sink."""

from __future__ import annotations

from pathlib import Path

import click
import pytest

from beholder.cli import outputs
from beholder.cli.params import ByteSize
from beholder.cli.run_cmd import command
from beholder.events.interfaces import HostIdentity
from beholder.otel import limits, otlp_sink


@pytest.mark.parametrize(
    ("text", "expected"),
    [("268435456", 256 << 20), ("512KiB", 512 << 10), ("64M", 64 << 20), ("1GiB", 1 << 30), ("2gb", 2 << 30)],
)
def test_sizes_read_as_binary_units(text: str, expected: int) -> None:
    assert ByteSize().convert(text, None, None) == expected


@pytest.mark.parametrize("text", ["", "0", "-5", "1.5GiB", "12 parsecs", "MiB"])
def test_nonsense_sizes_are_one_line_errors(text: str) -> None:
    with pytest.raises(click.BadParameter, match="is not a positive size"):
        ByteSize().convert(text, None, None)


@pytest.fixture(autouse=True)
def no_outside_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("beholder.config.DEFAULT_PATH", tmp_path / "absent.yaml")
    for name in ("BEHOLDER_CONFIG", "BEHOLDER_RUN_SPOOL_MAX_BYTES", "BEHOLDER_RUN_EXPORT_QUEUE_BYTES"):
        monkeypatch.delenv(name, raising=False)


def params(args: list[str]) -> dict[str, object]:
    with command.make_context("run", args) as ctx:
        return dict(ctx.params)


def test_defaults_are_the_exporters_own() -> None:
    got = params([])
    assert got["spool_max_bytes"] == limits.SPOOL_MAX_BYTES
    assert got["export_queue_bytes"] == limits.EXPORT_QUEUE_BYTES


def test_environment_sets_the_bounds_and_flags_win(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BEHOLDER_RUN_SPOOL_MAX_BYTES", "2GiB")
    monkeypatch.setenv("BEHOLDER_RUN_EXPORT_QUEUE_BYTES", "8MiB")
    monkeypatch.setenv("BEHOLDER_RUN_SPOOL_DIR", "/srv/spool")
    got = params(["--export-queue-bytes", "4MiB"])
    assert (got["spool_max_bytes"], got["export_queue_bytes"], got["spool_dir"]) == (
        2 << 30,
        4 << 20,
        "/srv/spool",
    )


def test_the_config_file_sets_the_bounds(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("run:\n  spool-max-bytes: 1GiB\n  export-queue-bytes: 12MiB\n")
    got = params(["--config", str(config)])
    assert (got["spool_max_bytes"], got["export_queue_bytes"]) == (1 << 30, 12 << 20)


def test_the_otlp_output_gets_the_bounds(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, object] = {}
    monkeypatch.setattr(otlp_sink, "build_otlp_sink", lambda *args, **kwargs: seen.update(kwargs))
    ctx = outputs.OutputContext(
        HostIdentity("h"), spool_dir="/s", spool_max_bytes=7 << 30, export_queue_bytes=3 << 20
    )
    outputs.build_sink("otlp", ctx)
    assert seen == {
        "spool_dir": "/s",
        "spool_max_bytes": 7 << 30,
        "queue_max_bytes": 3 << 20,
        "losses": ctx.losses,  # the queue and spool count into the run's one loss ledger
    }
