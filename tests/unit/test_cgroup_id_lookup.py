"""A container named from its cgroup id alone: no process of it needs to be alive."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from beholder.enrich.cgroup_path import CgroupPaths
from beholder.enrich.containers import CGROUP2_ROOTS, ContainerRegistry
from conftest import require


@pytest.fixture
def pod_cgroup() -> Iterator[tuple[Path, str, str]]:
    """A kubelet-shaped container cgroup (cgroupfs driver) with no process in it."""
    paths = CgroupPaths(CGROUP2_ROOTS)
    require(os.geteuid() == 0 and paths.available, f"root and cgroup v2 needed: {paths.error}")
    pod_uid, cid = str(uuid.uuid4()), uuid.uuid4().hex + uuid.uuid4().hex
    pod = Path(paths.root, "kubepods", "besteffort", f"pod{pod_uid}")
    ctr = pod / cid
    ctr.mkdir(parents=True)
    try:
        yield ctr, cid, pod_uid
    finally:
        for directory in (ctr, pod):
            if directory.exists():
                directory.rmdir()


def test_cgroup_id_names_its_container_without_any_live_process(
    pod_cgroup: tuple[Path, str, str], tmp_path: Path
) -> None:
    ctr, cid, pod_uid = pod_cgroup
    registry = ContainerRegistry(proc=tmp_path)  # an empty /proc: no process can be read
    info = registry.resolve(pid=4242, cgroup_id=ctr.stat().st_ino)
    assert info is not None and (info.container_id, info.pod_uid) == (cid, pod_uid)
    assert registry.by_cgroup[ctr.stat().st_ino] is info and not registry.vanished
    assert info.cgroup_dir == str(ctr)  # where its live processes are listed (ownerOnly reads them)


def test_a_cgroup_gone_before_lookup_is_counted_and_a_host_cgroup_is_not(
    pod_cgroup: tuple[Path, str, str], tmp_path: Path
) -> None:
    ctr, _, _ = pod_cgroup
    gone, host = ctr.stat().st_ino, ctr.parent.stat().st_ino
    ctr.rmdir()
    registry = ContainerRegistry(proc=tmp_path)
    assert registry.resolve(pid=4242, cgroup_id=gone) is None and gone in registry.vanished
    assert registry.resolve(pid=4242, cgroup_id=host) is None and host not in registry.vanished


def test_path_of_the_root_and_of_an_unknown_id() -> None:
    paths = CgroupPaths(CGROUP2_ROOTS)
    require(os.geteuid() == 0 and paths.available, f"root and cgroup v2 needed: {paths.error}")
    assert paths.path(Path(paths.root).stat().st_ino) == "/"
    assert paths.path(2**62) is None


def test_runtime_is_guessed_once_per_lookup_and_retried_only_while_unknown(
    pod_cgroup: tuple[Path, str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctr, cid, _ = pod_cgroup  # a cgroupfs path: it names no runtime
    answers, asked = iter(("", "runc")), []

    def guess(pid: int, container_id: str, proc: Path) -> str:
        asked.append((pid, container_id))
        return next(answers)

    monkeypatch.setattr("beholder.enrich.containers.guess_runtime", guess)
    registry = ContainerRegistry(proc=tmp_path)
    info = registry.resolve(pid=4242, cgroup_id=ctr.stat().st_ino)
    assert info is not None and info.runtime == "" and asked == [(4242, cid)]
    assert registry.resolve(pid=4243, cgroup_id=ctr.stat().st_ino) is info and info.runtime == "runc"
    registry.resolve(pid=4244, cgroup_id=ctr.stat().st_ino)
    assert asked == [(4242, cid), (4243, cid)]


def test_run_and_learn_refuse_a_cgroup_id_that_names_no_cgroup(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from beholder.cli.main import cli

    missing = "987654321987"
    for args in (["run", "--duration", "1"], ["profile", "learn", "x", "--duration", "1"]):
        result = CliRunner().invoke(cli, [*args, "--cgroup-id", missing])
        assert result.exit_code == 2, result.output
        assert f"{missing} names no cgroup" in result.stderr


def test_cgroup_dir_is_the_same_directory_whether_found_by_id_or_by_proc(
    pod_cgroup: tuple[Path, str, str], tmp_path: Path
) -> None:
    ctr, cid, _ = pod_cgroup
    relative = "/" + str(ctr.relative_to(CgroupPaths(CGROUP2_ROOTS).root))
    (tmp_path / "4242").mkdir()
    (tmp_path / "4242" / "cgroup").write_text(f"0::/../..{relative}\n")  # a DaemonSet's own cgroup namespace
    registry = ContainerRegistry(proc=tmp_path)
    registry.paths.error = "off for this case"  # force the /proc way in: the answer must not change
    info = registry.resolve(pid=4242, cgroup_id=ctr.stat().st_ino)
    assert info is not None and info.container_id == cid
    assert info.cgroup_dir == str(ctr)


def test_classification_names_host_cgroups_and_containers_for_kernel_interest(
    pod_cgroup: tuple[Path, str, str], tmp_path: Path
) -> None:
    ctr, cid, _ = pod_cgroup
    pod = ctr.parent
    relative = "/" + str(pod.relative_to(CgroupPaths(CGROUP2_ROOTS).root))
    (tmp_path / "7").mkdir()
    (tmp_path / "7" / "cgroup").write_text(f"0::{relative}\n")
    registry = ContainerRegistry(proc=tmp_path)
    known, container = registry.classification(ctr.stat().st_ino, 4242)
    assert known and container is not None and container.container_id == cid
    assert registry.classification(pod.stat().st_ino, 7) == (True, None), "a host cgroup"
    assert registry.classification(2**62, 8) == (False, None), "not known yet: asked again later"
