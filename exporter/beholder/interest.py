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

from beholder.events import ContainerInfo, Operation
from beholder.events.abi import INTEREST_SLOTS, INTEREST_WORDS, Interest, RecordKind
from beholder.events.decoding import SYSCALL_NUMBERS
from beholder.events.interfaces import Interested
from beholder.events.needs import EVERYTHING, NOTHING, Needs
from beholder.sensors.catalog import needs_of
from beholder.sources.visibility import Visibility, Visible

LIFECYCLE = Needs(
    syscalls=frozenset({"execve", "execveat", "chdir", "fchdir"}),
    kinds=frozenset({RecordKind.FORK, RecordKind.EXIT}),
)
ALL_CALLS = needs_of(Operation)


@dataclass(frozen=True, slots=True)
class Plan:
    """What the kernel sends for one class of cgroups: syscall numbers and record kinds."""

    telemetry: frozenset[int]
    evaluate: frozenset[int]
    writes: frozenset[int]  # of `evaluate`, opens sent only when they can write
    kinds_telemetry: frozenset[int]
    kinds_evaluate: frozenset[int]

    def row(self) -> Interest:
        """The kernel's `struct interest` for this plan."""
        row = Interest(active=1)
        for words, numbers in (
            (row.telemetry, self.telemetry),
            (row.evaluate, self.evaluate),
            (row.writes, self.writes),
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
    whole = (wanted.syscalls & traced) - shown.syscalls
    writes = (wanted.writes & traced) - wanted.syscalls - shown.syscalls
    return Plan(
        _numbers(shown.syscalls),
        _numbers(whole | writes),
        _numbers(writes),
        shown.kinds,
        wanted.kinds - shown.kinds,
    )


@runtime_checkable
class InterestMaps(Protocol):
    """The kernel side: the program's `interest` array and `cgroup_interest` map."""

    def set_slot(self, slot: int, row: Interest) -> None: ...

    def point(self, cgroup_id: int, slot: int) -> None: ...


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
        maps.set_slot(0, SEND_ALL.row())

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
            self._point(cgroup_id, container, self._slot(self.plan_for(container)))
            self.classified += 1

    def refresh(self) -> None:
        """Re-plan every cgroup seen (visibility, policies, profiles or a pod changed);
        only the cgroups whose plan moved are rewritten, and unused slots are freed."""
        plans: dict[int, Plan] = {}
        for cgroup_id, (container, slot) in list(self._of.items()):
            key = id(container)
            if key not in plans:
                plans[key] = self.plan_for(container)
            wanted = self._slot(plans[key])
            if wanted != slot:
                self._point(cgroup_id, container, wanted)
        used = {slot for _, slot in self._of.values()} | {0}
        self._slots = {p: s for p, s in self._slots.items() if s in used}

    def _point(self, cgroup_id: int, container: ContainerInfo | None, slot: int) -> None:
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
