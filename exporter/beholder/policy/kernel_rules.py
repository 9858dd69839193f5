"""One scope's compiled rules as kill mode's kernel entries (bpf/enforce.c), and what cannot be.

The kernel may only kill where the policy engine would raise a Block alert for the same
call; where it cannot tell, it must not kill (the alert then stays `Audit (Block)`). So:
- exec and file paths go in an LPM trie per (class, source): an exact path as `path\\0`, a
  directory as `dir/`; every exact or directory rule gets an entry, the non-Block ones with
  kill=0, so the longest match the kernel finds is the rule the engine would pick. A rule
  with `fromSource` lives under its source (tried first in the kernel, as fromSource beats
  no source here). readOnly Block rules kill writes only; a non-recursive directory kills
  only its direct children.
- not expressed (never killed): `matchPatterns`, `execname`, `ownerOnly`, relative paths,
  paths of ENF_PATH bytes or more, the default posture, capability rules other than
  net_raw; and kills that a non-Block pattern or execname rule could override. File calls
  other than open/openat/openat2/creat (unlink, rename, chmod, …) are never killed.
- sockets: every (family class, type, protocol class) the kernel can see is judged here by
  the engine's own `network_candidates`/`most_specific`, once with no source and once per
  `fromSource` path; the Block verdicts are the entries.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable

from beholder.events.enforce_abi import (
    CLASS_EXEC,
    CLASS_FILE,
    DIR,
    ENF_PATH,
    READ_ONLY,
    RECURSIVE,
    SOCKET_CLASSES,
    SOCKET_TYPES,
    KernelRules,
    PathEntry,
    SocketEntry,
)
from beholder.events.model import Action, Operation
from beholder.policy.compile import PathIndex, RuleSet
from beholder.policy.evaluate import most_specific, network_candidates, socket_protocols
from beholder.policy.model import Match, Rule


def _why_not(rule: Rule) -> str:
    return f"{rule.policy} {rule.where}: {_reason(rule)}: stays 'Audit (Block)'"


def _reason(rule: Rule) -> str:
    if rule.operation is Operation.CAPABILITY:
        return "capability rules other than net_raw are not enforced at a syscall"
    if rule.owner_only:
        return "ownerOnly needs the file's owner, which syscall entry does not show"
    if rule.match.value in ("pattern", "execname"):
        return f"a {rule.match.value} is not matched in the kernel"
    return f"only absolute paths shorter than {ENF_PATH} bytes are matched in the kernel"


def _fits(rule: Rule) -> bool:
    """An exact path or a directory the kernel's key can hold."""
    return (
        rule.match in (Match.PATH, Match.DIRECTORY)
        and rule.resource.startswith("/")
        and len(rule.resource.encode()) + 1 <= ENF_PATH
    )


def _expressible(rule: Rule) -> bool:
    return _fits(rule) and not rule.owner_only


def _verdict(rules: Iterable[Rule]) -> tuple[bool, int]:
    """(kill, READ_ONLY flag) for the rules sharing one key: Block beats Audit and Allow at
    equal rank; readOnly when every Block rule here is readOnly (reads then fall through)."""
    blocks = [r for r in rules if r.action is Action.BLOCK and _expressible(r)]
    if not blocks:
        return False, 0
    return True, READ_ONLY if all(r.read_only for r in blocks) else 0


def _by_source(rules: Iterable[Rule]) -> dict[str, list[Rule]]:
    out: dict[str, list[Rule]] = {}
    for rule in rules:
        out.setdefault(rule.source, []).append(rule)
    return out


def _path_entries(index: PathIndex, klass: int, out: KernelRules) -> None:
    """Entries of one class's index; a directory is also its own path for files (KubeArmor
    matches a directory rule on opening the directory itself).

    A non-Block pattern or execname rule is not in the trie yet may be the rule the engine
    picks: it can beat a directory of its own source, and any rule without a source when it
    has one. Those kills are left out.
    """
    hidden = [r for r in [*_globs(index), *_names(index)] if r.action is not Action.BLOCK]
    shadowed = {r.source for r in hidden}
    if shadowed - {""}:
        shadowed.add("")
        no_source_exact_ok = False
    else:
        no_source_exact_ok = True
    for path, rules in index.exact.items():
        for source, group in _by_source(rules).items():
            if _fits(group[0]):
                kill, flags = _verdict(group)
                kill = kill and (source != "" or no_source_exact_ok)
                out.paths.append(PathEntry(klass, source, path + "\0", kill, flags))
    exact = {(p.source, p.key) for p in out.paths if p.klass == klass}
    for directory in sorted(set(index.dirs) | set(index.rdirs)):
        everything = [*index.dirs.get(directory, ()), *index.rdirs.get(directory, ())]
        for source, group in _by_source(everything).items():
            if not _fits(group[0]):
                continue
            kill, flags = _verdict(group)
            deeper_kill, _ = _verdict(r for r in group if r.recursive)
            recursive = RECURSIVE if deeper_kill == kill and any(r.recursive for r in group) else 0
            kill = kill and source not in shadowed
            out.paths.append(PathEntry(klass, source, directory, kill, flags | DIR | recursive))
            itself = directory.rstrip("/") + "\0"
            if klass == CLASS_FILE and directory != "/" and (source, itself) not in exact:
                out.paths.append(PathEntry(klass, source, itself, kill, flags))


