"""BPF maps and the ring buffer, reached through libbcc_bpf: no compiler in this process.

bcc's Python module links LLVM and clang (≈160 MiB resident once a program is compiled).
The agent only needs to read and write a handful of maps and drain one ring buffer, which
`libbcc_bpf.so.0` (bcc's libbpf wrapper, no LLVM) does through the same C calls bcc uses.
Keys and values are fixed-size ctypes; the loader checks their sizes against what the
compiler produced, so a layout drift between bpf/common.h and this side is an error at
start, never a silent misread.
"""

from __future__ import annotations

import ctypes
import os
from collections.abc import Callable, Iterator
from functools import cache

RingCallback = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int)


class MapError(RuntimeError):
    """A map operation the kernel refused, with the map's name and errno text."""


@cache
def bpf_lib() -> ctypes.CDLL:
    lib = ctypes.CDLL("libbcc_bpf.so.0", use_errno=True)
    ptr, fd = ctypes.c_void_p, ctypes.c_int
    for name, args in (
        ("bpf_lookup_elem", [fd, ptr, ptr]),
        ("bpf_update_elem", [fd, ptr, ptr, ctypes.c_ulonglong]),
        ("bpf_delete_elem", [fd, ptr]),
        ("bpf_get_next_key", [fd, ptr, ptr]),
        ("bpf_poll_ringbuf", [ptr, ctypes.c_int]),
        ("bpf_consume_ringbuf", [ptr]),
        ("bpf_close_perf_event_fd", [fd]),
    ):
        getattr(lib, name).argtypes = args
        getattr(lib, name).restype = ctypes.c_int
    uint, text = ctypes.c_uint, ctypes.c_char_p
    for name, args in (  # what a warm start from the compile cache needs (bpfcache)
        ("bcc_create_map", [ctypes.c_int, text, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_int]),
        ("bcc_prog_load", [ctypes.c_int, text, text, ctypes.c_int, text, uint, ctypes.c_int, ptr, uint]),
        ("bpf_attach_tracepoint", [fd, text, text]),
    ):
        getattr(lib, name).argtypes = args
        getattr(lib, name).restype = ctypes.c_int
    lib.bpf_new_ringbuf.argtypes = [fd, RingCallback, ptr]
    lib.bpf_new_ringbuf.restype = ptr
    lib.bpf_free_ringbuf.argtypes = [ptr]
    lib.bpf_free_ringbuf.restype = None
    return lib


@cache
def possible_cpus() -> int:
    """Per-CPU maps hold one slot per *possible* CPU (not online), as the kernel counts them."""
    with open("/sys/devices/system/cpu/possible") as fh:
        text = fh.read().strip()
    total = 0
    for part in text.split(","):
        low, _, high = part.partition("-")
        total += int(high or low) - int(low) + 1
    return total


class BpfMap:
    """One map by fd, with ctypes key and value types."""

    def __init__(self, name: str, fd: int, key_type: type, value_type: type, per_cpu: bool = False) -> None:
        self.name, self.fd = name, fd
        self.key_type, self.value_type = key_type, value_type
        self.per_cpu = per_cpu
        # the kernel rounds each CPU's slot up to 8 bytes
        slot = (ctypes.sizeof(value_type) + 7) // 8 * 8
        self._value_bytes = slot * possible_cpus() if per_cpu else ctypes.sizeof(value_type)
        self._slot = slot

    def _key(self, key: object) -> ctypes._SimpleCData:
        return key if isinstance(key, self.key_type) else self.key_type(key)

    def lookup_raw(self, key: object) -> bytes | None:
        buf = ctypes.create_string_buffer(self._value_bytes)
        k = self._key(key)
        if bpf_lib().bpf_lookup_elem(self.fd, ctypes.byref(k), buf) < 0:
            return None
        return buf.raw

    def get(self, key: object) -> object | None:
        """The value (a ctypes object), or None when the key is absent."""
        raw = self.lookup_raw(key)
        return (
            None if raw is None else self.value_type.from_buffer_copy(raw[: ctypes.sizeof(self.value_type)])
        )

    def per_cpu_values(self, key: object) -> list[object]:
        """Every possible CPU's value of a per-CPU map entry (empty when absent)."""
        raw = self.lookup_raw(key)
        if raw is None:
            return []
        size = ctypes.sizeof(self.value_type)
        return [self.value_type.from_buffer_copy(raw[i : i + size]) for i in range(0, len(raw), self._slot)]

    def set(self, key: object, value: object, only_new: bool = False) -> None:
        v = value if isinstance(value, self.value_type) else self.value_type(value)
        flags = 1 if only_new else 0  # BPF_NOEXIST
        if bpf_lib().bpf_update_elem(self.fd, ctypes.byref(self._key(key)), ctypes.byref(v), flags) < 0:
            err = ctypes.get_errno()
            if only_new and err == 17:  # EEXIST: someone else added it first, which is what we wanted
                return
            raise MapError(f"map {self.name}: update failed: {os.strerror(err)}")

    def delete(self, key: object) -> None:
        """Remove `key`; absent already is fine (ENOENT)."""
        if bpf_lib().bpf_delete_elem(self.fd, ctypes.byref(self._key(key))) < 0:
            err = ctypes.get_errno()
            if err != 2:
                raise MapError(f"map {self.name}: delete failed: {os.strerror(err)}")

    def keys(self) -> Iterator[object]:
        lib, key = bpf_lib(), self.key_type()
        previous = None
        while (
            lib.bpf_get_next_key(
                self.fd, None if previous is None else ctypes.byref(previous), ctypes.byref(key)
            )
            == 0
        ):
            current = self.key_type.from_buffer_copy(key)
            yield current
            previous = current

    def items(self) -> Iterator[tuple[object, object]]:
        for key in list(self.keys()):
            value = self.get(key)
            if value is not None:  # deleted between the walk and the lookup
                yield key, value


class RingBuffer:
    """The `events` ring buffer: `poll` waits, `consume` drains; both call
    `on_record(ctx, data_address, size) -> 0` once per record, straight from C."""

    def __init__(self, fd: int, on_record: Callable[[int, int, int], int]) -> None:
        self._callback = RingCallback(on_record)  # kept alive as long as the manager
        self._manager = bpf_lib().bpf_new_ringbuf(fd, self._callback, None)
        if not self._manager:
            raise MapError(f"ring buffer: cannot open: {os.strerror(ctypes.get_errno())}")

    def poll(self, timeout_ms: int) -> None:
        bpf_lib().bpf_poll_ringbuf(self._manager, timeout_ms)

    def consume(self) -> None:
        bpf_lib().bpf_consume_ringbuf(self._manager)

    def close(self) -> None:
        if self._manager:
            bpf_lib().bpf_free_ringbuf(self._manager)
            self._manager = None


def detach_tracepoint(fd: int) -> None:
    """Disable and close one tracepoint attachment (a perf event fd)."""
    bpf_lib().bpf_close_perf_event_fd(fd)
