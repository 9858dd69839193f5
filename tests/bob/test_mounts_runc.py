"""R1001 and R1004 read a real container's mounts: a runc container on an overlay root (as
containerd mounts one) with a bind-mounted volume, read through /proc/<pid>/mountinfo."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from beholder.enrich.mounts import container_mounts
from beholder.events.model import ContainerInfo
from conftest import require
from support import runc
from support.kernel import kernel_ready
from support.rootfs import overlay_root

pytestmark = pytest.mark.kernel


def test_a_running_container_shows_its_upper_layer_and_its_volume(tmp_path: Path) -> None:
    ok, why = kernel_ready()
    require(ok, why)
    require(runc.BUSYBOX.exists(), "busybox-static not installed")
    ctr = runc.make_bundle(tmp_path / "bundle", ["/bin/sleep", "30"])
    volume = tmp_path / "volume"
    volume.mkdir()
    with overlay_root(tmp_path / "bundle" / "rootfs", tmp_path / "overlay") as merged:
        config_path = ctr.bundle / "config.json"
        config = json.loads(config_path.read_text())
        config["root"]["path"] = str(merged)
        config["mounts"].append(
            {"destination": "/data", "type": "bind", "source": str(volume), "options": ["rbind", "rw"]}
        )
        config_path.write_text(json.dumps(config))
        proc = runc.start(ctr)
        try:
            pid = runc.running_pid(ctr)
            copied = runc.exec_in(ctr, ["/bin/busybox", "cp", "/bin/busybox", "/tmp/drift"], timeout=20)
            assert copied.returncode == 0, copied.stderr
            mounts = container_mounts(ContainerInfo(ctr.container_id), pid)
            assert mounts.upperdir.endswith(str(tmp_path / "overlay" / "upper"))
            assert mounts.not_in_image("/tmp/drift")  # written after the image: drifted
            assert not mounts.not_in_image("/bin/busybox")  # the image's own
            removed = runc.exec_in(ctr, ["/bin/busybox", "rm", "/tmp/drift"], timeout=20)
            assert removed.returncode == 0, removed.stderr
            assert mounts.not_in_image("/tmp/drift")  # gone from the upper layer, in no image layer
            assert not mounts.not_in_image("/data/x")  # the volume is not the overlay
            assert "/data" in mounts.mount_points
            assert not any(p.startswith(("/proc", "/sys", "/dev")) for p in mounts.mount_points)
        finally:
            runc.stop(ctr, proc)