def _names(index: PathIndex) -> list[Rule]:
    return [rule for rules in index.names.values() for rule in rules]


def _globs(index: PathIndex) -> list[Rule]:
    return [rule for _, rule in index.globs] + [rule for pats in index.globs_in.values() for _, rule in pats]


def _socket_entries(rules: RuleSet, out: KernelRules) -> None:
    """Every socket class judged by the engine, with no source and per `fromSource` path."""
    network = [r for group in rules.network.values() for r in group]
    network += rules.capabilities.get("NET_RAW", [])
    if not any(r.action is Action.BLOCK for r in network):
        return
    sources = {r.source for r in network if r.source}
    out.socket_sources |= sources
    for source in ("", *sorted(sources)):
        for family_class, family, protocols in SOCKET_CLASSES:
            for kind in SOCKET_TYPES:
                for protocol in protocols:
                    names = socket_protocols(family, kind, protocol)
                    if not names:
                        continue
                    candidates = [r for r in network_candidates(rules, names) if r.source in ("", source)]
                    best = most_specific(candidates)
                    if best is not None and best.action is Action.BLOCK:
                        out.sockets.append(SocketEntry(source, family_class, kind, protocol))


def kernel_rules(rules: RuleSet) -> KernelRules:
    """Kill mode's entries for one scope's compiled rules."""
    out = KernelRules()
    _path_entries(rules.process, CLASS_EXEC, out)
    _path_entries(rules.file, CLASS_FILE, out)
    _socket_entries(rules, out)
    every = [*_all(rules.process), *_all(rules.file)]
    every += [r for group in rules.capabilities.values() for r in group if r.resource != "NET_RAW"]
    unexpressed = {_why_not(r) for r in every if r.action is Action.BLOCK and not _expressible(r)}
    out.not_enforced = sorted(unexpressed)
    return out


def _all(index: PathIndex) -> list[Rule]:
    groups = [*index.exact.values(), *index.dirs.values(), *index.rdirs.values()]
    return [r for group in groups for r in group] + _names(index) + _globs(index)


class KillSync:
    """Keeps kill mode's kernel entries equal to the rules the engine applies, per scope.

    `ensure(scope, rules)` is called with the rule set the engine is about to use for a
    container's cgroup (or 0 and the host's rules); an identity check makes it free when
    nothing changed, so it can sit on the evaluation path. Each Block rule that cannot be
    enforced in the kernel is said once (`say`), with why. A new container's scope first
    removes the scopes whose cgroups are gone (`alive` says which live), so the entries of
    exited containers do not fill the kernel's maps until the agent restarts.
    """

    def __init__(
        self,
        load: Callable[[int, KernelRules], None],
        say: Callable[[str], None],
        alive: Callable[[int], bool] = lambda scope: True,
    ) -> None:
        self._load = load
        self._say = say
        self._alive = alive
        self._current: dict[int, RuleSet] = {}
        self._compiled: dict[int, tuple[RuleSet, KernelRules]] = {}
        self._said: set[str] = set()
        self._lock = threading.Lock()  # the evaluation thread and the pod scopes' thread

    def ensure(self, scope: int, rules: RuleSet) -> None:
        if self._current.get(scope) is rules:
            return
        with self._lock:
            self._ensure(scope, rules)

    def drop(self, scope: int) -> None:
        """Remove one scope's entries (a pod that is gone)."""
        with self._lock:
            if self._current.pop(scope, None) is not None:
                self._unload(scope)

    def _ensure(self, scope: int, rules: RuleSet) -> None:
        if self._current.get(scope) is rules:
            return
        if scope not in self._current:
            self.prune()
        hit = self._compiled.get(id(rules))
        if hit is None or hit[0] is not rules:
            hit = (rules, kernel_rules(rules))
            self._compiled[id(rules)] = hit
        entries = hit[1]
        self._current[scope] = rules
        try:
            self._load(scope, entries)
        except RuntimeError as exc:  # a full kernel map: that scope's kills are partial, said
            self._say(f"kill mode: scope {scope}: {exc}; its Block rules may stay 'Audit (Block)'")
        for line in entries.not_enforced:
            if line not in self._said:
                self._said.add(line)
                self._say(f"kill mode: {line}")

    def prune(self) -> list[int]:
        """Remove the entries of every container scope whose cgroup no longer exists."""
        gone = [scope for scope in self._current if scope and not self._alive(scope)]
        for scope in gone:
            del self._current[scope]
            self._unload(scope)
        return gone

    def _unload(self, scope: int) -> None:
        try:
            self._load(scope, KernelRules())
        except RuntimeError as exc:  # deleting does not fill a map; said, never raised
            self._say(f"kill mode: scope {scope}: {exc}")
