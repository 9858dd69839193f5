"""Kernel interest: keep the kernel's cgroup → interest map in step with what is wanted.

For each cgroup the kernel reports (a container, or a host cgroup) the plan is: the calls
its visibility exports as telemetry, plus what evaluation still reads from it (policies
selecting it, bound or profile-free profile rules, self-protection), sent marked
evaluate-only. Whenever evaluation reads anything, the process lifecycle (exec, fork,
exit, chdir) comes too, so the process tree stays whole. Equal plans share one slot of
the kernel's `interest` array; a cgroup points at its slot. Slot 0 catches every cgroup
not classified yet: it sends everything, flagged so that user space classifies the cgroup
from its first records. Everything here runs on the processing thread: `classify` after
each batch's enrichment, `refresh` on the agent's clock (live swaps of visibility,
policies and profiles, pod annotations learned late).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from beholder.events import ContainerInfo, Operation, kinds
from beholder.events.abi import (
    INTEREST_SLOTS,
    INTEREST_WORDS,
    PREFIX_WORDS,
    PREFIXES,
    Interest,
    PathPrefix,
    RecordKind,
)
from beholder.events.decoding import SYSCALL_NUMBERS
from beholder.events.interfaces import Interested
from beholder.events.needs import EVERYTHING, NOTHING, Needs, calls_of
from beholder.sensors.catalog import needs_of
from beholder.sources.visibility import Visibility, Visible

LIFECYCLE = Needs(
    syscalls=frozenset({"execve", "execveat", "chdir", "fchdir"}),
    kinds=frozenset({RecordKind.FORK, RecordKind.EXIT}),
)
ALL_CALLS = needs_of(Operation)
CGROUP_LIMIT = 65536  # entries of the kernel's `cgroup_interest` LRU
OPENS = calls_of({kinds.FILE_OPEN}) & ALL_CALLS.syscalls


@dataclass(frozen=True, slots=True)
class Plan:
    """What the kernel sends for one class of cgroups: syscall numbers and record kinds."""

    telemetry: frozenset[int]
    evaluate: frozenset[int]
    writes: frozenset[int]  # of `evaluate`, opens sent only when they can write
    kinds_telemetry: frozenset[int]
    kinds_evaluate: frozenset[int]
    paths: frozenset[int] = frozenset()  # of `evaluate`, opens sent only under `prefixes`
    prefixes: frozenset[str] = frozenset()

    def row(self) -> Interest:
        """The kernel's `struct interest` for this plan."""
        row = Interest(active=1)
        for words, numbers in (
            (row.telemetry, self.telemetry),
            (row.evaluate, self.evaluate),
            (row.writes, self.writes),
            (row.paths, self.paths),
        ):
            for index, word in enumerate(_words(numbers)):
                words[index] = word
        row.kinds_telemetry = _mask(self.kinds_telemetry)
        row.kinds_evaluate = _mask(self.kinds_evaluate)
        return row


def plan(visible: Visible, needs: Needs) -> Plan:
    """The plan for a cgroup whose visibility is `visible` and whose evaluators need `needs`."""
    shown = needs_of(visible)
    if needs.everything:
        wanted = ALL_CALLS
    elif needs:
        wanted = needs | needs_of(needs.operations) | LIFECYCLE
    else:
        wanted = NOTHING
    traced = ALL_CALLS.syscalls  # a need the sensors cannot meet (rmdir, randomx) has no bit
    whole = wanted.syscalls & traced
    writes = (wanted.writes & traced) - whole - shown.syscalls
    paths = (OPENS if wanted.prefixes else frozenset()) - whole - shown.syscalls
    return Plan(
        _numbers(shown.syscalls),
        _numbers((whole - shown.syscalls) | writes | paths),
        _numbers(writes),
        shown.kinds,
        wanted.kinds - shown.kinds,
        _numbers(paths),
        wanted.prefixes if paths else frozenset(),
    )


@runtime_checkable
class InterestMaps(Protocol):
    """The kernel side: the program's `interest` array and `cgroup_interest` map."""

    def set_slot(self, slot: int, row: Interest) -> None: ...

    def point(self, cgroup_id: int, slot: int) -> None: ...

    def set_prefixes(self, rows: list[PathPrefix]) -> None: ...

    def forget(self, cgroup_id: int) -> None: ...


