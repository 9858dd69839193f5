"""Profile engine: bind profiles to containers, run the rule catalogue over event batches.

Binding order for a container (first hit wins): an explicit mapping (container id,
container name, pod name or workload name → profile name); the pod label
`kubescape.io/user-defined-profile` (and `-network` for a NetworkNeighborhood); the
profile's workload labels or `matchLabels` within its namespace; the image digest. The
bound profile entries are compiled once (replicas share them) and cached by container
id; a container that binds nothing is retried when enrichment learns more about it.

Alerts pass node-agent's rule cooldown (`cooldown.py`): keyed by container, rule and the
rule's `uniqueId`, one alert per key an hour by default, off for security testing.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from beholder.bob.behaviour import Behaviour, compile_behaviour
from beholder.bob.cooldown import Cooldown, CooldownSettings
from beholder.bob.profile import ContainerBehaviour, Profile, ProfileError, load_file
from beholder.bob.rules import (
    R0003,
    Context,
    Facts,
    RuleSpec,
    default_enabled,
    facts_of,
    refusal,
    rule_needs,
    rules_by_kind,
)
from beholder.enrich.mounts import ContainerMounts
from beholder.events.kinds import kind_of
from beholder.events.model import Action, Alert, ContainerInfo, Event, Operation, ProcessInfo
from beholder.events.needs import NOTHING, Needs

PROFILE_LABEL = "kubescape.io/user-defined-profile"
NETWORK_LABEL = "kubescape.io/user-defined-network"
WORKLOAD_KIND = "kubescape.io/workload-kind"
WORKLOAD_NAME = "kubescape.io/workload-name"
CONTAINER_LIMIT = 16384  # compiled bindings kept; the oldest go first (containers come and go)

# a container's mounts, read through one of its processes (enrich.mounts.container_mounts)
MountProvider = Callable[[ContainerInfo, int], ContainerMounts]


class ProfileEngine:
    """An `Evaluator`: `evaluate(events) -> alerts` with source="profile"."""

    def __init__(
        self,
        profiles: list[Profile],
        bindings: Mapping[str, str] | None = None,
        enabled: Iterable[str] | None = None,
        api_servers: Iterable[str] | None = None,
        mounts: MountProvider | None = None,
        cooldown: CooldownSettings | None = None,
    ) -> None:
        self._install(profiles)
        self._incoming = self._installed = profiles
        self._bindings = dict(bindings or {})
        self._matched: set[str] = set()  # binding keys that named a container
        self.enabled = set(default_enabled() if enabled is None else enabled)
        self._rules = rules_by_kind(self.enabled)
        self._needs = (rule_needs(self.enabled, False), rule_needs(self.enabled, True))
        if api_servers is None:
            host = os.environ.get("KUBERNETES_SERVICE_HOST", "")
            api_servers = [host] if host else []
        self._api_servers = frozenset(api_servers)
        self._mounts = mounts
        self.cooldown = Cooldown(cooldown or CooldownSettings())
        self._judged: dict[str, set[str]] = {}  # container id -> syscall names R0003 has judged

    def _install(self, profiles: list[Profile]) -> None:
        """Make `profiles` the bound set; every container binds afresh against it."""
        self.profiles = profiles
        self._by_name: dict[str, list[Profile]] = {}
        for p in profiles:
            self._by_name.setdefault(p.name, []).append(p)
        self._bound: dict[str, Behaviour | None] = {}
        self._compiled: dict[tuple[tuple[int, int], ...], Behaviour] = {}
        self._contexts: dict[str, Context] = {}
        self._unbound: dict[str, tuple[object, ...]] = {}

    def replace_profiles(self, profiles: list[Profile]) -> None:
        """Swap in a new profile set (files reloaded, cluster changed), from any thread.

        Installed by the evaluating thread before its next batch, so a batch never sees a
        mix and no lock sits on the hot path.
        """
        self._incoming = profiles

    def _current(self) -> None:
        incoming = self._incoming
        if incoming is not self._installed:
            self._install(incoming)
            self._installed = incoming

    def bound_profiles(self) -> dict[str, str]:
        """Container id → bound profile name(s), for diagnostics (`beholder k8s`)."""
        contexts = dict(self._contexts)  # read from another thread: copy before walking
        return {cid: ctx.behaviour.profile_name for cid, ctx in contexts.items() if ctx.behaviour}

    @classmethod
    def load(
        cls, paths: Iterable[Path], bindings: Mapping[str, str] | None = None, **options: object
    ) -> tuple[ProfileEngine, list[str]]:
        """Load every profile file (directories: their *.yaml/*.yml/*.json); one error line
        per bad file, the good ones still load."""
        profiles: list[Profile] = []
        errors: list[str] = []
        for path in expand_paths(paths):
            try:
                profiles += load_file(path)
            except ProfileError as exc:
                errors.append(str(exc))
        return cls(profiles, bindings, **options), errors  # type: ignore[arg-type]

    # --- binding -----------------------------------------------------------------------
    def behaviour_for(self, container: ContainerInfo) -> Behaviour | None:
        key = container.container_id
        if key not in self._bound:
            parts = self._bind(container)
            # replicas of one workload bind the same profile entries: compile those once
            shared = tuple((id(p), id(c)) for p, c in parts)
            if shared and shared not in self._compiled:
                self._compiled[shared] = compile_behaviour(parts)
            self._bound[key] = self._compiled.get(shared)
        return self._bound[key]

    def _bind(self, c: ContainerInfo) -> list[tuple[Profile, ContainerBehaviour]]:
        key = next(
            (k for k in (c.container_id, c.name, c.pod_name, c.workload_name) if k in self._bindings), None
        )
        key = key or next((k for k in self._bindings if names_container(k, c)), None)
        explicit = self._bindings[key] if key is not None else None
        if key is not None:
            self._matched.add(key)
        candidates: list[Profile] = list(self._by_name.get(explicit, [])) if explicit else []
        for name in (c.labels.get(PROFILE_LABEL), c.labels.get(NETWORK_LABEL)):
            if name and not explicit:
                candidates += [p for p in self._by_name.get(name, []) if _same_namespace(p, c)]
        if not candidates:
            candidates = [p for p in self.profiles if _workload_match(p, c)]
        if not candidates:
            candidates = [p for p in self.profiles if any(_image_match(x, c) for x in p.containers)]
        parts = []
        for profile in candidates:
            entry = _pick_container(profile, c)
            if entry is not None:
                parts.append((profile, entry))
        parts.sort(key=lambda pc: not pc[1].has_behaviour)
        return parts

    def unmatched_bindings(self) -> list[str]:
        """One line per explicit binding that named no container seen so far (a typo, an id
        of another node's container): said when `run` ends and after `evaluate`."""
        return [
            f"--bind {key}={name}: matched no container (by id or id prefix, name, pod or workload)"
            for key, name in self._bindings.items()
            if key not in self._matched
        ]

    def binding_problems(self) -> list[str]:
        """One line per explicit binding that names no loaded profile (said at start)."""
        return [
            f"--bind {key}={name}: no profile named {name!r} is loaded"
            for key, name in self._bindings.items()
            if name not in self._by_name
        ]

    def _context(self, container: ContainerInfo) -> Context:
        cid = container.container_id
        ctx = self._contexts.get(cid)
        if ctx is not None and (ctx.behaviour is not None or self._unbound.get(cid) == _identity(container)):
            return ctx
        # new, or unbound so far and enrichment has since learned more (pod labels come late)
        self._bound.pop(cid, None)
        ctx = Context(self.behaviour_for(container), self._api_servers)
        self._contexts[cid] = ctx
        if ctx.behaviour is None:
            self._unbound[cid] = _identity(container)
        else:
            self._unbound.pop(cid, None)
        if len(self._contexts) > CONTAINER_LIMIT:
            self.forget(next(iter(self._contexts)))
        return ctx

    def forget(self, container_id: str) -> None:
        """Drop a gone container's compiled binding (the pipeline calls this on exit)."""
        self._contexts.pop(container_id, None)
        self._bound.pop(container_id, None)
        self._unbound.pop(container_id, None)
        self._judged.pop(container_id, None)

    def needs(self, container: ContainerInfo | None) -> Needs:
        """What the rules read from `container` (kernel interest). While any profile is
        loaded every container may bind one (pod labels arrive late): all enabled rules."""
        if container is None:
            return NOTHING  # host events are never judged against profiles
        return self._needs[bool(self._incoming)]

    # --- evaluation --------------------------------------------------------------------
    def evaluate(self, events: list[Event]) -> list[Alert]:
        self._current()
        alerts: list[Alert] = []
        rules = self._rules
        for event in events:
            container = event.container
            if container is None:
                continue
            facts = facts_of(event, rules)
            if facts is None:
                continue
            ctx = self._context(container)
            if facts.kind == "exec" and self._mounts is not None and not ctx.mounts:
                ctx.mounts = self._mounts(container, event.host_pid)  # retried until a process answers
            b = ctx.behaviour
            for rule in rules[facts.kind]:
                spec = rule.spec
                if b is None and spec.profile_dependency == 0:
                    continue
                if b is not None and spec.profile_dependency == 0 and not _has_data(spec, b):
                    continue
                if spec.support_policy and b is not None and b.policy_allows(spec.id, facts.comm):
                    continue  # as node-agent: rulePolicies exceptions only for supportPolicy rules
                message = rule.check(facts, ctx)
                if message is None:
                    continue
                unique = rule.unique(facts)
                if not self._may_alert(container, spec.id, unique):
                    continue
                alerts.append(make_alert(event, spec, message + refusal(event), b, facts, unique))
        return alerts

    def observe_syscalls(
        self,
        container: ContainerInfo,
        syscall_names: set[str],
        callers: Mapping[str, ProcessInfo] | None = None,
    ) -> list[Alert]:
        """R0003 over the kernel's per-cgroup syscall set, which only grows: each name is
        judged once per container, when first seen, and its alert carries that moment and
        the process that made the first call (`callers`, from the kernel), with its tree.
        As node-agent, a profile that recorded no syscalls expects none."""
        if R0003.id not in self.enabled:
            return []
        self._current()
        b = self.behaviour_for(container)
        if b is None:
            return []
        judged = self._judged.setdefault(container.container_id, set())
        fresh = syscall_names - judged
        judged |= fresh
        alerts = []
        now = time.time_ns()
        for name in sorted(fresh - b.syscalls):
            if not self._may_alert(container, R0003.id, name):
                continue
            proc = (callers or {}).get(name)
            event = Event(
                timestamp_ns=now, operation=Operation.SYSCALL, syscall=name, retval=0,
                host_pid=proc.pid if proc else 0, host_tid=proc.pid if proc else 0,
                uid=proc.uid if proc else 0, gid=proc.gid if proc else 0, comm=proc.comm if proc else "",
                cgroup_id=proc.cgroup_id if proc else 0, container=container,
                kind=kind_of(Operation.SYSCALL.value, name), process=proc,
            )  # fmt: skip
            alerts.append(make_alert(event, R0003, f"Unexpected system call detected: {name}", b, None, name))
        return alerts

    def _may_alert(self, container: ContainerInfo, rule_id: str, unique: str) -> bool:
        return self.cooldown.allow((container.container_id, rule_id, unique))


def names_container(key: str, c: ContainerInfo) -> bool:
    """A container named by KEY as `--bind` and `profile learn --container` take it: its name
    or a prefix of its id (at least 4 characters, so a short name is never read as an id)."""
    return key == c.name or (len(key) >= 4 and c.container_id.startswith(key))


def _identity(c: ContainerInfo) -> tuple[object, ...]:
    """What binding depends on, cheaply: a change means enrichment learned something."""
    return (c.name, c.pod_name, c.namespace, c.workload_name, c.image_id, c.image, len(c.labels))


def _has_data(spec: RuleSpec, b: Behaviour) -> bool:
    """A profile-required rule needs a profile that can answer it. As node-agent's merged
    ContainerProfile, an ApplicationProfile bound alone has an empty egress, so network
    rules (R0005, R0011) judge against it; a NetworkNeighborhood alone says nothing about
    execs, files or syscalls."""
    if "networkprofile" in spec.tags:
        return b.has_network or b.has_behaviour
    return b.has_behaviour


def make_alert(
    event: Event, spec: RuleSpec, message: str, b: Behaviour | None, facts: Facts | None, unique: str
) -> Alert:
    """The alert Kubescape would raise; `unique_id` is the md5 of its uniqueId expression."""
    extra = {
        "unique_id": hashlib.md5(f"{spec.id}:{unique}".encode(), usedforsecurity=False).hexdigest(),
        "mitre.tactic": spec.tactic,
        "mitre.technique": spec.technique,
        "event.kind": facts.kind if facts else "syscall",
    }
    if b is not None:
        extra.update(
            {
                "profile.name": b.profile_name,
                "profile.kind": b.profile_kind,
                "profile.status": b.status,
                "profile.completion": b.completion,
            }
        )
        if b.network_name:
            extra["profile.network_name"] = b.network_name
    if facts is not None and facts.kind == "exec":
        extra["exec_path"] = facts.exec_path
    return Alert(
        event=event,
        source="profile",
        rule_id=spec.id,
        rule_name=spec.name,
        action=Action.AUDIT,
        severity=spec.severity,
        message=message,
        tags=(*spec.tags, spec.tactic, spec.technique),
        enforcer="Beholder BoB",
        extra=extra,
    )


def expand_paths(paths: Iterable[Path]) -> list[Path]:
    out: list[Path] = []
    for path in paths:
        if path.is_dir():
            # hidden entries are a ConfigMap volume's `..data`/`..<timestamp>` copies
            out += sorted(
                p
                for p in path.iterdir()
                if not p.name.startswith(".") and p.suffix in (".yaml", ".yml", ".json")
            )
        else:
            out.append(path)
    return out


def _same_namespace(p: Profile, c: ContainerInfo) -> bool:
    return not p.namespace or not c.namespace or p.namespace == c.namespace


def _workload_match(p: Profile, c: ContainerInfo) -> bool:
    if not _same_namespace(p, c):
        return False
    kind, name = p.labels.get(WORKLOAD_KIND, ""), p.labels.get(WORKLOAD_NAME, "")
    if name and c.workload_name:
        return name == c.workload_name and (not kind or not c.workload_kind or kind == c.workload_kind)
    return bool(p.match_labels) and all(c.labels.get(k) == v for k, v in p.match_labels.items())


def _digest(image: str) -> str:
    return image.rsplit("@", 1)[-1] if "sha256:" in image else ""


def _image_match(entry: ContainerBehaviour, c: ContainerInfo) -> bool:
    digest = _digest(entry.image_id)
    return bool(digest) and digest in (_digest(c.image_id) or c.image_id, _digest(c.image))


def _pick_container(p: Profile, c: ContainerInfo) -> ContainerBehaviour | None:
    by_name = [x for x in p.containers if x.name and x.name == c.name]
    if by_name:
        return by_name[0]
    by_image = [x for x in p.containers if _image_match(x, c)]
    if by_image:
        return by_image[0]
    return p.containers[0] if len(p.containers) == 1 else None
