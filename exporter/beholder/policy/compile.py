"""Compile rules into indexed matchers, so per-event cost does not grow with rule count.

Exact paths and exec names are hash lookups; directories are hash lookups on each ancestor
of the event's directory (a path has a handful of ancestors however many rules exist);
globs become one combined regular expression that rejects most paths in one C-level call
before the few candidate globs are tried (globs with wildcards only in the last component
are bucketed by their directory instead). Recursive directories are found by walking the
event path's ancestors top-down through a set of rule-directory prefixes, which stops at the
first component no rule lives under.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from beholder.events.abi import RecordKind
from beholder.events.model import Action, Operation
from beholder.events.needs import NOTHING, Needs
from beholder.policy.model import Match, Rule

# Which default posture an operation falls under (process and file share one).
POSTURE_CLASS = {
    Operation.PROCESS: "file",
    Operation.FILE: "file",
    Operation.NETWORK: "network",
    Operation.CAPABILITY: "capabilities",
}


def _class_body(body: str) -> str:
    """A `[...]` body in Go syntax (`\\` escapes, `a-z` ranges) as a Python class body."""
    out: list[str] = []
    i = 0
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body):
            i += 1
            out.append(re.escape(body[i]))
        else:
            out.append("-" if ch == "-" else re.escape(ch))
        i += 1
    return "".join(out)


def glob_to_regex(pattern: str) -> str:
    """Go's filepath.Match syntax (what KubeArmor matches patterns with) as a Python regex."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "*":
            out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        elif ch == "\\" and i + 1 < len(pattern):
            i += 1
            out.append(re.escape(pattern[i]))
        elif (
            ch == "["
            and (end := pattern.find("]", i + 2 if pattern[i + 1 : i + 2] in ("^", "]") else i + 1)) > 0
        ):
            body = pattern[i + 1 : end]
            negate = body.startswith("^")
            out.append("[" + ("^" if negate else "") + _class_body(body[1:] if negate else body) + "]")
            i = end
        else:
            out.append(re.escape(ch))
        i += 1
    return "".join(out)


@dataclass(slots=True)
class PathIndex:
    """Process or file rules, indexed by how they match a path.

    Rules of every `fromSource` share one index (a hit is then checked against the event's
    sources), so an event costs one lookup whatever the number of sources.
    """

    exact: dict[str, list[Rule]] = field(default_factory=dict)
    dirs: dict[str, list[Rule]] = field(default_factory=dict)
    rdirs: dict[str, list[Rule]] = field(default_factory=dict)
    rprefixes: frozenset[str] = frozenset()  # every ancestor of a recursive dir: a hash trie
    names: dict[str, list[Rule]] = field(default_factory=dict)
    globs_in: dict[str, list[tuple[re.Pattern[str], Rule]]] = field(default_factory=dict)
    globs: list[tuple[re.Pattern[str], Rule]] = field(default_factory=list)
    combined: re.Pattern[str] | None = None

    def add(self, rule: Rule) -> None:
        if rule.match is Match.PATH:
            self.exact.setdefault(rule.resource, []).append(rule)
        elif rule.match is Match.EXECNAME:
            self.names.setdefault(rule.resource, []).append(rule)
        elif rule.match is Match.DIRECTORY:
            (self.rdirs if rule.recursive else self.dirs).setdefault(rule.resource, []).append(rule)
        else:
            compiled = (re.compile(glob_to_regex(rule.resource)), rule)
            head = rule.resource.rpartition("/")[0]
            if head.startswith("/") and not any(c in head for c in "*?[\\"):
                self.globs_in.setdefault(head + "/", []).append(compiled)  # wildcards in the name only
            else:
                self.globs.append(compiled)

    def freeze(self) -> None:
        """Build the ancestor set for recursive dirs and the one combined glob expression."""
        prefixes = set()
        for directory in self.rdirs:
            end = 0
            while (end := directory.find("/", end) + 1) > 0:
                prefixes.add(directory[:end])
        self.rprefixes = frozenset(prefixes)
        if self.globs:
            self.combined = re.compile("|".join(f"(?:{rx.pattern})" for rx, _ in self.globs))

    def lookup(self, path: str, dir_itself: bool, out: list[Rule]) -> None:
        """Append every rule whose resource matches `path` (KubeArmor's matchResources)."""
        hit = self.exact.get(path)
        if hit:
            out.extend(hit)
        slash = path.rfind("/")
        if slash < 0 or not path.startswith("/"):
            return
        if self.names:
            hit = self.names.get(path[slash + 1 :])
            if hit:
                out.extend(hit)
        parent = path[: slash + 1]
        if self.dirs:
            hit = self.dirs.get(parent)
            if hit:
                out.extend(hit)
            if dir_itself:
                out.extend(self.dirs.get(path + "/", ()))
        if self.rprefixes:
            self._walk_recursive(path + "/" if dir_itself else parent, out)
        if self.globs_in:
            for rx, rule in self.globs_in.get(parent, ()):
                if rx.fullmatch(path):
                    out.append(rule)
        if self.combined is not None and self.combined.fullmatch(path):
            out.extend(rule for rx, rule in self.globs if rx.fullmatch(path))

    def _walk_recursive(self, directory: str, out: list[Rule]) -> None:
        """Top-down through `directory`'s ancestors while they lead to a recursive rule."""
        prefixes, rdirs = self.rprefixes, self.rdirs
        end = 0
        while (end := directory.find("/", end) + 1) > 0:
            prefix = directory[:end]
            if prefix not in prefixes:
                return
            hit = rdirs.get(prefix)
            if hit:
                out.extend(hit)


