"""Kill mode's kernel maps (bpf/enforce.c): their layouts, and loading one scope's entries.

A scope is a container's cgroup id, or 0 for the host's own processes (those in the
agent's pid namespace). `KillMaps.load(scope, rules)` replaces that scope's entries as a
whole: the new entries go in first, then the old ones that are no longer wanted go, so a
reload never leaves a moment where a Block rule that stays is not enforced.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass, field

from beholder.events.abi import NsId
from beholder.events.enforce_abi import (
    ENF_PATH,
    ENF_STAT_NAMES,
    ENFORCE_MAP_LAYOUTS,
    KEY_HEAD,
    EnfKey,
    EnfNetKey,
    EnfRule,
    EnfSrcKey,
    KernelRules,
)
from beholder.sensors.bpfmaps import BpfMap

_WORDS = struct.Struct(f"<{ENF_PATH // 8}Q")


def path_hash(path: str) -> int:
    """bpf/enforce.c's `enforce_hash`: FNV-1a over the NUL-padded path, 8 bytes at a time."""
    raw = path.encode()[: ENF_PATH - 1].ljust(ENF_PATH, b"\0")
    h = 14695981039346656037
    for word in _WORDS.unpack(raw):
        h = ((h ^ word) * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    return h


def _source(path: str) -> int:
    return path_hash(path) if path else 0


@dataclass(slots=True)
class _Loaded:
    paths: set[bytes] = field(default_factory=set)  # EnfKey bytes
    sockets: set[bytes] = field(default_factory=set)
    sources: set[bytes] = field(default_factory=set)


class KillMaps:
    """The enforcement maps of the loaded program, written one scope at a time."""

    def __init__(self, maps: dict[str, BpfMap]) -> None:
        missing = sorted(set(ENFORCE_MAP_LAYOUTS) - set(maps))
        if missing:
            raise RuntimeError(f"kill mode: the program has no map {missing[0]} (built without enforce.c)")
        self.maps = maps
        self._loaded: dict[int, _Loaded] = {}
        st = os.stat("/proc/self/ns/pid")  # host processes are the ones in the agent's pid namespace
        maps["enforce_host_pidns"].set(0, NsId(st.st_dev, st.st_ino))

    def load(self, scope: int, rules: KernelRules) -> None:
        """Make `rules` the scope's entries (an empty `rules` removes the scope)."""
        before = self._loaded.get(scope, _Loaded())
        now = _Loaded()
        paths, net, sources = (self.maps[n] for n in ("enforce_paths", "enforce_net", "enforce_net_sources"))
        for entry in rules.paths:
            key = _path_key(scope, entry.klass, entry.source, entry.key)
            value = EnfRule(int(entry.kill), entry.flags, entry.dir_len, 0)
            paths.set(key, value)
            now.paths.add(bytes(key))
        for sock in rules.sockets:
            key = EnfNetKey(scope, _source(sock.source), sock.family, sock.type, sock.protocol, 0)
            net.set(key, 1)
            now.sockets.add(bytes(key))
        for source in rules.socket_sources:
            key = EnfSrcKey(scope, _source(source))
            sources.set(key, 1)
            now.sources.add(bytes(key))
        if rules.paths or rules.sockets:
            self.maps["enforce_scopes"].set(scope, 1)
            self._loaded[scope] = now
        else:
            self.maps["enforce_scopes"].delete(scope)
            self._loaded.pop(scope, None)
        for table, kind, old, new in (
            (paths, EnfKey, before.paths, now.paths),
            (net, EnfNetKey, before.sockets, now.sockets),
            (sources, EnfSrcKey, before.sources, now.sources),
        ):
            for raw in old - new:
                table.delete(kind.from_buffer_copy(raw))

    def scopes(self) -> list[int]:
        return sorted(self._loaded)

    @staticmethod
    def read_stats(maps: dict[str, BpfMap]) -> dict[str, int]:
        """Calls killed and paths that could not be read at entry, summed over CPUs."""
        table = maps["enforce_stats"]
        return {
            name: sum(int(v.value) for v in table.per_cpu_values(i)) for i, name in enumerate(ENF_STAT_NAMES)
        }


def _path_key(scope: int, klass: int, source: str, text: str) -> EnfKey:
    raw = text.encode()
    return EnfKey((KEY_HEAD + len(raw)) * 8, klass, scope, _source(source), raw)
