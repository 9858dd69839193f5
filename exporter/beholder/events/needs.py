"""What one consumer needs the kernel to send about one cgroup, per syscall and record kind.

Interest is per syscall, not per class: profile-free rules need exec and a few calls, not
every openat, and self-protection needs opens only when they can write. Whole classes
(`operations`) are named as such and expanded to their syscalls by whoever knows the
sensors. A consumer that cannot say what it needs gets `EVERYTHING`.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from beholder.events.kinds import KIND_BY_SYSCALL
from beholder.events.model import Operation


@dataclass(frozen=True, slots=True)
class Needs:
    """Whole operation classes, single syscalls by name, record kinds without a syscall
    (fork, exit, TCP state, capability), opens needed only when their flags can write, and
    opens needed only under some path prefixes (a call also needed whole, here or by
    another consumer, is sent whole)."""

    operations: frozenset[Operation] = frozenset()
    syscalls: frozenset[str] = frozenset()
    kinds: frozenset[int] = frozenset()
    writes: frozenset[str] = frozenset()
    prefixes: frozenset[str] = frozenset()  # opens needed when their path starts with one
    everything: bool = False

    def __or__(self, other: Needs) -> Needs:
        return Needs(
            self.operations | other.operations,
            self.syscalls | other.syscalls,
            self.kinds | other.kinds,
            self.writes | other.writes,
            self.prefixes | other.prefixes,
            self.everything or other.everything,
        )

    def __bool__(self) -> bool:
        parts = self.operations or self.syscalls or self.kinds or self.writes or self.prefixes
        return self.everything or bool(parts)


NOTHING = Needs()
EVERYTHING = Needs(everything=True)


def calls_of(event_kinds: Collection[str]) -> frozenset[str]:
    """The syscalls whose events are of one of `event_kinds` (semconv event names)."""
    return frozenset(
        name for table in KIND_BY_SYSCALL.values() for name, kind in table.items() if kind in event_kinds
    )
