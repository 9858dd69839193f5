"""A container's mountinfo gives R1001 its upper layer and R1004 its volume mount points."""

from __future__ import annotations

from pathlib import Path

from beholder.enrich.mounts import parse_mountinfo

MOUNTINFO = r"""812 790 0:73 / / rw - overlay overlay rw,lowerdir=/l1:/l2,upperdir=/c/snap\0409/fs,workdir=/w
813 812 0:76 / /proc rw,nosuid,nodev,noexec,relatime - proc proc rw
814 812 0:77 / /dev rw,nosuid - tmpfs tmpfs rw,size=65536k,mode=755
815 814 0:78 / /dev/pts rw,nosuid,noexec,relatime - devpts devpts rw,gid=5,mode=620,ptmxmode=666
816 814 0:79 / /dev/shm rw,nosuid,nodev,noexec,relatime - tmpfs shm rw,size=65536k
817 812 0:80 / /sys ro,nosuid,nodev,noexec,relatime - sysfs sysfs ro
818 817 0:26 / /sys/fs/cgroup ro,nosuid,nodev,noexec,relatime - cgroup2 cgroup rw
819 812 259:1 /kubelet/pods/u/volumes/data /var/lib/postgresql/data rw,relatime - ext4 /dev/root rw
820 812 259:1 /var/lib/kubelet/pods/u/etc-hosts /etc/hosts rw,relatime - ext4 /dev/root rw
821 812 0:81 / /run/secrets/kubernetes.io/serviceaccount ro,relatime - tmpfs tmpfs rw,size=4k
822 812 259:1 /srv/my\040files /my\040files rw,relatime shared:5 master:1 - ext4 /dev/root rw
"""


def test_mountinfo_gives_the_upper_layer_and_the_volumes_only(tmp_path: Path) -> None:
    for layer in ("c/snap 9/fs", "l1/usr/bin", "l2"):
        (tmp_path / layer).mkdir(parents=True)
    (tmp_path / "l1/usr/bin/ls").write_text("")
    mounts = parse_mountinfo(MOUNTINFO, host_root=str(tmp_path))
    assert mounts.upperdir == f"{tmp_path}/c/snap 9/fs"  # through the node's root, unescaped
    assert mounts.lowerdirs == (f"{tmp_path}/l1", f"{tmp_path}/l2")
    assert not mounts.not_in_image("/usr/bin/ls")  # an image layer has it
    assert mounts.not_in_image("/tmp/gone")  # written and deleted: no layer has it
    assert not mounts.not_in_image("/var/lib/postgresql/data/x")  # a volume, not the overlay
    assert not mounts.not_in_image("/dev/shm/x") and not mounts.not_in_image("/memfd:x")
    assert mounts.mount_points == (
        "/var/lib/postgresql/data",
        "/etc/hosts",
        "/run/secrets/kubernetes.io/serviceaccount",
        "/my files",
    )


def test_a_root_that_is_no_overlay_has_no_upper_layer_and_nothing_is_drifted() -> None:
    mounts = parse_mountinfo("1 0 8:1 / / rw - ext4 /dev/sda1 rw\n")
    assert not mounts and not mounts.not_in_image("/bin/sh")
