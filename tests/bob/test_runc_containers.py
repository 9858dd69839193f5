"""What the agent reads of a real runc container besides its events: its mounts, through
/proc/<pid>/mountinfo (R1001 and R1004: an overlay root, as containerd mounts one, and a
bind-mounted volume), and its identity when runc names it rather than giving a 64-hex id
(`runc run web` with runc's default cgroup `/web`)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import pytest

from beholder.enrich.containers import ContainerRegistry
from beholder.enrich.mounts import container_mounts
from beholder.events.model import ContainerInfo
from conftest import require
from support import runc
from support.kernel import kernel_ready
from support.rootfs import overlay_root

pytestmark = pytest.mark.kernel


@contextmanager
def sleeping(
    bundle: Path, adjust: Callable[[runc.Container, dict[str, Any]], None]
) -> Iterator[tuple[runc.Container, int]]:
    """A busybox container sleeping under runc, its config adjusted first; (container, pid)."""
    ok, why = kernel_ready()
    require(ok, why)
    require(runc.BUSYBOX.exists(), "busybox-static not installed")
    ctr = runc.make_bundle(bundle, ["/bin/sleep", "30"])
    config_path = ctr.bundle / "config.json"
    config = json.loads(config_path.read_text())
    adjust(ctr, config)
    config_path.write_text(json.dumps(config))
    proc = runc.start(ctr)
    try:
        yield ctr, runc.running_pid(ctr)
    finally:
        runc.stop(ctr, proc)


def test_a_running_container_shows_its_upper_layer_and_its_volume(tmp_path: Path) -> None:
    volume = tmp_path / "volume"
    volume.mkdir()
    bind = {"destination": "/data", "type": "bind", "source": str(volume), "options": ["rbind", "rw"]}
    with ExitStack() as unmount:

        def on_overlay(ctr: runc.Container, config: dict[str, Any]) -> None:
            merged = unmount.enter_context(overlay_root(ctr.bundle / "rootfs", tmp_path / "overlay"))
            config["root"]["path"] = str(merged)
            config["mounts"].append(bind)

        with sleeping(tmp_path / "bundle", on_overlay) as (ctr, pid):
            copied = runc.exec_in(ctr, ["/bin/busybox", "cp", "/bin/busybox", "/tmp/drift"], timeout=20)
            assert copied.returncode == 0, copied.stderr
            mounts = container_mounts(ContainerInfo(ctr.container_id), pid)
            assert mounts.upperdir.endswith(str(tmp_path / "overlay" / "upper"))
            assert mounts.lowerdirs == (str(ctr.bundle / "rootfs"),)
            assert mounts.not_in_image("/tmp/drift")  # written after the image: drifted
            assert not mounts.not_in_image("/bin/busybox")  # the image's own
            removed = runc.exec_in(ctr, ["/bin/busybox", "rm", "/tmp/drift"], timeout=20)
            assert removed.returncode == 0, removed.stderr
            assert mounts.not_in_image("/tmp/drift")  # gone from the upper layer, in no image layer
            assert not mounts.not_in_image("/data/x")  # the volume is not the overlay
            assert "/data" in mounts.mount_points
            assert not any(p.startswith(("/proc", "/sys", "/dev")) for p in mounts.mount_points)


def test_a_runc_container_named_web_is_container_web(tmp_path: Path) -> None:
    def default_cgroup(ctr: runc.Container, config: dict[str, Any]) -> None:
        del config["linux"]["cgroupsPath"]  # runc's default: a cgroup named after the container

    with sleeping(tmp_path / "bundle", default_cgroup) as (ctr, pid):
        cgroup = Path(f"/proc/{pid}/cgroup").read_text()
        unified = next(line[3:] for line in cgroup.splitlines() if line.startswith("0::"))
        assert ctr.name in unified and ctr.container_id not in unified
        cgroup_id = os.stat(str(runc.cgroup2_root()) + unified).st_ino
        info = ContainerRegistry().resolve(pid, cgroup_id)
        assert info is not None and (info.container_id, info.runtime) == (ctr.name, "runc")
