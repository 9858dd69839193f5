"""Prepare the generic kernel header tree bcc compiles against.

Debian splits a kernel's headers into `linux-headers-<ver>-common` (arch-independent)
and `linux-headers-<ver>-<arch>` (generated headers and config). bcc wants one tree. Our
BPF programs read only tracepoint arguments and helpers, never kernel structs, so any
header version is correct for any running kernel; we merge the newest installed pair with
symlinks and point `BCC_KERNEL_SOURCE` at it. This module must import with the standard
library only: `make` runs it before the venv exists.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

SOURCE_ROOT = Path("/usr/src")
DEFAULT_TREE = Path("/var/lib/beholder/kernel-headers")


class HeadersMissing(RuntimeError):
    """No Debian linux-headers common+arch pair is installed."""


def _version_key(path: Path) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", path.name))


def find_header_pair(root: Path = SOURCE_ROOT, arch: str = "amd64") -> tuple[Path, Path]:
    """Return the newest (common, arch) directories under /usr/src."""
    candidates = sorted(root.glob(f"linux-headers-*-{arch}"), key=_version_key, reverse=True)
    for arch_dir in candidates:
        common = arch_dir.with_name(arch_dir.name[: -len(arch)] + "common")
        if common.is_dir():
            return common, arch_dir
    raise HeadersMissing(
        f"no linux-headers-*-common and -{arch} pair under {root}: install Debian's linux-headers-{arch}"
    )


def _link_tree(src: Path, dest: Path) -> None:
    """Mirror `src` into `dest` as symlinks, replacing what is already there."""
    for dirpath, dirnames, filenames in os.walk(src, followlinks=False):
        rel = Path(dirpath).relative_to(src)
        target_dir = dest / rel
        target_dir.mkdir(parents=True, exist_ok=True)
        for name in filenames + [d for d in dirnames if (Path(dirpath) / d).is_symlink()]:
            link = target_dir / name
            if link.is_symlink() or link.exists():
                if link.is_dir() and not link.is_symlink():
                    continue
                link.unlink()
            origin = Path(dirpath) / name
            link.symlink_to(os.readlink(origin) if origin.is_symlink() else origin)


def prepare(dest: str | os.PathLike[str] = DEFAULT_TREE, root: Path = SOURCE_ROOT) -> Path:
    """Build (once) and return the merged tree for the newest installed header pair."""
    common, arch_dir = find_header_pair(root)
    tree = Path(dest) / arch_dir.name
    stamp = tree / ".beholder-merged"
    if stamp.exists():
        return tree
    _link_tree(common, tree)
    _link_tree(arch_dir, tree)
    # Relative links such as scripts -> ../../lib/linux-kbuild-6.1/scripts must still resolve.
    for name in ("scripts", "tools"):
        link = tree / name
        origin = arch_dir / name
        if origin.is_symlink():
            if link.is_symlink() or link.exists():
                link.unlink()
            link.symlink_to(origin.resolve())
    stamp.write_text(f"{common}\n{arch_dir}\n")
    return tree


def ensure_bcc_kernel_source(dest: str | os.PathLike[str] = DEFAULT_TREE) -> Path:
    """Point bcc at our merged tree unless the caller already chose one."""
    current = os.environ.get("BCC_KERNEL_SOURCE")
    if current and Path(current).is_dir():
        return Path(current)
    tree = prepare(dest)
    os.environ["BCC_KERNEL_SOURCE"] = str(tree)
    return tree
