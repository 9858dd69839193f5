"""Encoded attribute chunks, each built once and reused: the OTLP encoder's caches.

Records are concatenated from byte chunks (protobuf via `wire`, OTLP/JSON via `jsonwire`).
Attribute keys, low-cardinality values, results, the calling thread's identity, whole
argument sets and shared objects (a process, a container) repeat across events, so each
distinct one is encoded once. Every cache is bounded: a full one is cleared.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable, Mapping
from types import ModuleType
from typing import TypeVar

from beholder.otel import semconv as sc
from beholder.otel.arg_values import ARG_PREFIX, INT_ARGS, ArgValues, arg_number

T = TypeVar("T")
R = TypeVar("R")
CACHE_LIMIT = 4096  # per cache; a full cache is cleared (a node runs far fewer live processes)
NO_KEYS: Mapping[str, str] = {}


class AttrCache:
    """Attribute encoders of one wire format (`wire` or `jsonwire`) with their caches."""

    def __init__(self, fmt: ModuleType) -> None:
        self.f = fmt
        self._keys: dict[str, bytes] = {}
        self._values: dict[tuple[str, str], bytes] = {}
        self._heads: dict[tuple[str, str], bytes] = {}
        self._results: dict[int, bytes] = {}
        self._threads: dict[tuple[int, int, int, int, str, int], bytes] = {}
        self._arg_sets: dict[tuple, bytes] = {}

    def key(self, name: str) -> bytes:
        key = self._keys.get(name)
        if key is None:  # template instances (arg names, label keys) add a few names each
            if len(self._keys) > CACHE_LIMIT:
                self._keys.clear()
            key = self._keys[name] = self.f.key(name)
        return key

    def s(self, name: str, value: str) -> bytes:
        return self.f.attr_str(self.key(name), value)

    def i(self, name: str, value: int) -> bytes:
        return self.f.attr_int(self.key(name), value)

    def d(self, name: str, value: float) -> bytes:
        return self.f.attr_double(self.key(name), value)

    def true(self, name: str) -> bytes:
        return self.f.attr_true(self.key(name))

    def flag(self, name: str, value: bool) -> bytes:
        return self.f.attr_true(self.key(name)) if value else self.f.attr_false(self.key(name))

    def present(self, pairs: tuple[tuple[str, str | int], ...]) -> bytes:
        """Attributes for the values that are set (0 and "" mean unknown here)."""
        return b"".join(self.i(n, v) if isinstance(v, int) else self.s(n, v) for n, v in pairs if v)

    def array(self, name: str, values: tuple[str, ...]) -> bytes:
        return self.f.attr_str_array(self.key(name), values)

    def value(self, name: str, value: str) -> bytes:
        """A low-cardinality string attribute, encoded once per distinct value."""
        cached = self._values.get((name, value))
        if cached is None:
            if len(self._values) > CACHE_LIMIT:
                self._values.clear()
            cached = self._values[(name, value)] = self.s(name, value)
        return cached

    def head(self, operation: str, syscall: str) -> bytes:
        """The operation and syscall-name attributes."""
        head = self._heads.get((operation, syscall))
        if head is None:
            head = self.s(sc.BEHOLDER_OPERATION, operation) + self.s(sc.BEHOLDER_SYSCALL_NAME, syscall)
            self._heads[(operation, syscall)] = head
        return head

    def thread(self, identity: tuple[int, int, int, int, str, int]) -> bytes:
        """Who made the call: pid, tid, credentials, comm, cgroup (repeats across events)."""
        out = self._threads.get(identity)
        if out is not None:
            return out
        pid, tid, uid, gid, comm, cgroup_id = identity
        out = (
            self.i(sc.PROCESS_PID, pid)
            + self.i(sc.PROCESS_REAL_USER_ID, uid)
            + self.i(sc.BEHOLDER_PROCESS_REAL_GROUP_ID, gid)
        )
        if tid and tid != pid:
            out += self.i(sc.BEHOLDER_THREAD_TID, tid)
        if comm:
            out += self.s(sc.THREAD_NAME, comm)
        if cgroup_id:
            out += self.i(sc.BEHOLDER_CGROUP_ID, cgroup_id)
        if len(self._threads) > CACHE_LIMIT:
            self._threads.clear()
        self._threads[identity] = out
        return out

    def result(self, retval: int) -> bytes:
        cached = self._results.get(retval)
        if cached is None:
            if len(self._results) > CACHE_LIMIT:
                self._results.clear()
            cached = self.i(sc.BEHOLDER_SYSCALL_RETVAL, retval)
            if retval < 0:
                cached += self.s(sc.BEHOLDER_SYSCALL_RESULT, os.strerror(-retval))
                cached += self.s(sc.ERROR_TYPE, errno.errorcode.get(-retval, f"E{-retval}"))
            else:
                cached += self.s(sc.BEHOLDER_SYSCALL_RESULT, "Passed")
            self._results[retval] = cached
        return cached

    def shared(self, store: dict[int, tuple], obj: T, fingerprint: tuple, build: Callable[[T], R]) -> R:
        """Encode an object many events share once; again only when its fingerprint changes.

        The cache holds the object itself, so its id cannot be reused while cached.
        """
        cached = store.get(id(obj))
        if cached is not None and cached[1] == fingerprint:
            return cached[2]
        if len(store) > CACHE_LIMIT:
            store.clear()
        value = build(obj)
        store[id(obj)] = (obj, fingerprint, value)
        return value

    def args(self, values: ArgValues, mapped: Mapping[str, str], skip: tuple[str, ...] = ()) -> bytes:
        """Argument values (`arg_values`): mapped names to their attribute, the rest to
        `beholder.syscall.arg.<name>` (an int where the registry declares one).

        Whole argument sets repeat (`fd=-100 flags=O_RDONLY|O_CLOEXEC`), so each distinct set
        is encoded once.
        """
        signature = (id(mapped), skip, *values)
        cached = self._arg_sets.get(signature)
        if cached is not None:
            return cached
        out = []
        for k, v in values:
            if k in skip or v == "":  # an empty value says nothing
                continue
            attr = mapped.get(k)
            if attr is not None:
                out.append(self.s(attr, v if isinstance(v, str) else str(v)))
            elif k not in INT_ARGS:
                out.append(self.s(ARG_PREFIX + k, v if isinstance(v, str) else str(v)))
            elif isinstance(v, int):
                out.append(self.i(ARG_PREFIX + k, v))
            else:  # text a recording holds
                number = arg_number(v)
                out.append(self.s(ARG_PREFIX + k, v) if number is None else self.i(ARG_PREFIX + k, number))
        if len(self._arg_sets) > CACHE_LIMIT:
            self._arg_sets.clear()
        encoded = self._arg_sets[signature] = b"".join(out)
        return encoded
