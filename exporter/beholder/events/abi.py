"""The kernel ABI of bpf/common.h and bpf/interest.h, once, for every Python module that talks to the kernel.

Record kinds, syscall roles, config and stat indexes, the record header and the key/value
layouts of the maps user space reads or writes. `tests/unit/test_abi.py` parses
both headers and fails on any drift, so a change on the C side cannot silently misread.
"""

from __future__ import annotations

import ctypes
import enum
import struct


class RecordKind(enum.IntEnum):
    """`enum kind`: what a ring-buffer record describes."""

    EXEC = 1
    FORK = 2
    EXIT = 3
    FILE = 4
    NET = 5
    SYSCALL = 6
    CAP = 7
    TCP_STATE = 8
    DNS = 9
    CHDIR = 10


class Role(enum.IntEnum):
    """`enum role`: syscalls handled at enter by a dedicated C function (kinds are < 16)."""

    NONE = 0
    CLONE = 16
    EXIT_GROUP = 17
    DNS_WRITE = 18
    DNS_SENDTO = 19
    DNS_SENDMSG = 20
    DNS_SENDMMSG = 21


class Stat(enum.IntEnum):
    """`enum stat`: indexes of the per-CPU `stats` counters."""

    SEEN = 0
    EMITTED = 1
    SUPPRESSED = 2
    LOST = 3
    PENDING_FULL = 4


class Cfg(enum.IntEnum):
    """`enum cfg`: indexes of the `config` array user space writes."""

    DEDUP_NS = 0
    FILTER_CGROUP = 1
    READY = 3


STAT_NAMES = tuple(s.name.lower() for s in Stat)  # "seen", "emitted", … in index order
CFG_MAX = 4
STAT_MAX = len(Stat)

# Record flags (`hdr.flags`).
F_TRUNCATED = 1
F_ARGV_TRUNCATED = 2
F_KILLED = 4  # kill mode sent the caller SIGKILL at the call's entry (bpf/enforce.c)
F_EVAL_ONLY = 8  # interest.h: sent for evaluation only, never exported as telemetry
F_UNCLASSIFIED = 16  # interest.h: its cgroup has no interest entry yet

SYSCALL_SLOTS = 512  # rows of `syscall_role`, `ptr_mask` and `struct sc_counts`

# struct hdr + u64 args[6] + u32 len1 + u32 len2:
# ts, cgroup_id, tgid, tid, uid, gid, retval, kind, nr, flags, repeat, ns_tgid, ns_pad, comm,
# args[0..5], len1, len2.
HEADER = struct.Struct("<QQIIIIqIIIIII16s6QII")
RECORD_FIXED = HEADER.size  # RECORD_FIXED in C

_U8, _U32, _U64 = ctypes.c_uint8, ctypes.c_uint32, ctypes.c_uint64


class NsId(ctypes.Structure):
    """`struct ns_id`: a pid namespace as (device, inode)."""

    _fields_ = [("dev", _U64), ("ino", _U64)]


class SyscallCounts(ctypes.Structure):
    """`struct sc_counts`: calls per syscall number for one cgroup, and who made the first."""

    _fields_ = [("calls", _U64 * SYSCALL_SLOTS), ("first_tgid", _U32 * SYSCALL_SLOTS)]


INTEREST_SLOTS = 256  # rows of `interest`; slot 0 is every cgroup not classified yet
INTEREST_WORDS = SYSCALL_SLOTS // 64


class Interest(ctypes.Structure):
    """`struct interest`: what one class of cgroups sends, as telemetry or for evaluation."""

    _fields_ = [
        ("telemetry", _U64 * INTEREST_WORDS),
        ("evaluate", _U64 * INTEREST_WORDS),
        ("writes", _U64 * INTEREST_WORDS),
        ("paths", _U64 * INTEREST_WORDS),
        ("kinds_telemetry", _U32),
        ("kinds_evaluate", _U32),
        ("active", _U32),
        ("pad", _U32),
    ]


PREFIXES = 32  # rows of `interest_prefixes`
PREFIX_WORDS = 8  # a prefix is compared 8 bytes at a time, up to 64 bytes


class PathPrefix(ctypes.Structure):
    """`struct path_prefix`: a path prefix as words and the masks of the bytes that count."""

    _fields_ = [("word", _U64 * PREFIX_WORDS), ("mask", _U64 * PREFIX_WORDS)]


# map name -> (key type, value type, per CPU) for the maps user space opens; the loader
# also checks their sizes against what the compiler produced.
MAP_LAYOUTS: dict[str, tuple[type, type, bool]] = {
    "config": (_U32, _U64, False),
    "stats": (_U32, _U64, True),
    "cgroup_allow": (_U64, _U8, False),
    "syscall_role": (_U32, _U32, False),
    "ptr_mask": (_U32, _U32, False),
    "excluded": (_U32, _U8, False),
    "pidns_of_cgroup": (_U64, NsId, False),
    "syscall_counts": (_U64, SyscallCounts, False),
    "cgroup_interest": (_U64, _U32, False),
    "interest": (_U32, Interest, False),
    "interest_prefixes": (_U32, PathPrefix, False),
}
RING_BUFFER = "events"
