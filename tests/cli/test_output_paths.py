"""Output, stats and ready files are checked when `run` starts, and the error names the option."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from beholder.cli.main import cli


@pytest.fixture
def read_only_dir(tmp_path: Path) -> Iterator[Path]:
    target = tmp_path / "ro"
    target.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(target)], check=True)
    yield target
    subprocess.run(["umount", str(target)], check=True)


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["run", "--duration", "0", "--query-socket", "", *args])
    return result.exit_code, result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--output", "otlp-file:{tmp}/no/such/dir/x"],
            "Invalid value for --output: {tmp}/no/such/dir/x: directory",
        ),
        (
            ["--output", "kubearmor", "--output-file", "{tmp}/none/k.json"],
            "Invalid value for --output-file: ",
        ),
        (["--output", "console:{tmp}"], "Invalid value for --output: {tmp} is a directory"),
        (
            ["--stats-file", "{ro}/stats.json"],
            "Invalid value for --stats-file: {ro}/stats.json: cannot write: Read-only",
        ),
        (
            ["--ready-file", "{ro}/ready"],
            "Invalid value for --ready-file: {ro}/ready: cannot write: Read-only",
        ),
    ],
    ids=[
        "missing otlp-file dir",
        "missing output-file dir",
        "console to a directory",
        "read-only stats",
        "ready",
    ],
)
def test_unwritable_paths_fail_at_start_naming_the_option(tmp_path, read_only_dir, args, message) -> None:
    code, err = _run(*(a.format(tmp=tmp_path, ro=read_only_dir) for a in args))
    assert code == 2
    assert message.format(tmp=tmp_path, ro=read_only_dir) in err
    assert not (tmp_path / "no").exists(), "no directory tree is created"


def test_the_check_leaves_no_file_behind(tmp_path: Path) -> None:
    from beholder.cli.outputs import check_writable

    check_writable(str(tmp_path / "stats.json"), "--stats-file")
    assert list(tmp_path.iterdir()) == []


def test_one_file_for_two_outputs_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "events.json"
    code, err = _run("--output", f"json:{out}", "--output", f"kubearmor:{out}")
    assert code == 2
    assert f"{out} is already being written by another beholder agent or output" in err


def test_a_file_another_agent_holds_is_refused(tmp_path: Path) -> None:
    from beholder.cli.outputs import claim

    out = tmp_path / "beholder-events.otlp.jsonl"
    held = claim(str(out), "--output")
    try:
        code, err = _run("--output", f"otlp-file:{out}")
    finally:
        os.close(held)
    assert code == 2
    assert f"Invalid value for --output: {out} is already being written" in err
