"""Real database pods for the suites: Debian's PostgreSQL 15 and MariaDB 10.11 under runc.

Each pod is a server and a client container, both from one Debian image (the suites'
clients carry the server's tools) plus a small top layer holding the entrypoint, as an
official image does: the server initialises its data volume on first start, then execs
the daemon. Containers get what kubelet and containerd give a pod: a kubelet-shaped
cgroup, containerd's default capabilities, kubelet's resolv.conf/hosts/hostname, a
service-account token, emptyDir volumes, `/dev/shm` noexec, and a network namespace
shared with the cluster stand-in (netns.py).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from realworld.netns import Network
from support import rootfs, runc
from support.runc import Container

CONTAINERD_CAPS = tuple(f"CAP_{name}" for name in runc.POD_CAPABILITIES)
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
API_SERVER = "10.43.0.1"
TOKEN_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
TOKEN = "eyJhbGciOiJSUzI1NiIsImtpZCI6InRlc3QifQ.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6dGVzdCJ9.c2lnbmF0dXJl"

PG_ENTRYPOINT = r"""#!/bin/sh
# Initialise the data volume on first start (as the official image does), then run the server.
set -e
BIN=/usr/lib/postgresql/15/bin
export PGDATA=/var/lib/postgresql/data
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  "$BIN/initdb" --username=postgres --auth-local=trust --auth-host=scram-sha-256 --locale=C.UTF-8 >/dev/null
  "$BIN/pg_ctl" -w -o "-c listen_addresses='' -c unix_socket_directories=/tmp" start >/dev/null
  "$BIN/psql" -h /tmp -U postgres -v ON_ERROR_STOP=1 -q -d postgres \
    -c "CREATE ROLE app LOGIN PASSWORD 'apppass'" -c "CREATE DATABASE app OWNER app"
  "$BIN/pg_ctl" -w -m fast stop >/dev/null
  echo "host all all 0.0.0.0/0 scram-sha-256" >> "$PGDATA/pg_hba.conf"
fi
exec "$BIN/postgres" -c listen_addresses='*' -c unix_socket_directories=/tmp
"""

MARIADB_ENTRYPOINT = r"""#!/bin/sh
# Initialise the data volume on first start (as the official image does), then run the server.
set -e
mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld
if [ ! -d /var/lib/mysql/mysql ]; then
  mariadb-install-db --user=mysql --datadir=/var/lib/mysql --skip-test-db >/dev/null
fi
exec mariadbd --user=mysql --datadir=/var/lib/mysql --bind-address=0.0.0.0 --port=3306 \
  --socket=/run/mysqld/mysqld.sock --secure-file-priv= --skip-name-resolve \
  --general-log-file=/var/log/mysql/general.log --init-file=/usr/local/share/mariadb-init.sql
"""

MARIADB_INIT = """CREATE DATABASE IF NOT EXISTS bob_test;
CREATE TABLE IF NOT EXISTS bob_test.bench (id INT AUTO_INCREMENT PRIMARY KEY, k VARCHAR(64), v VARCHAR(64));
CREATE USER IF NOT EXISTS 'app'@'%' IDENTIFIED BY 'apppass';
GRANT ALL ON bob_test.* TO 'app'@'%';
CREATE USER IF NOT EXISTS 'root'@'%' IDENTIFIED BY 'rootpwd';
GRANT ALL PRIVILEGES ON *.* TO 'root'@'%' WITH GRANT OPTION;
"""


@dataclass(frozen=True)
class Volume:
    """A pod volume: an empty directory (emptyDir/PVC) or a copy of host files (hostPath)."""

    destination: str
    owner: str = "root"
    mode: int = 0o755
    host_files: tuple[str, ...] = ()  # hostPath stand-in: these host files, read-only


@dataclass(frozen=True)
class ContainerSpec:
    name: str
    args: tuple[str, ...]
    user: str
    env: tuple[tuple[str, str], ...] = ()
    volumes: tuple[Volume, ...] = ()
    caps_add: tuple[str, ...] = ()


@dataclass(frozen=True)
class PodSpec:
    """A suite's server and client, their image and the service the client reaches."""

    namespace: str
    image: str
    packages: tuple[str, ...]
    layer: dict[str, str]  # image path -> content (executable when it starts with #!)
    server: ContainerSpec
    client: ContainerSpec
    service: str  # the server's cluster DNS name
    service_ip: str
    port: int


