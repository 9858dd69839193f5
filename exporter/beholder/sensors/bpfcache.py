"""The compiled BPF object, cached so that a restart does not run LLVM.

bcc cannot load a precompiled ELF, but what it hands the kernel is plain: maps created from
(type, key size, value size, entries, flags), and per tracepoint one instruction array in
which every map reference is a 64-bit immediate load of that map's fd. After a cold compile
the loader child records exactly that (`capture`). A warm start creates the same maps,
points each fd load at the new map, loads the instructions and attaches them (`load`),
through libbcc_bpf (bcc's libbpf wrapper, no compiler) in the agent itself: no child, no
clang. The key hashes everything bcc's output depends on: the program text and cflags,
bcc's version, the running kernel (release and build), the format of every tracepoint the
program reads (bcc turns them into argument structs), and the header tree it compiled with.

The cache is trusted only when the directory and file belong to this user and nobody else
may write them: its instructions go straight into the kernel.
"""

from __future__ import annotations

import base64
import ctypes
import hashlib
import importlib.util
import json
import os
import re
import stat
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from beholder.sensors.bpfmaps import bpf_lib
from beholder.sensors.kernel import tracefs

CACHE_DIR = Path("/var/lib/beholder/bpf-cache")
KEEP = 16  # entries kept (one per program variant: sensor set, ring size, options); oldest go
FORMAT = 1  # bump when the cached layout or what `load` does with it changes
PROG_TYPE_TRACEPOINT = 5
_LD_IMM64 = 0x18  # BPF_LD | BPF_IMM | BPF_DW: the only opcode that carries a map fd
_MAP_FD_LOADS = (1, 2)  # src_reg BPF_PSEUDO_MAP_FD, BPF_PSEUDO_MAP_VALUE
_NAME_LEN = 15  # BPF_OBJ_NAME_LEN less the terminator
_HEADER_STAMPS = (
    ".beholder-merged",
    "include/generated/autoconf.h",
    "include/generated/uapi/linux/version.h",
)
_TRACEPOINT_PROBE = re.compile(r"TRACEPOINT_PROBE\(\s*(\w+)\s*,\s*(\w+)\s*\)")


class CacheStale(RuntimeError):
    """The cached object does not load here any more; compile afresh."""


@dataclass(frozen=True, slots=True)
class MapSpec:
    name: str
    fd: int  # the fd the compiler wrote into the instructions
    type: int
    key_size: int
    value_size: int
    max_entries: int
    flags: int


@dataclass(frozen=True, slots=True)
class ProgSpec:
    name: str
    tracepoint: str  # "category:event"
    insns: bytes


@dataclass(frozen=True, slots=True)
class CompiledObject:
    license: str
    kern_version: int
    maps: tuple[MapSpec, ...]
    programs: tuple[ProgSpec, ...]

    def to_json(self) -> str:
        return json.dumps(
            {
                "format": FORMAT,
                "license": self.license,
                "kern_version": self.kern_version,
                "maps": [asdict(m) for m in self.maps],
                "programs": [
                    {"name": p.name, "tracepoint": p.tracepoint, "insns": base64.b64encode(p.insns).decode()}
                    for p in self.programs
                ],
            }
        )

    @classmethod
    def from_json(cls, text: str) -> CompiledObject:
        data = json.loads(text)
        if data.get("format") != FORMAT:
            raise ValueError(f"format {data.get('format')!r}, expected {FORMAT}")
        return cls(
            str(data["license"]),
            int(data["kern_version"]),
            tuple(MapSpec(**m) for m in data["maps"]),
            tuple(
                ProgSpec(p["name"], p["tracepoint"], base64.b64decode(p["insns"])) for p in data["programs"]
            ),
        )


# --- the key -------------------------------------------------------------------------------
def cache_key(source: str, cflags: list[str], header_tree: Path) -> str:
    """Hash of everything the compiled object depends on (see the module docstring)."""
    digest = hashlib.sha256()
    for part in (
        source,
        "\0".join(cflags),
        _bcc_version(),
        *_kernel_identity(),
        *_header_identity(header_tree),
    ):
        digest.update(part.encode())
        digest.update(b"\0")
    root = tracefs()
    for category, event in sorted(set(_TRACEPOINT_PROBE.findall(source))):
        fmt = root / "events" / category / event / "format" if root else None
        digest.update(fmt.read_bytes() if fmt and fmt.exists() else f"missing {category}:{event}".encode())
    return digest.hexdigest()


def _bcc_version() -> str:
    """bcc's version file, read without importing bcc (that would map LLVM into the agent)."""
    spec = importlib.util.find_spec("bcc")
    if spec is None or spec.origin is None:
        return "no bcc"
    try:
        return (Path(spec.origin).parent / "version.py").read_text()
    except OSError:
        return "no bcc version"


def _kernel_identity() -> tuple[str, str]:
    with open("/proc/version") as fh:
        return os.uname().release, fh.read()


def _header_identity(tree: Path) -> tuple[str, ...]:
    """The tree's path and what names its version: the merge stamp and the generated headers."""
    parts = [str(tree)]
    for name in (
        ".beholder-merged",
        "include/generated/autoconf.h",
        "include/generated/uapi/linux/version.h",
    ):
        try:
            st = (tree / name).stat()
            parts.append(f"{name}:{st.st_size}:{st.st_mtime_ns}")
        except OSError:
            parts.append(f"{name}:missing")
    return tuple(parts)


# --- the store -----------------------------------------------------------------------------
def _private(st: os.stat_result) -> bool:
    return st.st_uid == os.geteuid() and not st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def read(directory: Path, key: str) -> CompiledObject | None:
    """The cached object for `key`, or None (absent, unreadable, or not safely owned)."""
    path = directory / f"{key}.json"
    try:
        if not (_private(directory.stat()) and _private(path.stat())):
            return None
        obj = CompiledObject.from_json(path.read_text())
        os.utime(path)  # recently used: `write` prunes by age
        return obj
    except (OSError, ValueError, KeyError, TypeError):
        return None


