"""What this kernel offers: the facts `beholder probe` prints and the loader relies on.

Everything here is read from /sys and /proc, never guessed from the kernel version, so a
missing tracefs or a locked-down kernel shows up as a named, one-line reason.
"""

from __future__ import annotations

import os
import platform
import subprocess
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from beholder.sensors.catalog import Sensor

TRACEFS_CANDIDATES = (Path("/sys/kernel/tracing"), Path("/sys/kernel/debug/tracing"))
BTF_PATH = Path("/sys/kernel/btf/vmlinux")
LSM_PATH = Path("/sys/kernel/security/lsm")


@cache
def tracefs() -> Path | None:
    """The mounted tracefs, mounting it when we are allowed to.

    None, never an exception, whatever stops it (no permission, no `mount` binary, a hung
    mount): the loader then refuses every sensor with one `SensorError` line.
    """
    for path in TRACEFS_CANDIDATES:
        if (path / "events").is_dir():
            return path
    for path, fstype in ((Path("/sys/kernel/tracing"), "tracefs"), (Path("/sys/kernel/debug"), "debugfs")):
        try:
            subprocess.run(
                ["mount", "-t", fstype, fstype, str(path)], capture_output=True, check=False, timeout=10
            )
        except (OSError, subprocess.SubprocessError):
            continue
    for path in TRACEFS_CANDIDATES:
        if (path / "events").is_dir():
            return path
    return None


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
    name: str
    available: bool
    detail: str


def _attach_check(kind: str) -> Feature:
    """Try a real, tiny attach (in the loader's child, so no compiler stays in this process)."""
    from beholder.sensors.loader import attach_check

    available, detail = attach_check(kind)
    return Feature(kind, available, detail)


def probe_features(try_attach: bool = True) -> list[Feature]:
    """The kernel facts that decide which sensors and enforcers can run."""
    root = tracefs()
    lsms = LSM_PATH.read_text().strip() if LSM_PATH.exists() else ""
    features = [
        Feature("kernel", True, platform.release()),
        Feature("root", os.geteuid() == 0, "euid 0" if os.geteuid() == 0 else f"euid {os.geteuid()}"),
        Feature(
            "btf", BTF_PATH.exists(), str(BTF_PATH) if BTF_PATH.exists() else "no /sys/kernel/btf/vmlinux"
        ),
        Feature("tracefs", root is not None, str(root) if root else "not mounted and could not mount"),
        Feature("ringbuf", _kernel_has_symbol("ringbuf_map_alloc"), "BPF_MAP_TYPE_RINGBUF"),
        Feature(
            "capability:cap_capable",
            tracepoint_exists("capability/cap_capable"),
            "tracepoint (Linux >= 6.14)",
        ),
        Feature("lsm-list", bool(lsms), lsms or "securityfs not mounted"),
    ]
    if try_attach:
        features.append(_attach_check("kprobe"))
        lsm = _attach_check("bpf-lsm") if "bpf" in lsms.split(",") else None
        features.append(lsm or Feature("bpf-lsm", False, "bpf not in the active LSM list"))
    return features


def _kernel_has_symbol(name: str) -> bool:
    """Look the symbol up in /proc/kallsyms (readable by root; names show even when addresses are hidden)."""
    try:
        with open("/proc/kallsyms", "rb") as fh:
            needle = b" " + name.encode()
            return any(line.rstrip().endswith(needle) for line in fh)
    except OSError:
        return False