@dataclass(slots=True)
class RuleSet:
    """All rules that apply to one scope (the host, or one container), compiled."""

    process: PathIndex = field(default_factory=PathIndex)
    file: PathIndex = field(default_factory=PathIndex)
    network: dict[str, list[Rule]] = field(default_factory=dict)
    capabilities: dict[str, list[Rule]] = field(default_factory=dict)
    syscalls: dict[str, list[Rule]] = field(default_factory=dict)
    operations: frozenset[Operation] = frozenset()  # classes that have rules
    allow_lists: frozenset[str] = frozenset()  # posture classes switched to allow-list mode
    file_allow_list: bool = False  # the same, as flags the hot path reads without hashing
    network_allow_list: bool = False
    capabilities_allow_list: bool = False
    size: int = 0

    @property
    def empty(self) -> bool:
        return self.size == 0


def compile_rules(rules: Iterable[Rule]) -> RuleSet:
    """Index `rules` once; the result is read-only and safe to share between threads."""
    rs = RuleSet()
    allow: set[str] = set()
    operations: set[Operation] = set()
    for rule in rules:
        rs.size += 1
        op = rule.operation
        operations.add(op)
        if rule.action is Action.ALLOW and op in POSTURE_CLASS:
            allow.add(POSTURE_CLASS[op])
        if op is Operation.PROCESS:
            rs.process.add(rule)
        elif op is Operation.FILE:
            rs.file.add(rule)
        elif op is Operation.NETWORK:
            rs.network.setdefault(rule.resource, []).append(rule)
        elif op is Operation.CAPABILITY:
            rs.capabilities.setdefault(rule.resource, []).append(rule)
        else:
            rs.syscalls.setdefault(rule.resource, []).append(rule)
    rs.process.freeze()
    rs.file.freeze()
    rs.operations = frozenset(operations)
    rs.allow_lists = frozenset(allow)
    rs.file_allow_list = "file" in allow
    rs.network_allow_list = "network" in allow
    rs.capabilities_allow_list = "capabilities" in allow
    return rs


def rule_needs(rs: RuleSet) -> Needs:
    """The events these rules judge, for kernel interest: exec for process rules, every file
    call for file rules, socket() for network rules (the one network event judged, also
    for `net_raw`), capability checks, each matchSyscalls name; a class in allow-list mode
    needs all of its events (their DefaultPosture alerts)."""
    if rs.size == 0:
        return NOTHING
    ops, calls, kinds = set(), set(rs.syscalls), set()
    if Operation.PROCESS in rs.operations or rs.file_allow_list:
        calls |= {"execve", "execveat"}
    if Operation.FILE in rs.operations or rs.file_allow_list:
        ops.add(Operation.FILE)
    if Operation.NETWORK in rs.operations or rs.network_allow_list:
        calls.add("socket")
    if Operation.CAPABILITY in rs.operations or rs.capabilities_allow_list:
        calls.add("socket")
        kinds.add(RecordKind.CAP)
    return Needs(frozenset(ops), frozenset(calls), frozenset(kinds))
