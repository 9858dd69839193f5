"""Turn observed paths into profile patterns the way Kubescape's storage does.

Volatile segments (numbers, UUIDs and pod uids, long hex ids, the `..2025_07_07_21_05_56.123`
directories that ConfigMap and Secret volumes rotate) become `⋯`; a directory with more
distinct children than the threshold (default 50) collapses them into one `⋯`; a run of
adjacent `⋯` segments becomes `*`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from beholder.bob.match import DYNAMIC, WILDCARD

DEFAULT_THRESHOLD = 50
VOLATILE = (
    re.compile(r"\d+"),  # pids, fds, counters
    re.compile(
        r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
    ),  # uuid, pod uid
    re.compile(r"(?=.*\d)[0-9a-fA-F]{16,}"),  # container ids, hashes
    re.compile(r"\.\.\d{4}_\d{2}_\d{2}_\d{2}_\d{2}_\d{2}\.\d+"),  # ..YYYY_MM_DD_hh_mm_ss.N
)


def volatile(segment: str) -> bool:
    """True for a path segment that changes between runs of the same software."""
    return any(p.fullmatch(segment) for p in VOLATILE)


class _Dir:
    __slots__ = ("children", "terminal")

    def __init__(self) -> None:
        self.children: dict[str, _Dir] = {}
        self.terminal = False

    def merge(self, other: _Dir) -> None:
        self.terminal |= other.terminal
        for name, child in other.children.items():
            mine = self.children.get(name)
            if mine is None:
                self.children[name] = child
            else:
                mine.merge(child)


def generalize(paths: Iterable[str], threshold: int = DEFAULT_THRESHOLD) -> dict[str, str]:
    """Map each observed path to its pattern; several paths may share one pattern."""
    split = {p: _segments(p) for p in paths}
    root = _Dir()
    for segments in split.values():
        node = root
        for seg in segments:
            node = node.children.setdefault(seg, _Dir())
        node.terminal = True
    _collapse(root, threshold)
    return {p: _pattern(p, segments, root) for p, segments in split.items()}


def _segments(path: str) -> list[str]:
    parts = path.split("/")
    return [DYNAMIC if volatile(s) else s for s in parts]


def _collapse(node: _Dir, threshold: int) -> None:
    if len(node.children) > threshold:
        merged = _Dir()
        for child in node.children.values():
            merged.merge(child)
        node.children = {DYNAMIC: merged}
    for child in node.children.values():
        _collapse(child, threshold)


def _pattern(path: str, segments: list[str], root: _Dir) -> str:
    if not path.startswith("/"):
        return path
    out: list[str] = []
    node = root
    for seg in segments:
        nxt = node.children.get(seg)
        if nxt is None:
            seg, nxt = DYNAMIC, node.children[DYNAMIC]
        out.append(seg)
        node = nxt
    return "/".join(_join_dynamic_runs(out))


def _join_dynamic_runs(segments: list[str]) -> list[str]:
    out: list[str] = []
    for seg in segments:
        if seg == DYNAMIC and out and out[-1] in (DYNAMIC, WILDCARD):
            out[-1] = WILDCARD
        else:
            out.append(seg)
    return out