POSTGRES = PodSpec(
    namespace="postgres",
    image="postgres",
    packages=("postgresql-15", "postgresql-client-15", "python3"),
    layer={"usr/local/bin/pg-entrypoint": PG_ENTRYPOINT},
    server=ContainerSpec(
        "postgres",
        ("/usr/local/bin/pg-entrypoint",),
        "postgres",
        volumes=(Volume("/var/lib/postgresql/data", owner="postgres", mode=0o700),),
    ),
    client=ContainerSpec(
        "pg-client",
        ("sleep", "infinity"),
        "postgres",
        env=(
            ("PGHOST", "pg-rw"),
            ("PGPORT", "5432"),
            ("PGUSER", "app"),
            ("PGDATABASE", "app"),
            ("PGPASSWORD", "apppass"),
        ),
    ),
    service="pg-rw",
    service_ip="10.43.20.10",
    port=5432,
)

MARIADB = PodSpec(
    namespace="mariadb",
    image="mariadb",
    packages=("mariadb-server", "mariadb-client"),
    layer={
        "usr/local/bin/mariadb-entrypoint": MARIADB_ENTRYPOINT,
        "usr/local/share/mariadb-init.sql": MARIADB_INIT,
    },
    server=ContainerSpec(
        "mariadb",
        ("/usr/local/bin/mariadb-entrypoint",),
        "root",
        volumes=(
            Volume("/var/lib/mysql", owner="mysql"),
            Volume("/var/log/mysql", owner="mysql"),
            Volume("/host-tmp", mode=0o1777),
            Volume("/host-etc", host_files=("/etc/os-release", "/etc/passwd")),
        ),
        caps_add=("CAP_SYS_PTRACE",),
    ),
    client=ContainerSpec("client", ("sleep", "infinity"), "root"),
    service="mariadb",
    service_ip="10.43.30.10",
    port=3306,
)

PODS = {"postgres": POSTGRES, "mariadb": MARIADB}


def image_layers(pod: PodSpec, workdir: Path) -> list[Path]:
    """The pod's image: its entrypoint layer over the cached Debian tree (built once)."""
    base = rootfs.debian_rootfs(pod.image, pod.packages)
    layer = workdir / f"layer-{pod.image}"
    if not layer.exists():
        for rel, text in pod.layer.items():
            path = layer / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            path.chmod(0o755 if text.startswith("#!") else 0o644)
    return [layer, base]


def _ids(base: Path, user: str) -> tuple[int, int]:
    for line in (base / "etc" / "passwd").read_text().splitlines():
        fields = line.split(":")
        if fields[0] == user:
            return int(fields[2]), int(fields[3])
    raise KeyError(f"user {user} not in the image")


