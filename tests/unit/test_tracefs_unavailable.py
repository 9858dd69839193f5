"""No tracefs and no `mount` binary to mount one: one SensorError line, never a bare OSError."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from beholder.sensors import kernel
from beholder.sensors.program import Program, ProgramOptions, SensorError


@pytest.fixture
def no_tracefs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(kernel, "TRACEFS_CANDIDATES", (tmp_path / "tracing", tmp_path / "debug" / "tracing"))
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))  # `mount` cannot be found
    kernel.tracefs.cache_clear()
    yield
    kernel.tracefs.cache_clear()


@pytest.mark.usefixtures("no_tracefs")
def test_missing_mount_binary_means_no_tracefs() -> None:
    assert kernel.tracefs() is None
    assert kernel.syscall_args("openat") == []


@pytest.mark.usefixtures("no_tracefs")
def test_missing_tracefs_is_one_sensor_error_line() -> None:
    with pytest.raises(SensorError) as caught:
        Program(ProgramOptions(sensors=("process", "file")))
    message = str(caught.value)
    assert message.startswith("no sensor can run (") and "not available" in message
    assert "\n" not in message
