"""The runtime of a container whose cgroup path does not name one: from its ancestry or runc's state."""

from __future__ import annotations

from pathlib import Path

import pytest

from beholder.enrich.runtimes import from_runc_state, guess_runtime, runc_container_of

CID = "ab" * 32


def _proc(root: Path, pid: int, ppid: int, comm: str) -> None:
    base = root / str(pid)
    base.mkdir(parents=True)
    (base / "status").write_text(f"Name:\t{comm}\nPPid:\t{ppid}\n")
    (base / "comm").write_text(comm + "\n")


@pytest.mark.parametrize(
    ("parent_comm", "runtime"),
    [
        ("runc", "runc"),
        ("containerd-shim", "containerd"),
        ("conmon", "cri-o"),
        ("bash", ""),
    ],
)
def test_runtime_from_the_nearest_runtime_ancestor(tmp_path: Path, parent_comm: str, runtime: str) -> None:
    _proc(tmp_path, 40, 1, parent_comm)
    _proc(tmp_path, 41, 40, "sh")
    _proc(tmp_path, 42, 41, "sleep")
    assert guess_runtime(42, CID, tmp_path, tmp_path / "no-runc") == runtime


def test_runc_init_itself_is_runc(tmp_path: Path) -> None:
    _proc(tmp_path, 41, 1, "runc:[2:INIT]")  # its exe is a sealed memfd copy, not a path
    assert guess_runtime(41, CID, tmp_path, tmp_path / "no-runc") == "runc"


def test_runtime_from_runc_state_when_the_ancestry_is_gone(tmp_path: Path) -> None:
    state = tmp_path / "run-runc" / "web-1"
    state.mkdir(parents=True)
    (state / "state.json").write_text(f'{{"cgroup_paths": {{"": "/sys/fs/cgroup/kubepods/pod1/{CID}"}}}}')
    _proc(tmp_path, 42, 1, "sleep")  # reparented to init: no runtime above it
    assert guess_runtime(42, CID, tmp_path, tmp_path / "run-runc") == "runc"
    assert from_runc_state("cd" * 32, tmp_path / "run-runc") == ""


def test_a_runc_container_with_a_name_for_an_id_is_found_by_its_cgroup(tmp_path: Path) -> None:
    state = tmp_path / "run-runc" / "web-1"
    state.mkdir(parents=True)
    (state / "state.json").write_text('{"id": "web-1", "cgroup_paths": {"": "/sys/fs/cgroup/unified/web-1"}}')
    assert runc_container_of("/web-1", tmp_path / "run-runc") == "web-1"
    assert runc_container_of("/web-2", tmp_path / "run-runc") == ""
    assert runc_container_of("/", tmp_path / "run-runc") == ""