@dataclass
class Running:
    """A started container: its runc identity and the place its output goes."""

    spec: ContainerSpec
    container: Container
    log: Path

    @property
    def container_id(self) -> str:
        return self.container.container_id

    def exec(self, argv: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
        """Run `argv` in the container as `kubectl exec` would (its user, env and cwd)."""
        return runc.exec_in(self.container, argv, timeout)


def new_container(spec: ContainerSpec, bundle: Path) -> Container:
    """Identity of a container to be started (ids known ahead, so agents can bind them)."""
    return runc.new_container(bundle, f"beholder-rw-{spec.name}")


@contextmanager
def running(
    pod: PodSpec, spec: ContainerSpec, container: Container, layers: list[Path], network: Network
) -> Iterator[Running]:
    """Start `container` detached from an overlay of `layers`; kill and remove it on exit."""
    bundle = container.bundle
    bundle.mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack:
        merged = stack.enter_context(rootfs.overlay_root(layers, bundle / "rootfs"))
        uid_gid = _ids(layers[-1], spec.user)
        config = _oci_config(pod, spec, container, merged, network, uid_gid, bundle)
        (bundle / "config.json").write_text(json.dumps(config))
        log = bundle / "output.log"
        with log.open("wb") as out:
            subprocess.run(
                ["runc", "run", "-d", "--bundle", str(bundle), container.name],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=out,
                check=True,
                timeout=60,
            )
        try:
            yield Running(spec, container, log)
        finally:
            subprocess.run(["runc", "delete", "--force", container.name], capture_output=True, check=False)


def _oci_config(
    pod: PodSpec,
    spec: ContainerSpec,
    container: Container,
    merged: Path,
    network: Network,
    uid_gid: tuple[int, int],
    bundle: Path,
) -> dict:
    subprocess.run(["runc", "spec", "--bundle", str(bundle)], check=True, capture_output=True)
    config = json.loads((bundle / "config.json").read_text())
    process = config["process"]
    process["args"] = list(spec.args)
    process["terminal"] = False
    process["user"] = {"uid": uid_gid[0], "gid": uid_gid[1]}
    env = {"PATH": PATH, "HOSTNAME": spec.name, "KUBERNETES_SERVICE_HOST": API_SERVER,
           "KUBERNETES_SERVICE_PORT": "443", **dict(spec.env)}  # fmt: skip
    process["env"] = [f"{k}={v}" for k, v in env.items()]
    caps = sorted({*CONTAINERD_CAPS, *spec.caps_add})
    process["capabilities"] = {k: caps for k in ("bounding", "effective", "permitted")}
    process["noNewPrivileges"] = False
    config["hostname"] = spec.name
    config["root"] = {"path": str(merged), "readonly": False}
    config["linux"]["cgroupsPath"] = container.cgroups_path
    config["linux"]["namespaces"] = [
        {"type": "network", "path": str(network.path)} if ns["type"] == "network" else ns
        for ns in config["linux"]["namespaces"]
    ]
    config["mounts"] += _kubelet_mounts(pod, spec, bundle, network, uid_gid, merged)
    return config


def _kubelet_mounts(
    pod: PodSpec, spec: ContainerSpec, bundle: Path, network: Network, uid_gid: tuple[int, int], merged: Path
) -> list[dict]:
    """resolv.conf, hosts, hostname, the service-account token and the pod's volumes."""
    files = bundle / "kubelet"
    files.mkdir(exist_ok=True)
    (files / "resolv.conf").write_text(network.resolv_conf(pod.namespace))
    (files / "hosts").write_text("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n")
    (files / "hostname").write_text(spec.name + "\n")
    token = files / "serviceaccount"
    token.mkdir(exist_ok=True)
    (token / "token").write_text(TOKEN)
    (token / "namespace").write_text(pod.namespace)
    mounts = [
        _bind(files / name, f"/etc/{name}", readonly=False) for name in ("resolv.conf", "hosts", "hostname")
    ]
    mounts.append(_bind(token, TOKEN_DIR, readonly=True))
    for volume in spec.volumes:
        source = bundle / "volumes" / volume.destination.strip("/").replace("/", "-")
        source.mkdir(parents=True, exist_ok=True)
        for host_file in volume.host_files:
            shutil.copy(host_file, source / Path(host_file).name)
        owner = _ids(merged, volume.owner)
        shutil.chown(source, *owner)
        source.chmod(volume.mode)
        mounts.append(_bind(source, volume.destination, readonly=bool(volume.host_files)))
    return mounts


def _bind(source: Path, destination: str, *, readonly: bool) -> dict:
    return {
        "destination": destination,
        "type": "bind",
        "source": str(source),
        "options": ["rbind", "ro" if readonly else "rw", "nosuid", "nodev"],
    }


def wait_listening(network: Network, address: str, port: int, timeout: float = 120) -> None:
    """Wait until the server accepts TCP (kubelet's tcpSocket probe, from outside the pod)."""
    probe = f"import socket; socket.create_connection(({address!r}, {port}), timeout=1).close()"
    deadline = time.monotonic() + timeout
    while True:
        done = subprocess.run(
            ["ip", "netns", "exec", network.name, "python3", "-c", probe], capture_output=True
        )
        if done.returncode == 0:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"{address}:{port} not listening after {timeout} s")
        time.sleep(0.5)
