"""Root filesystems of real Debian packages for test containers, built once and cached.

Real workloads (PostgreSQL, MariaDB, KubeArmor's test image) run from root filesystems
that mmdebstrap builds from this machine's own apt sources: the mirror is read from
/etc/apt at run time, so no host name is written down here. A build is keyed by a hash of
everything that shapes it, happens at most once per machine (a file lock serialises
parallel test processes) and lands by an atomic rename, so an interrupted build never
leaves a half-made tree that a later run would trust.

Each container gets an overlay mount of the cached tree (a real upperdir, as containerd
gives a container), so no test ever writes into the cache.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

CACHE = Path(os.environ.get("BEHOLDER_ROOTFS_CACHE", "/var/cache/beholder-tests/rootfs"))
SUITE = "bookworm"
BUILD_TIMEOUT_S = 1200
_SOURCES_DIR = Path("/etc/apt/sources.list.d")
_SOURCES_LIST = Path("/etc/apt/sources.list")
_HOOKS = Path("/usr/share/mmdebstrap/hooks")


class RootfsError(RuntimeError):
    """mmdebstrap is missing, the apt sources name no usable mirror, or the build failed."""


def apt_mirrors(suite: str = SUITE) -> list[str]:
    """One-line `deb URI SUITE COMPONENTS` entries for `suite` and its updates/security
    suites, taken from this machine's enabled apt sources (deb822 and one-line forms)."""
    entries: list[str] = []
    for path in sorted(_SOURCES_DIR.glob("*.sources")):
        for stanza in path.read_text().split("\n\n"):
            fields = _deb822_fields(stanza)
            if "deb" not in fields.get("types", "").split() or fields.get("enabled", "yes") == "no":
                continue
            for uri in fields.get("uris", "").split():
                for name in fields.get("suites", "").split():
                    if name.split("-")[0] == suite:
                        entries.append(f"deb {uri} {name} {fields.get('components', 'main')}")
    if _SOURCES_LIST.exists():
        for line in _SOURCES_LIST.read_text().splitlines():
            words = line.split("#", 1)[0].split()
            if len(words) >= 4 and words[0] == "deb" and words[2].split("-")[0] == suite:
                entries.append(" ".join(words))
    if not entries:
        raise RootfsError(f"no enabled apt source for {suite} in {_SOURCES_DIR} or {_SOURCES_LIST}")
    return entries


def _deb822_fields(stanza: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    for line in stanza.splitlines():
        if line.startswith("#") or ":" not in line or line[:1].isspace():
            continue
        key, value = line.split(":", 1)
        fields[key.strip().lower()] = value.strip()
    return fields


def debian_rootfs(
    name: str, packages: Sequence[str], *, merged_usr: bool = True, hooks: Sequence[str] = ()
) -> Path:
    """The cached root filesystem `name` with `packages` installed (built on first use).

    `hooks` are mmdebstrap --customize-hook shell commands run on the host with "$1" the
    new root (for `chroot "$1" …`, writing files, compiling a test program).
    """
    recipe = {"suite": SUITE, "packages": sorted(packages), "merged_usr": merged_usr, "hooks": list(hooks)}
    digest = hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:12]
    target = CACHE / f"{name}-{digest}"
    if (target / ".complete").exists():
        return target
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / f".{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (target / ".complete").exists():
            _build(target, recipe)
    return target


def _build(target: Path, recipe: dict) -> None:
    if shutil.which("mmdebstrap") is None:
        raise RootfsError("mmdebstrap is not installed (make test-deps installs it)")
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=CACHE))
    command = ["mmdebstrap", "--mode=root", "--variant=apt", "--format=directory", "--quiet"]
    if recipe["packages"]:
        command.append("--include=" + ",".join(recipe["packages"]))
    command.append(f"--hook-dir={_HOOKS / ('merged-usr' if recipe['merged_usr'] else 'no-merged-usr')}")
    command += [f"--customize-hook={hook}" for hook in recipe["hooks"]]
    command += [recipe["suite"], str(staging), *apt_mirrors(recipe["suite"])]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=BUILD_TIMEOUT_S)
    except subprocess.TimeoutExpired as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise RootfsError(f"mmdebstrap for {target.name} took over {BUILD_TIMEOUT_S} s") from exc
    if done.returncode != 0:
        shutil.rmtree(staging, ignore_errors=True)
        tail = " | ".join(done.stderr.strip().splitlines()[-5:])
        raise RootfsError(f"mmdebstrap for {target.name} failed ({done.returncode}): {tail}")
    (staging / ".complete").write_text(json.dumps(recipe, sort_keys=True) + "\n")
    if target.exists():  # an earlier, interrupted build: never trusted, replaced whole
        shutil.rmtree(target)
    staging.rename(target)


@contextmanager
def overlay_root(lower: Path | Sequence[Path], workdir: Path) -> Iterator[Path]:
    """An overlay mount of `lower` under `workdir`, writable, unmounted on exit.

    `lower` may be several read-only layers, topmost first, as an image's layers are (a
    small layer of entrypoint scripts over a cached Debian tree). The upper directory is
    real, so `/proc/<pid>/mountinfo` of a container shows its `upperdir=` as on a
    containerd node (what drift detection reads).
    """
    upper, work, merged = workdir / "upper", workdir / "work", workdir / "merged"
    for path in (upper, work, merged):
        path.mkdir(parents=True, exist_ok=True)
    layers = [lower] if isinstance(lower, Path) else list(lower)
    options = f"lowerdir={':'.join(str(p) for p in layers)},upperdir={upper},workdir={work}"
    subprocess.run(["mount", "-t", "overlay", "overlay", "-o", options, str(merged)], check=True)
    try:
        yield merged
    finally:
        subprocess.run(["umount", "-l", str(merged)], check=False)
