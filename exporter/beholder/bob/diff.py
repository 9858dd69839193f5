"""What one profile allows that another does not, per container and category."""

from __future__ import annotations

from dataclasses import dataclass

from beholder.bob.profile import ContainerBehaviour, Profile

CATEGORIES = ("execs", "opens", "syscalls", "capabilities", "egress")


@dataclass(frozen=True, slots=True)
class Change:
    container: str
    category: str
    added: tuple[str, ...]  # in the new profile only
    removed: tuple[str, ...]  # in the old profile only


def items(c: ContainerBehaviour, category: str) -> set[str]:
    """A category of one container as comparable strings."""
    if category == "execs":
        return {" ".join((e.path, *e.args)) if e.args else e.path for e in c.execs}
    if category == "opens":
        return {o.path for o in c.opens}
    if category == "syscalls":
        return set(c.syscalls)
    if category == "capabilities":
        return set(c.capabilities)
    return {x for n in c.egress for x in (*n.dns_names, *n.ip_addresses)}


def diff(old: Profile, new: Profile) -> list[Change]:
    """Changes from `old` to `new`; containers match by name, unnamed entries by position."""
    olds = {c.name: c for c in old.containers}
    news = {c.name: c for c in new.containers}
    if len(olds) == len(news) == 1:
        name = new.containers[0].name or old.containers[0].name
        olds, news = {name: old.containers[0]}, {name: new.containers[0]}
    empty = ContainerBehaviour()
    changes = []
    for name in sorted(olds.keys() | news.keys()):
        a, b = olds.get(name, empty), news.get(name, empty)
        for category in CATEGORIES:
            before, after = items(a, category), items(b, category)
            if before != after:
                changes.append(
                    Change(name, category, tuple(sorted(after - before)), tuple(sorted(before - after)))
                )
    return changes
