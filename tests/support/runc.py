"""Real containers for tests: a busybox rootfs run by `runc` with a kubelet-shaped cgroup.

The cgroup path `/kubepods/besteffort/pod<uid>/<64-hex id>` is what kubelet's cgroupfs
driver creates, so attribution is exercised exactly as on a Kubernetes node.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

BUSYBOX = Path("/bin/busybox")
# containerd's default capability set for a pod's container (what `kubectl exec` gets).
POD_CAPABILITIES = (
    "CHOWN", "DAC_OVERRIDE", "FSETID", "FOWNER", "MKNOD", "NET_RAW", "SETGID", "SETUID",
    "SETFCAP", "SETPCAP", "NET_BIND_SERVICE", "SYS_CHROOT", "KILL", "AUDIT_WRITE",
)  # fmt: skip
APPLETS = ("sh", "true", "cat", "echo", "ls", "sleep", "touch", "rm", "ps", "nslookup", "wget", "id", "mkdir")


@dataclass
class Container:
    name: str
    container_id: str
    pod_uid: str
    bundle: Path

    @property
    def cgroups_path(self) -> str:
        return f"/kubepods/besteffort/pod{self.pod_uid}/{self.container_id}"


def make_bundle(root: Path, args: list[str]) -> Container:
    """A runnable OCI bundle under `root` whose process runs `args`."""
    if not BUSYBOX.exists() or not shutil.which("runc"):
        raise FileNotFoundError("runc and busybox-static are required (make test-deps installs them)")
    container = new_container(root)
    rootfs = root / "rootfs"
    for sub in ("bin", "proc", "sys", "dev", "etc", "tmp"):
        (rootfs / sub).mkdir(parents=True, exist_ok=True)
    shutil.copy2(BUSYBOX, rootfs / "bin" / "busybox")
    for applet in APPLETS:
        (rootfs / "bin" / applet).symlink_to("busybox")
    (rootfs / "etc" / "hostname").write_text("beholder-test\n")
    write_config(container, args)
    return container


def new_container(bundle: Path, name_prefix: str = "beholder-test") -> Container:
    """A fresh identity (name, 64-hex id, pod UID) for a container whose bundle is `bundle`."""
    return Container(
        name=f"{name_prefix}-{uuid.uuid4().hex[:8]}",
        container_id=uuid.uuid4().hex + uuid.uuid4().hex,
        pod_uid=str(uuid.uuid4()),
        bundle=bundle,
    )


def write_config(
    container: Container, args: list[str], *, rootfs: Path | None = None, pod_defaults: bool = False
) -> None:
    """`runc spec` adjusted: our args, writable root, the kubelet-shaped cgroup path.

    `pod_defaults` gives the process what a Kubernetes pod's container gets from containerd
    (its default capability set, privilege escalation allowed), not runc's minimal set.
    """
    root = container.bundle
    subprocess.run(["runc", "spec"], cwd=root, check=True)
    config = json.loads((root / "config.json").read_text())
    config["process"]["args"] = args
    config["process"]["terminal"] = False
    config["root"]["readonly"] = False
    if rootfs is not None:
        config["root"]["path"] = str(rootfs)
    config["linux"]["cgroupsPath"] = container.cgroups_path
    if pod_defaults:
        caps = [f"CAP_{name}" for name in POD_CAPABILITIES]
        config["process"]["capabilities"] = {k: caps for k in ("bounding", "effective", "permitted")}
        config["process"]["noNewPrivileges"] = False
    (root / "config.json").write_text(json.dumps(config))


def cgroup2_root() -> Path:
    """Where the cgroup v2 hierarchy is mounted (hybrid hosts keep it under `unified`)."""
    for root in ("/sys/fs/cgroup/unified", "/sys/fs/cgroup"):
        if Path(root, "cgroup.controllers").exists() or Path(root, "cgroup.procs").exists():
            return Path(root)
    raise FileNotFoundError("no cgroup v2 hierarchy mounted")


def precreate_cgroup(container: Container) -> int:
    """Create the container's cgroup v2 directory ahead of runc (which then uses it) and
    return its id, so an agent can be told to trace only this container (`--cgroup-id`)."""
    path = Path(str(cgroup2_root()) + container.cgroups_path)
    path.mkdir(parents=True, exist_ok=True)
    return path.stat().st_ino


def run(container: Container, timeout: float = 60) -> subprocess.CompletedProcess[bytes]:
    """Run the container to completion (foreground, like `kubectl run --rm`)."""
    try:
        return subprocess.run(
            ["runc", "run", "--bundle", str(container.bundle), container.name],
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    finally:
        subprocess.run(["runc", "delete", "--force", container.name], capture_output=True, check=False)


def exec_in(
    container: Container, argv: list[str] | tuple[str, ...], timeout: float
) -> subprocess.CompletedProcess[str]:
    """Run `argv` in a running container as `kubectl exec` would (its user, env and cwd)."""
    return subprocess.run(
        ["runc", "exec", container.name, *argv],
        capture_output=True,
        text=True,
        errors="replace",
        timeout=timeout,
        check=False,
    )


def start(container: Container) -> subprocess.Popen[bytes]:
    """Run the container in the background (a long-running pod); end it with `stop`."""
    return subprocess.Popen(
        ["runc", "run", "--bundle", str(container.bundle), container.name],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def stop(container: Container, proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
    """Kill a container started with `start` and remove it."""
    subprocess.run(["runc", "kill", container.name, "KILL"], capture_output=True, check=False)
    try:
        proc.wait(timeout=timeout)
    finally:
        subprocess.run(["runc", "delete", "--force", container.name], capture_output=True, check=False)


def running_pid(container: Container, timeout: float = 20) -> int:
    """The host pid of a started container's process, once runc says it runs."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = subprocess.run(["runc", "state", container.name], capture_output=True, text=True, check=False)
        if state.returncode == 0 and json.loads(state.stdout).get("status") == "running":
            return int(json.loads(state.stdout)["pid"])
        time.sleep(0.1)
    raise TimeoutError(f"container {container.name} did not start")
