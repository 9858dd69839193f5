"""The runtime of a container whose cgroup path does not name one: from its ancestry or runc's state."""

from __future__ import annotations

from pathlib import Path

import pytest

from beholder.enrich.runtimes import from_runc_state, guess_runtime

CID = "ab" * 32


def _proc(root: Path, pid: int, ppid: int, exe: str) -> None:
    base = root / str(pid)
    base.mkdir(parents=True)
    (base / "status").write_text(f"Name:\tx\nPPid:\t{ppid}\n")
    (base / "exe").symlink_to(exe)


@pytest.mark.parametrize(
    ("parent_exe", "runtime"),
    [
        ("/usr/sbin/runc", "runc"),
        ("/usr/bin/containerd-shim-runc-v2", "containerd"),
        ("/usr/bin/conmon", "cri-o"),
        ("/usr/bin/bash", ""),
    ],
)
def test_runtime_from_the_nearest_runtime_ancestor(tmp_path: Path, parent_exe: str, runtime: str) -> None:
    _proc(tmp_path, 40, 1, parent_exe)
    _proc(tmp_path, 41, 40, "/bin/sh")
    _proc(tmp_path, 42, 41, "/bin/sleep")
    assert guess_runtime(42, CID, tmp_path, tmp_path / "no-runc") == runtime


def test_runc_init_itself_is_runc(tmp_path: Path) -> None:
    _proc(tmp_path, 41, 1, "/usr/sbin/runc")
    assert guess_runtime(41, CID, tmp_path, tmp_path / "no-runc") == "runc"


def test_runtime_from_runc_state_when_the_ancestry_is_gone(tmp_path: Path) -> None:
    state = tmp_path / "run-runc" / "web-1"
    state.mkdir(parents=True)
    (state / "state.json").write_text(f'{{"cgroup_paths": {{"": "/sys/fs/cgroup/kubepods/pod1/{CID}"}}}}')
    _proc(tmp_path, 42, 1, "/bin/sleep")  # reparented to init: no runtime above it
    assert guess_runtime(42, CID, tmp_path, tmp_path / "run-runc") == "runc"
    assert from_runc_state("cd" * 32, tmp_path / "run-runc") == ""
