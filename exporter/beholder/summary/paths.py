"""Fold file paths into directories the way `karmor summary` shows them (seed 001).

A directory where a process touched one file keeps the full path (`/proc/sys/kernel/
ngroups_max`, `/lib/terminfo/x/xterm`); as soon as the same process touches a second file
in that directory, the rows merge into `dir/` (`/etc/`, `/lib/x86_64-linux-gnu/`) and the
directory stays folded. Per directory only the first file name is remembered, so memory
grows with directories, not files.
"""

from __future__ import annotations

from collections import OrderedDict

from beholder.summary.table import RowTable

_FOLDED = ""


def split_path(path: str) -> tuple[str, str]:
    """`/etc/passwd` → (`/etc/`, `passwd`); a directory path (`/`, `/tmp/`) has no name."""
    cut = path.rfind("/") + 1
    return path[:cut], path[cut:]


class PathFolder:
    """Feeds one file table; `add` decides whether a path is shown whole or as its directory."""

    def __init__(self, table: RowTable, limit: int) -> None:
        self.table = table
        self.limit = limit
        self._first: OrderedDict[tuple[str, str, str], str] = OrderedDict()

    def add(self, source: str, path: str, status: str, ts_ns: int, count: int = 1) -> None:
        directory, name = split_path(path)
        if not name:
            self.table.add((source, path, status), ts_ns, count)
            return
        key = (source, directory, status)
        first = self._first.get(key)
        if first is None:
            self._first[key] = name
            if len(self._first) > self.limit:
                self._first.popitem(last=False)
        elif first != _FOLDED and first != name:
            self._first[key] = _FOLDED
            self.table.rekey((source, directory + first, status), (source, directory, status))
        shown = directory if self._first.get(key) == _FOLDED else path
        self.table.add((source, shown, status), ts_ns, count)
