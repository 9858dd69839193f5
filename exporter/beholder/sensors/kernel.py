"""What this kernel offers: the facts `beholder probe` prints and the loader relies on.

Everything here is read from /sys and /proc, never guessed from the kernel version, so a
missing tracefs or a locked-down kernel shows up as a named, one-line reason.
"""

from __future__ import annotations

import os
import platform
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from beholder.sensors.catalog import Sensor

TRACEFS_CANDIDATES = (Path("/sys/kernel/tracing"), Path("/sys/kernel/debug/tracing"))
BTF_PATH = Path("/sys/kernel/btf/vmlinux")
LSM_PATH = Path("/sys/kernel/security/lsm")
KALLSYMS = Path("/proc/kallsyms")


@cache
def tracefs() -> Path | None:
    """The mounted tracefs, mounting it when we are allowed to.

    None, never an exception, whatever stops it (no permission, no `mount` binary, a hung
    mount): the loader then refuses every sensor with one `SensorError` line.
    """
    for path in TRACEFS_CANDIDATES:
        if _is_dir(path / "events"):
            return path
    for path, fstype in ((Path("/sys/kernel/tracing"), "tracefs"), (Path("/sys/kernel/debug"), "debugfs")):
        try:
            subprocess.run(
                ["mount", "-t", fstype, fstype, str(path)], capture_output=True, check=False, timeout=10
            )
        except (OSError, subprocess.SubprocessError):
            continue
    for path in TRACEFS_CANDIDATES:
        if _is_dir(path / "events"):
            return path
    return None


def _is_dir(path: Path) -> bool:
    """`Path.is_dir` that says False where a non-root user may not look (tracefs is 0700)."""
    try:
        return path.is_dir()
    except PermissionError:
        return False


def tracefs_unreadable() -> bool:
    """True when tracefs is mounted but this user may not read it: whether a tracepoint
    exists is then unknown, not "no"."""
    return tracefs() is None and any(_exists_unreadable(p) for p in TRACEFS_CANDIDATES)


def _exists_unreadable(path: Path) -> bool:
    try:
        (path / "events").is_dir()
    except PermissionError:
        return True
    return False


def tracepoint_exists(name: str) -> bool:
    root = tracefs()
    return bool(root and (root / "events" / name / "format").is_file())


def syscall_args(name: str) -> list[str]:
    """The C declarations of the sys_enter_<name> tracepoint's arguments, in order."""
    root = tracefs()
    path = root / "events" / "syscalls" / f"sys_enter_{name}" / "format" if root else None
    if path is None or not path.is_file():  # e.g. init_module on a kernel without modules
        return []
    try:
        fmt = path.read_text()
    except OSError:  # tracefs unmounted or locked down since `tracefs()` looked
        return []
    fields = [line.split("field:", 1)[1].split(";", 1)[0] for line in fmt.splitlines() if "field:" in line]
    return [f for f in fields if "common_" not in f and "__syscall_nr" not in f]


def pointer_arg_mask(name: str) -> int:
    """Bit i set when argument i is a pointer: its value says nothing about the call."""
    return sum(1 << i for i, decl in enumerate(syscall_args(name)) if "*" in decl)


def missing_tracepoints(sensor: Sensor) -> list[str]:
    """Tracepoints the sensor needs that this kernel lacks."""
    return [tp for tp in sensor.tracepoints if not tracepoint_exists(tp)]


@dataclass(frozen=True, slots=True)
class Feature:
    """`available` is None when this process could not check (no permission, no securityfs)."""

    name: str
    available: bool | None
    detail: str


def _attach_check(kind: str) -> Feature:
    """Try a real, tiny attach (in the loader's child, so no compiler stays in this process)."""
    from beholder.sensors.loader import attach_check

    available, detail = attach_check(kind)
    return Feature(kind, available, detail)


def probe_features(try_attach: bool = True) -> list[Feature]:
    """The kernel facts that decide which sensors and enforcers can run.

    A fact this process cannot check (tracefs as non-root, the LSM list without securityfs,
    an attach without privileges) is "unknown", never a guessed "no".
    """
    root = tracefs()
    hidden = "tracefs is not readable without root"
    lsms = _read_lsm_list()
    is_root = os.geteuid() == 0
    features = [
        Feature("kernel", True, platform.release()),
        Feature("root", is_root, "euid 0" if is_root else f"euid {os.geteuid()}"),
        Feature(
            "btf", BTF_PATH.exists(), str(BTF_PATH) if BTF_PATH.exists() else "no /sys/kernel/btf/vmlinux"
        ),
        _tracefs_feature(root, hidden),
        Feature("ringbuf", _kernel_has_symbol("ringbuf_map_alloc"), "BPF_MAP_TYPE_RINGBUF"),
        Feature(
            "capability:cap_capable",
            None if tracefs_unreadable() else tracepoint_exists("capability/cap_capable"),
            hidden if tracefs_unreadable() else "tracepoint (Linux >= 6.14)",
        ),
        Feature("lsm-list", bool(lsms) if lsms is not None else None, lsms or _LSM_UNKNOWN),
    ]
    if try_attach:
        if not is_root:
            features += [Feature(k, None, "trying an attach needs root") for k in ("kprobe", "bpf-lsm")]
            return features
        features.append(_attach_check("kprobe"))
        if lsms is None:  # the list is unreadable: the attach itself still answers
            tried = _attach_check("bpf-lsm")
            features.append(Feature("bpf-lsm", tried.available, f"{tried.detail} ({_LSM_UNKNOWN})"))
        elif "bpf" in lsms.split(","):
            features.append(_attach_check("bpf-lsm"))
        else:
            features.append(Feature("bpf-lsm", False, "bpf not in the active LSM list"))
    return features


_LSM_UNKNOWN = f"{LSM_PATH} not readable (securityfs not mounted?)"


def _tracefs_feature(root: Path | None, hidden: str) -> Feature:
    if root is not None:
        return Feature("tracefs", True, str(root))
    if tracefs_unreadable():
        return Feature("tracefs", None, hidden)
    return Feature("tracefs", False, "not mounted and could not mount")


def _read_lsm_list() -> str | None:
    """The active LSMs, or None when securityfs is not mounted or not readable."""
    try:
        return LSM_PATH.read_text().strip()
    except OSError:
        return None


def _kernel_has_symbol(name: str) -> bool | None:
    """Look the symbol up in /proc/kallsyms (names show even when addresses are hidden)."""
    try:
        with open(KALLSYMS, "rb") as fh:
            needle = b" " + name.encode()
            return any(line.rstrip().endswith(needle) for line in fh)
    except OSError:
        return None


def unimplemented_syscalls(names: Iterable[str]) -> set[str]:
    """Those of `names` this kernel builds as `cond_syscall` stubs (weak aliases of
    sys_ni_syscall: every call fails with ENOSYS, and they have no syscalls:* tracepoints),
    e.g. init_module without CONFIG_MODULES. Unknown (no /proc/kallsyms): none."""
    wanted = set(names)
    implemented: set[str] = set()
    stubs: set[str] = set()
    try:
        with open(KALLSYMS, "rb") as fh:
            for line in fh:
                parts = line.split()
                if len(parts) < 3:
                    continue
                kind, symbol = parts[1], parts[2]
                name = symbol.decode(errors="replace").partition("_sys_")[2]
                if name not in wanted or not symbol.startswith(b"__") or symbol.startswith(b"__do_sys"):
                    continue
                (stubs if kind in (b"W", b"w") else implemented).add(name)
    except OSError:
        return set()
    return stubs - implemented