class KernelInterest:
    """Classifies cgroups into plans and writes them to the kernel."""

    def __init__(self, maps: InterestMaps, visibility: Visibility, evaluators: Sequence[object]) -> None:
        self.maps = maps
        self.visibility = visibility
        self._interested = [e for e in evaluators if isinstance(e, Interested)]
        self._blind = len(self._interested) < len(evaluators)  # someone cannot say: send it all
        self._slots: dict[Plan, int] = {SEND_ALL: 0}
        self._of: dict[int, tuple[ContainerInfo | None, int]] = {}  # cgroup id -> (container, slot)
        self.classified = 0
        self.slots_full = 0  # plans that found no free slot (sent everything instead)
        self._prefixes: frozenset[str] = frozenset()
        maps.set_slot(0, SEND_ALL.row())
        maps.set_prefixes(prefix_rows(frozenset()))

    def needs(self, container: ContainerInfo | None) -> Needs:
        if self._blind:
            return EVERYTHING
        needs = NOTHING
        for evaluator in self._interested:
            needs |= evaluator.needs(container)
        return needs

    def plan_for(self, container: ContainerInfo | None) -> Plan:
        return plan(self.visibility.of_container(container), self.needs(container))

    def classify(self, cgroups: Iterable[tuple[int, ContainerInfo | None]]) -> None:
        """Point each newly seen cgroup at its plan's slot (None: a host cgroup)."""
        for cgroup_id, container in cgroups:
            wanted = self.plan_for(container)
            self._share_prefixes(self._prefixes | wanted.prefixes)  # before any cgroup relies on them
            self._point(cgroup_id, container, self._slot(wanted))
            self.classified += 1

    def refresh(self) -> None:
        """Re-plan every cgroup seen (visibility, policies, profiles or a pod changed);
        only the cgroups whose plan moved are rewritten, and unused slots are freed."""
        plans: dict[int, Plan] = {}
        for container, _ in list(self._of.values()):
            if id(container) not in plans:
                plans[id(container)] = self.plan_for(container)
        self._share_prefixes(self._prefixes.union(*(p.prefixes for p in plans.values())))
        for cgroup_id, (container, slot) in list(self._of.items()):
            wanted = self._slot(plans[id(container)])
            if wanted != slot:
                self._point(cgroup_id, container, wanted)
        used = {slot for _, slot in self._of.values()} | {0}
        self._slots = {p: s for p, s in self._slots.items() if s in used}
        self._share_prefixes(frozenset().union(*(p.prefixes for p in self._slots)))  # drop unused ones

    def _share_prefixes(self, prefixes: frozenset[str]) -> None:
        """The kernel's one prefix table: every plan's prefixes together."""
        if prefixes != self._prefixes:
            self.maps.set_prefixes(prefix_rows(prefixes))
            self._prefixes = prefixes

    def _point(self, cgroup_id: int, container: ContainerInfo | None, slot: int) -> None:
        if cgroup_id not in self._of and len(self._of) >= CGROUP_LIMIT:
            oldest = next(iter(self._of))  # as the kernel's LRU would: classified again if seen
            self.maps.forget(oldest)
            del self._of[oldest]
        self.maps.point(cgroup_id, slot)
        self._of[cgroup_id] = (container, slot)

    def _slot(self, wanted: Plan) -> int:
        slot = self._slots.get(wanted)
        if slot is not None:
            return slot
        free = set(range(1, INTEREST_SLOTS)) - set(self._slots.values())
        if not free:
            self.slots_full += 1
            return 0  # conservative: everything, as telemetry; user space still filters
        slot = min(free)
        self.maps.set_slot(slot, wanted.row())
        self._slots[wanted] = slot
        return slot

    def report(self) -> dict[str, int]:
        return {"cgroups": len(self._of), "slots": len(self._slots), "slots_full": self.slots_full}


def prefix_rows(prefixes: frozenset[str]) -> list[PathPrefix]:
    """The `interest_prefixes` rows for `prefixes`. A prefix past 64 bytes is cut (a shorter
    prefix sends more, never less); more prefixes than rows become `/` (every absolute path)."""
    cut = sorted({p.encode()[: PREFIX_WORDS * 8] for p in prefixes})
    if len(cut) > PREFIXES:
        cut = [b"/"]
    rows = [PathPrefix() for _ in range(PREFIXES)]
    for row, text in zip(rows, cut, strict=False):
        padded = text.ljust(PREFIX_WORDS * 8, b"\0")
        for w in range(PREFIX_WORDS):
            chunk = text[w * 8 : w * 8 + 8]
            if chunk:
                row.word[w] = int.from_bytes(padded[w * 8 : w * 8 + 8], "little")
                row.mask[w] = int.from_bytes(b"\xff" * len(chunk) + b"\0" * (8 - len(chunk)), "little")
    return rows


def _numbers(names: Iterable[str]) -> frozenset[int]:
    return frozenset(nr for name in names if (nr := SYSCALL_NUMBERS.get(name)) is not None)


def _words(numbers: Iterable[int]) -> list[int]:
    words = [0] * INTEREST_WORDS
    for nr in numbers:
        if nr < INTEREST_WORDS * 64:
            words[nr >> 6] |= 1 << (nr & 63)
    return words


def _mask(kinds: Iterable[int]) -> int:
    return sum(1 << kind for kind in set(kinds))


SEND_ALL = plan(frozenset(Operation), NOTHING)  # slot 0: cgroups not classified yet
