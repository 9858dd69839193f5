"""Compiled matchers with Kubescape's wildcard semantics, built once per profile.

Paths: `⋯` matches exactly one segment; a standalone `*` matches zero or more segments
mid-path and one or more at the end (so `/etc/*` does not match `/etc`); a `*` inside a
segment is a literal character; a lone unanchored `*` matches everything. Exec args:
see `match_args`. DNS names: `*.x` and `a.⋯.b` take exactly one label,
`x.*` one or more; trailing dots are ignored.

Cost per lookup does not grow with the profile: literal patterns live in a hash set,
wildcard patterns in a segment trie walked once with a small set of live states.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from typing import Generic, TypeVar

DYNAMIC = "⋯"
WILDCARD = "*"
ARGS_ANY = "⋯⋯"

T = TypeVar("T")


class _Node(Generic[T]):
    __slots__ = ("children", "dynamic", "is_star", "star", "values")

    def __init__(self, is_star: bool = False) -> None:
        self.children: dict[str, _Node[T]] = {}
        self.dynamic: _Node[T] | None = None
        self.star: _Node[T] | None = None
        self.values: list[T] = []
        self.is_star = is_star


class PatternIndex(Generic[T]):
    """Patterns (literal or wildcard) mapped to values; `lookup` returns the values of
    every pattern that matches a concrete name."""

    def __init__(self, separator: str = "/") -> None:
        self._sep = separator
        self._literal: dict[str, list[T]] = {}
        self._root: _Node[T] = _Node()
        self._match_all: list[T] = []
        self._has_wild = False

    def __len__(self) -> int:
        return sum(map(len, self._literal.values()))

    def literals(self) -> set[str]:
        """The patterns without wildcards, as added (normalised)."""
        return set(self._literal)

    def add(self, pattern: str, value: T) -> None:
        pattern = self.normalize(pattern)
        if pattern == WILDCARD:
            self._match_all.append(value)
            return
        segments = pattern.split(self._sep)
        if DYNAMIC not in segments and WILDCARD not in segments:
            self._literal.setdefault(pattern, []).append(value)
            return
        self._has_wild = True
        node = self._root
        previous_star = False
        for seg in segments:
            if seg == WILDCARD:
                if previous_star:  # `/a/*/*/b` is `/a/*/b`
                    continue
                node.star = node.star or _Node(is_star=True)
                node = node.star
            elif seg == DYNAMIC:
                node.dynamic = node.dynamic or _Node()
                node = node.dynamic
            else:
                node = node.children.setdefault(seg, _Node())
            previous_star = seg == WILDCARD
        node.values.append(value)

    def normalize(self, name: str) -> str:
        """Trailing separators do not change the meaning: `/etc/` is `/etc`."""
        while len(name) > 1 and name.endswith(self._sep):
            name = name[:-1]
        return name

    def lookup(self, name: str) -> list[T]:
        """Values of all patterns matching `name`; empty when none does."""
        if not name:
            return []
        name = self.normalize(name)
        found = self._literal.get(name)
        out = list(found) if found else []
        out += self._match_all
        if self._has_wild:
            out += self._walk(self._split(name))
        return out

    def contains(self, name: str) -> bool:
        if not name:
            return False
        name = self.normalize(name)
        if self._match_all or name in self._literal:
            return True
        return self._has_wild and bool(self._walk(self._split(name)))

    def _split(self, name: str) -> list[str]:
        """Segments of a normalized name; the root `/` is one empty segment, as in Kubescape."""
        return [""] if name == self._sep else name.split(self._sep)

    def _walk(self, segments: list[str]) -> list[T]:
        # A live state is (node, star_consumed): star nodes need one segment at the end.
        states = self._closure([(self._root, False)])
        for seg in segments:
            nxt: list[tuple[_Node[T], bool]] = []
            for node, _consumed in states:
                if node.is_star:
                    nxt.append((node, True))
                child = node.children.get(seg)
                if child is not None:
                    nxt.append((child, False))
                if node.dynamic is not None:
                    nxt.append((node.dynamic, False))
            if not nxt:
                return []
            states = self._closure(nxt)
        out: list[T] = []
        seen: set[int] = set()
        for node, consumed in states:
            if node.values and (consumed or not node.is_star) and id(node) not in seen:
                seen.add(id(node))
                out += node.values
        return out

    @staticmethod
    def _closure(states: list[tuple[_Node[T], bool]]) -> list[tuple[_Node[T], bool]]:
        """Add the zero-segment entry into each reachable `*` node (dedup by identity)."""
        out: list[tuple[_Node[T], bool]] = []
        seen: set[tuple[int, bool]] = set()
        stack = list(states)
        while stack:
            node, consumed = stack.pop()
            key = (id(node), consumed)
            if key in seen:
                continue
            seen.add(key)
            out.append((node, consumed))
            if node.star is not None:
                stack.append((node.star, False))
        return out


def match_args(pattern: Sequence[str], args: Sequence[str], required: bool = False) -> bool:
    """Storage's exec-argument contract (`MatchExecArgs` as node-agent calls it).

    An entry without args is no constraint, unless `argsRequired` (then argv must be
    empty). Recorded args match anchored at both ends: `⋯` is one argument, `⋯⋯` zero or
    more, a token holding `⋯` (`/usr/lib/postgresql/⋯/bin/postgres`) matches one argument
    segment by segment, and everything else, a lone `*` included, is literal data (an
    unexpanded shell glob is an argument like any other).
    """
    if not pattern and not required:
        return True
    n, m = len(pattern), len(args)
    # ok[j]: pattern[:i] matches args[:j]; rolled over i.
    ok = [True] + [False] * m
    for i in range(n):
        tok = pattern[i]
        new = [False] * (m + 1)
        if tok == ARGS_ANY:
            running = False
            for j in range(m + 1):
                running = running or ok[j]
                new[j] = running
        else:
            for j in range(1, m + 1):
                new[j] = ok[j - 1] and _arg_matches(tok, args[j - 1])
        ok = new
    return ok[m]


def _arg_matches(token: str, arg: str) -> bool:
    if token in (DYNAMIC, arg):
        return True
    if DYNAMIC not in token:
        return False
    want, have = token.split("/"), arg.split("/")
    return len(want) == len(have) and all(w in (DYNAMIC, h) for w, h in zip(want, have, strict=True))


def dns_pattern(name: str) -> str:
    """Profile DNS name → index pattern: trailing dot dropped, a leading `*` is one label."""
    name = name.strip().rstrip(".").lower()
    labels = name.split(".")
    if len(labels) > 1 and labels[0] == WILDCARD:
        labels[0] = DYNAMIC
    return ".".join(labels)


def dns_name(name: str) -> str:
    return name.strip().rstrip(".").lower()


class AddressSet:
    """Egress/ingress IP addresses: literals hashed, CIDRs checked, `*` for any."""

    def __init__(self, entries: Iterable[str] = ()) -> None:
        self.any = False
        self._literal: set[ipaddress.IPv4Address | ipaddress.IPv6Address] = set()
        self._networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
        for entry in entries:
            self.add(entry)

    def add(self, entry: str) -> None:
        entry = entry.strip()
        if not entry:
            return
        if entry == WILDCARD:
            self.any = True
        elif "/" in entry:
            try:
                self._networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                return
        else:
            addr = _ip(entry)
            if addr is not None:
                self._literal.add(addr)

    def __contains__(self, address: str) -> bool:
        addr = _ip(address)
        if addr is None:
            return False
        if self.any or addr in self._literal:
            return True
        return any(addr in net for net in self._networks if net.version == addr.version)


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        addr = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    return addr
