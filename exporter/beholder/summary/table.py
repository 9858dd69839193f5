"""A bounded table of aggregated rows: count and last time per key, oldest evicted first.

Each summary table (process, file, ingress, egress, bind) of each container is one
`RowTable`. Rows are kept in least-recently-updated order so that when the table is full the
row that has been quiet longest goes, and `evicted` says how many went.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass


@dataclass(slots=True)
class Row:
    count: int
    last_ns: int


class RowTable:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.rows: OrderedDict[tuple[str, ...], Row] = OrderedDict()
        self.evicted = 0
        self.added = 0  # events ever counted here; never decreases (an OTel counter reads it)

    def add(self, key: tuple[str, ...], ts_ns: int, count: int = 1) -> None:
        self.added += count
        self._merge(key, ts_ns, count)

    def rekey(self, old: tuple[str, ...], new: tuple[str, ...]) -> None:
        """Move a row's count under another key (a file row folding into its directory)."""
        row = self.rows.pop(old, None)
        if row is not None:
            self._merge(new, row.last_ns, row.count)

    def _merge(self, key: tuple[str, ...], ts_ns: int, count: int) -> None:
        row = self.rows.get(key)
        if row is None:
            self.rows[key] = Row(count, ts_ns)
            if len(self.rows) > self.limit:
                self.rows.popitem(last=False)
                self.evicted += 1
            return
        row.count += count
        row.last_ns = max(row.last_ns, ts_ns)
        self.rows.move_to_end(key)
