"""Compare a profile's syscalls with a RuntimeDefault seccomp profile, and export one.

RuntimeDefault is read from the file the user names: Docker/moby's seccomp JSON (an
entry counts as allowed when its action is SCMP_ACT_ALLOW and its arch/capability
conditions hold for the chosen arch and capability set) or a YAML list
`allowedSyscalls:` as bobctl ships for containerd.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from beholder.bob.profile import ProfileError, normalize_capability

# The capabilities a container runtime grants by default (Docker/containerd).
DEFAULT_CAPS = frozenset(
    [
        "CHOWN",
        "DAC_OVERRIDE",
        "FSETID",
        "FOWNER",
        "MKNOD",
        "NET_RAW",
        "SETGID",
        "SETUID",
        "SETFCAP",
        "SETPCAP",
        "NET_BIND_SERVICE",
        "SYS_CHROOT",
        "KILL",
        "AUDIT_WRITE",
    ]
)
SECCOMP_ARCHES = {"amd64": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]}


@dataclass(frozen=True, slots=True)
class Comparison:
    profile_total: int
    default_total: int
    only_in_profile: tuple[str, ...]
    only_in_default: tuple[str, ...]


def load_runtime_default(path: Path, arch: str = "amd64", caps: frozenset[str] = DEFAULT_CAPS) -> set[str]:
    """The syscalls a RuntimeDefault profile file allows."""
    try:
        text = path.read_text(encoding="utf-8")
        doc: Any = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (OSError, UnicodeDecodeError, ValueError, yaml.YAMLError) as exc:
        raise ProfileError(f"{path}: cannot read seccomp profile: {str(exc).splitlines()[0]}") from None
    if isinstance(doc, dict) and isinstance(doc.get("allowedSyscalls"), list):
        return {str(s) for s in doc["allowedSyscalls"]}
    if not isinstance(doc, dict) or not isinstance(doc.get("syscalls"), list):
        raise ProfileError(f"{path}: syscalls: expected moby seccomp JSON or an allowedSyscalls list")
    allowed: set[str] = set()
    for i, entry in enumerate(doc["syscalls"]):
        if not isinstance(entry, dict) or not isinstance(entry.get("names"), list):
            raise ProfileError(f"{path}: syscalls[{i}].names: expected a list")
        if entry.get("action") == "SCMP_ACT_ALLOW" and _applies(entry, arch, caps):
            allowed.update(str(n) for n in entry["names"])
    return allowed


def _applies(entry: dict[str, Any], arch: str, caps: frozenset[str]) -> bool:
    inc, exc = entry.get("includes") or {}, entry.get("excludes") or {}
    need = {normalize_capability(c) for c in inc.get("caps") or []}
    banned = {normalize_capability(c) for c in exc.get("caps") or []}
    arches = inc.get("arches") or []
    return (
        need <= caps
        and not banned & caps
        and (not arches or arch in arches)
        and arch not in (exc.get("arches") or [])
    )


def compare(profile_syscalls: set[str], default: set[str]) -> Comparison:
    return Comparison(
        profile_total=len(profile_syscalls),
        default_total=len(default),
        only_in_profile=tuple(sorted(profile_syscalls - default)),
        only_in_default=tuple(sorted(default - profile_syscalls)),
    )


def export(syscalls: set[str], arch: str = "amd64") -> dict[str, Any]:
    """A seccomp profile that allows exactly these syscalls and fails the rest with EPERM."""
    return {
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": 1,
        "architectures": SECCOMP_ARCHES.get(arch, []),
        "syscalls": [{"names": sorted(syscalls), "action": "SCMP_ACT_ALLOW"}],
    }
