"""The kernel ABI of kill mode (bpf/enforce.c), and the entries user space compiles for it.

`policy.kernel_rules` turns a scope's rules into `KernelRules`; `sensors.killmode` writes
them into the maps laid out here. `tests/unit/test_enforce_abi.py` parses bpf/enforce.c and
fails on any drift between the two sides.
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass, field

from beholder.events.abi import NsId

ENF_PATH = 232  # bytes of path in the kernel's key, NUL included: LPM data is at most 256 bytes
KEY_HEAD = 4 + 8 + 8  # klass, scope, source: the matched bytes before the path
CLASS_EXEC, CLASS_FILE = 1, 2  # enum enf_class
DIR, RECURSIVE, READ_ONLY = 1, 2, 4  # enum enf_flag
ENF_STAT_NAMES = ("killed", "unreadable")  # enum enf_stat, in index order
# The kernel's socket key classes: (family class, a family to judge it with, protocol classes)
_INET_PROTOCOLS = (0, 1, 6, 17, 58, 132, 255)
SOCKET_CLASSES: tuple[tuple[int, int, tuple[int, ...]], ...] = (
    (2, 2, _INET_PROTOCOLS),  # AF_INET and AF_INET6
    (17, 17, (0,)),  # AF_PACKET
    (0, 1, (0,)),  # any other family (AF_UNIX stands for them)
)
SOCKET_TYPES = range(16)

_U8, _U32, _U64 = ctypes.c_uint8, ctypes.c_uint32, ctypes.c_uint64
_KEY_HEAD = 4 + 8 + 8  # klass, scope, source: the bytes before the path
ENF_STAT_NAMES = ("killed", "unreadable")


class EnfKey(ctypes.Structure):
    """`struct enf_key`: an LPM trie key (prefix length in bits, then the matched bytes)."""

    _fields_ = [
        ("prefixlen", _U32),
        ("klass", _U32),
        ("scope", _U64),
        ("source", _U64),
        ("path", ctypes.c_char * ENF_PATH),
    ]


class EnfRule(ctypes.Structure):
    _fields_ = [("kill", _U32), ("flags", _U32), ("dir_len", _U32), ("pad", _U32)]


class EnfNetKey(ctypes.Structure):
    _fields_ = [
        ("scope", _U64),
        ("source", _U64),
        ("family", _U32),
        ("type", _U32),
        ("protocol", _U32),
        ("pad", _U32),
    ]


class EnfSrcKey(ctypes.Structure):
    _fields_ = [("scope", _U64), ("source", _U64)]


ENFORCE_MAP_LAYOUTS: dict[str, tuple[type, type, bool]] = {
    "enforce_paths": (EnfKey, EnfRule, False),
    "enforce_net": (EnfNetKey, _U8, False),
    "enforce_net_sources": (EnfSrcKey, _U8, False),
    "enforce_scopes": (_U64, _U8, False),
    "enforce_exe": (_U32, _U64, False),
    "enforce_host_pidns": (_U32, NsId, False),
    "enforce_stats": (_U32, _U64, True),
}


@dataclass(frozen=True, slots=True)
class PathEntry:
    """One LPM entry: (class, source, key text) and what a match does."""

    klass: int
    source: str
    key: str  # "path\0" for a file, "dir/" for a directory
    kill: bool
    flags: int = 0

    @property
    def dir_len(self) -> int:
        return len(self.key.encode()) if self.flags & DIR else 0


@dataclass(frozen=True, slots=True)
class SocketEntry:
    source: str
    family: int
    type: int
    protocol: int


@dataclass(slots=True)
class KernelRules:
    """What kill mode loads for one scope, and one line per Block rule it cannot enforce."""

    paths: list[PathEntry] = field(default_factory=list)
    sockets: list[SocketEntry] = field(default_factory=list)
    socket_sources: set[str] = field(default_factory=set)  # sources judged on their own
    not_enforced: list[str] = field(default_factory=list)

    @property
    def kills(self) -> int:
        return sum(1 for p in self.paths if p.kill) + len(self.sockets)