def write(directory: Path, key: str, obj: CompiledObject) -> None:
    """Store atomically (a reader never sees half a file), 0600 in a 0700 directory."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-")
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(obj.to_json())
        os.replace(tmp, directory / f"{key}.json")
    except BaseException:
        os.unlink(tmp)
        raise
    entries = sorted(directory.glob("*.json"), key=lambda p: p.stat().st_mtime_ns, reverse=True)
    for stale in entries[KEEP:]:
        stale.unlink(missing_ok=True)


# --- cold: record what bcc loaded (in the loader child, bcc imported) ------------------------
def capture(bpf: object) -> CompiledObject:
    """The maps and tracepoint programs of a loaded `bcc.BPF`, as the compiler made them."""
    from bcc.libbcc import lib

    module = bpf.module  # type: ignore[attr-defined]
    size_t, ptr = ctypes.c_size_t, ctypes.c_void_p
    for name, restype in (
        ("bpf_num_tables", size_t),
        ("bpf_table_name", ctypes.c_char_p),
        ("bpf_table_fd_id", ctypes.c_int),
        ("bpf_table_type_id", ctypes.c_int),
        ("bpf_table_max_entries_id", size_t),
        ("bpf_table_flags_id", ctypes.c_int),
        ("bpf_table_key_size_id", size_t),
        ("bpf_table_leaf_size_id", size_t),
    ):
        getattr(lib, name).restype = restype
        getattr(lib, name).argtypes = [ptr] if name == "bpf_num_tables" else [ptr, size_t]
    maps = tuple(
        MapSpec(
            lib.bpf_table_name(module, i).decode(),
            lib.bpf_table_fd_id(module, i),
            lib.bpf_table_type_id(module, i),
            lib.bpf_table_key_size_id(module, i),
            lib.bpf_table_leaf_size_id(module, i),
            lib.bpf_table_max_entries_id(module, i),
            lib.bpf_table_flags_id(module, i),
        )
        for i in range(lib.bpf_num_tables(module))
    )
    programs = []
    for tp in bpf.tracepoint_fds:  # type: ignore[attr-defined]
        category, event = (tp.decode() if isinstance(tp, bytes) else str(tp)).split(":")
        name = f"tracepoint__{category}__{event}"
        programs.append(ProgSpec(name, f"{category}:{event}", bpf.dump_func(name.encode())))  # type: ignore[attr-defined]
    license = lib.bpf_module_license(module).decode()
    return CompiledObject(license, int(lib.bpf_module_kern_version(module)), maps, tuple(programs))


# --- warm: load it without a compiler ------------------------------------------------------
def relocate(insns: bytes, fds: dict[int, int]) -> bytes:
    """The instructions with every map fd load pointed at the new map's fd."""
    out = bytearray(insns)
    for off in range(0, len(out) - 15, 8):
        if out[off] == _LD_IMM64 and out[off + 1] >> 4 in _MAP_FD_LOADS:
            old = int.from_bytes(out[off + 4 : off + 8], "little", signed=True)
            if old not in fds:
                raise CacheStale(f"instruction {off // 8} loads fd {old}, which is no recorded map")
            out[off + 4 : off + 8] = fds[old].to_bytes(4, "little", signed=True)
    return bytes(out)


def load(obj: CompiledObject, keep_maps: list[str]) -> tuple[dict[str, tuple[int, MapSpec]], dict[str, int]]:
    """Create the maps, load and attach every program. Returns (map name -> (fd, spec)) for
    `keep_maps` and (tracepoint -> perf event fd); every other fd is closed (the attached
    programs hold their maps). On failure nothing stays loaded and `CacheStale` says why."""
    lib = bpf_lib()
    created: dict[str, tuple[int, MapSpec]] = {}
    attachments: dict[str, int] = {}
    try:
        for spec in obj.maps:
            fd = lib.bcc_create_map(
                spec.type, spec.name[:_NAME_LEN].encode(), spec.key_size, spec.value_size,
                spec.max_entries, spec.flags,
            )  # fmt: skip
            if fd < 0:
                raise CacheStale(f"map {spec.name}: {os.strerror(ctypes.get_errno())}")
            created[spec.name] = (fd, spec)
        fds = {spec.fd: fd for fd, spec in created.values()}
        license = obj.license.encode()
        for prog in obj.programs:
            insns = relocate(prog.insns, fds)
            prog_fd = lib.bcc_prog_load(
                PROG_TYPE_TRACEPOINT, prog.name[:_NAME_LEN].encode(), insns, len(insns), license,
                obj.kern_version, 0, None, 0,
            )  # fmt: skip
            if prog_fd < 0:
                raise CacheStale(f"program {prog.name}: {os.strerror(ctypes.get_errno())}")
            try:
                category, event = prog.tracepoint.split(":")
                perf_fd = lib.bpf_attach_tracepoint(prog_fd, category.encode(), event.encode())
            finally:
                os.close(prog_fd)  # the attachment holds the program
            if perf_fd < 0:
                raise CacheStale(f"attach {prog.tracepoint}: {os.strerror(ctypes.get_errno())}")
            attachments[prog.tracepoint] = perf_fd
    except BaseException:
        for perf_fd in attachments.values():
            lib.bpf_close_perf_event_fd(perf_fd)
        for fd, _spec in created.values():
            os.close(fd)
        raise
    for name in [n for n in created if n not in keep_maps]:
        os.close(created.pop(name)[0])
    return created, attachments
