"""Container id, runtime and pod UID from every cgroup layout a node can have."""

from __future__ import annotations

import pytest

from beholder.enrich.cgroup import CgroupIdentity, parse_cgroup_path, parse_proc_cgroup

CID = "7aca8d52d35ab7872df6a454ca32339386be755d9ed6bd6bf7b37ec6aaf277e4"
POD = "0b5f6a2e-1c3d-4e5f-8a9b-0c1d2e3f4a5b"
POD_SYSTEMD = POD.replace("-", "_")

CASES = {
    "containerd cgroupfs (kubelet)": (f"/kubepods/besteffort/pod{POD}/{CID}", CgroupIdentity(CID, "", POD)),
    "containerd systemd": (
        f"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{POD_SYSTEMD}.slice/cri-containerd-{CID}.scope",
        CgroupIdentity(CID, "containerd", POD),
    ),
    "cri-o systemd": (
        f"/kubepods.slice/kubepods-pod{POD_SYSTEMD}.slice/crio-{CID}.scope",
        CgroupIdentity(CID, "cri-o", POD),
    ),
    "cri-o cgroupfs": (f"/kubepods/pod{POD}/crio-{CID}", CgroupIdentity(CID, "cri-o", POD)),
    "docker cgroupfs": (f"/docker/{CID}", CgroupIdentity(CID, "docker", "")),
    "docker systemd": (f"/system.slice/docker-{CID}.scope", CgroupIdentity(CID, "docker", "")),
    "podman": (f"/machine.slice/libpod-{CID}.scope/container", CgroupIdentity(CID, "podman", "")),
    "plain runc": (f"/mycontainers/{CID}", CgroupIdentity(CID, "", "")),
    "runc systemd, a name for an id": ("/system.slice/runc-web-1.scope", CgroupIdentity("web-1", "runc", "")),
    "host user session": ("/user.slice/user-0.slice/session-3.scope", None),
    "host root": ("/", None),
    "short hex is not a container": ("/system.slice/deadbeef", None),
}


@pytest.mark.parametrize("path,expected", CASES.values(), ids=CASES.keys())
def test_cgroup_path_identifies_container(path: str, expected: CgroupIdentity | None) -> None:
    assert parse_cgroup_path(path) == expected


def test_proc_cgroup_prefers_the_line_with_a_pod_uid() -> None:
    text = f"12:memory:/docker/{CID}\n0::/kubepods/besteffort/pod{POD}/{CID}\n"
    assert parse_proc_cgroup(text) == CgroupIdentity(CID, "", POD)


def test_proc_cgroup_of_a_host_process_is_none() -> None:
    assert parse_proc_cgroup("0::/init.scope\n1:name=systemd:/init.scope\n") is None
