"""The policy engine: KubeArmor's matching semantics over compiled rule sets.

Per event, in the order KubeArmor's feeder decides (feeder/policyMatcher.go):
- collect the rules whose source and resource match (indexed lookups, see `compile`);
- `readOnly`/`ownerOnly` narrow a rule: an Allow rule permits only reads / the owner, an
  Audit or Block rule fires only on what falls outside (writes / other users);
- the most specific applicable rule decides (`fromSource` beats no source, exact paths
  beat globs, globs beat directories, deeper beats shallower); at equal specificity Block
  beats Audit beats Allow; an Allow decision raises nothing;
- nothing matched, but the class (process+file, network, capabilities) has an Allow rule:
  the default posture (audit, or block; per namespace via `kubearmor-*-posture`
  annotations) raises a `DefaultPosture` alert;
- syscall rules always Audit.

Deliberate differences from the feeder, where its code contradicts its own enforcers: a
file pattern is matched against the file path only (not also the process path);
`fromSource` matches the parent only for exec events; Audit/Block with readOnly or
ownerOnly alert on what falls outside the limit in audit mode too; several Allow rules are
order-independent; network events other than socket() carry no protocol and are not judged.

The engine state is an immutable snapshot swapped in one assignment, so a reload never
leaves a moment without policies and a batch is evaluated against one consistent set.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from beholder.events import kinds
from beholder.events.facts import (
    AF_PACKET,
    INET_FAMILIES,
    IPPROTO_ICMP,
    IPPROTO_ICMPV6,
    IPPROTO_TCP,
    IPPROTO_UDP,
    Capability,
    Exec,
    FileAccess,
    Socket,
)
from beholder.events.interfaces import HostIdentity
from beholder.events.model import Action, Alert, ContainerInfo, Event, Operation
from beholder.events.needs import Needs
from beholder.policy.alerts import posture_alert, rule_alert
from beholder.policy.compile import POSTURE_CLASS, RuleSet, compile_rules, rule_needs
from beholder.policy.loader import FileResult, load_docs, load_file, policy_files
from beholder.policy.model import Policy, Rule
from beholder.policy.select import CONTAINER_NAME_KEY, applies_to_container, applies_to_node, node_labels

if TYPE_CHECKING:
    from beholder.policy.kernel_rules import KillSync

POSTURE_ANNOTATIONS = {
    "file": "kubearmor-file-posture",
    "network": "kubearmor-network-posture",
    "capabilities": "kubearmor-capabilities-posture",
}
POSTURES = ("audit", "block", "allow")
CLUSTER_ORIGIN = "kubernetes-api"  # origin of policies listed from the API server
_SELECTION_CACHE_LIMIT = 8192


@dataclass(frozen=True, slots=True)
class Posture:
    """What happens to events an allow-list does not cover, per class."""

    file: str = "audit"
    network: str = "audit"
    capabilities: str = "audit"

    def of(self, posture_class: str) -> str:
        return getattr(self, posture_class)

    def with_annotations(self, annotations: Mapping[str, str]) -> Posture:
        """Apply a namespace's `kubearmor-*-posture` annotations (unknown values ignored)."""
        changes = {
            cls: annotations[key].strip().lower()
            for cls, key in POSTURE_ANNOTATIONS.items()
            if annotations.get(key, "").strip().lower() in POSTURES
        }
        return replace(self, **changes)


class FileOwners:
    """Owner uid of a path as the event's process sees it, even once that process has exited.

    The process's own root (`/proc/<pid>/root`) first; a short-lived `cat` is usually gone by
    now, so then the root of any live process of the same container (its cgroup's
    cgroup.procs: they share the container's mount namespace), or the host's own root for a
    host event. None only when nothing of the container is left to look through.
    """

    MEMBERS_TRIED = 4

    def __init__(self, proc: Path = Path("/proc")) -> None:
        self.proc = proc

    def __call__(self, event: Event, path: str) -> int | None:
        for root in self._roots(event):
            try:
                return os.stat(f"{root}{path}").st_uid
            except OSError:
                continue
        return None

    def _roots(self, event: Event) -> Iterator[str]:
        yield f"{self.proc}/{event.host_pid}/root"
        container = event.container
        if container is None:
            yield ""
            return
        if not container.cgroup_dir:
            return
        try:
            with open(f"{container.cgroup_dir}/cgroup.procs") as fh:
                members = fh.read().split()
        except OSError:
            return
        for pid in members[: self.MEMBERS_TRIED]:
            yield f"{self.proc}/{pid}/root"


file_owner = FileOwners()


NET_RAW = "NET_RAW"
_TYPE_NAMES = {1: "stream", 2: "dgram", 3: "raw", 4: "rdm", 5: "seqpacket", 6: "dccp", 10: "packet"}
_INET_PROTOCOLS = {IPPROTO_ICMP: "icmp", IPPROTO_ICMPV6: "icmpv6", 132: "sctp"}


@lru_cache(maxsize=1024)
def socket_protocols(family: int, kind: int, protocol: int) -> frozenset[str]:
    """Protocol names a socket() answers to (KubeArmor's fetchProtocol, as a set).

    tcp, udp and icmp are inet/inet6 protocols (AppArmor's `network inet tcp`): an AF_UNIX
    stream socket is `stream`, never `tcp`. raw is a raw IP or packet socket (what needs
    CAP_NET_RAW: KubeArmor's net-raw scenarios expect arping's AF_PACKET socket), never a
    unix or netlink one. Only socket events name a type and a protocol; other network
    events are not subject to protocol rules (KubeArmor skips "unknown" protocols the same way).
    """
    base = _TYPE_NAMES.get(kind & 0xF)
    names = {base} if base else set()
    if family not in INET_FAMILIES:
        if family != AF_PACKET:
            names.discard("raw")
        return frozenset(names)
    if protocol == IPPROTO_TCP or (base == "stream" and protocol == 0):
        names.add("tcp")
    if protocol == IPPROTO_UDP or (base == "dgram" and protocol == 0):
        names.add("udp")
    if protocol in _INET_PROTOCOLS:
        names.add(_INET_PROTOCOLS[protocol])
    return frozenset(names)


def network_candidates(rules: RuleSet, protocols: frozenset[str]) -> list[Rule]:
    """The network rules a socket with these protocol names answers to, any source."""
    found: list[Rule] = []
    for name in (*protocols, "all"):
        found.extend(rules.network.get(name, ()))
    if "raw" in protocols:  # KubeArmor judges `capabilities: net_raw` on the raw socket
        found.extend(rules.capabilities.get(NET_RAW, ()))
    return found


def most_specific(rules: list[Rule]) -> Rule | None:
    """The rule that decides among applicable ones (the first of equal rank)."""
    best: Rule | None = None
    for rule in rules:
        if best is None or rule.rank > best.rank:
            best = rule
    return best


@dataclass(slots=True)
class _Snapshot:
    """Everything one batch needs; replaced whole on reload. Its policies never change,
    only its caches (container → selected rules, selection → compiled rules) fill up."""

    files: dict[str, list[Policy]]
    host_rules: RuleSet
    container_policies: tuple[Policy, ...]
    selections: dict[int, tuple[ContainerInfo, RuleSet]] = field(default_factory=dict)
    compiled: dict[tuple[int, ...], RuleSet] = field(default_factory=dict)

    def rules_for(self, container: ContainerInfo) -> RuleSet:
        """The compiled rules for a container; selection and compilation are cached."""
        hit = self.selections.get(id(container))
        if hit is not None and hit[0] is container:
            return hit[1]
        chosen = tuple(i for i, p in enumerate(self.container_policies) if applies_to_container(p, container))
        rules = self.compiled.get(chosen)
        if rules is None:
            rules = compile_rules(r for i in chosen for r in self.container_policies[i].rules)
            self.compiled[chosen] = rules
        if len(self.selections) >= _SELECTION_CACHE_LIMIT:
            self.selections.clear()
        self.selections[id(container)] = (container, rules)
        return rules


class PolicyEngine:
    """Evaluates KubeArmor policies on enriched batches (an `Evaluator`)."""

    def __init__(
        self,
        host: HostIdentity,
        default_posture: Posture | None = None,
        *,
        host_posture: Posture | None = None,
        lsm_enforcing: bool = False,
        extra_node_labels: Mapping[str, str] | None = None,
        owner_of: Callable[[Event, str], int | None] = file_owner,
    ) -> None:
        self.host = host
        self.default_posture = default_posture or Posture()
        self.host_posture = host_posture or Posture()  # KubeArmor's hostDefault*Posture
        self.lsm_enforcing = lsm_enforcing
        self.node_labels = node_labels(host, extra_node_labels)
        self.owner_of = owner_of
        self.skipped: list[str] = []
        self._namespace_postures: dict[str, Posture] = {}
        self.namespace_annotations: dict[str, dict[str, str]] = {}
        self._kill: KillSync | None = None
        self._state = self._snapshot({})

    @classmethod
    def load(
        cls,
        paths: list[Path],
        host: HostIdentity,
        default_posture: Posture | None = None,
        *,
        host_posture: Posture | None = None,
        lsm_enforcing: bool = False,
        extra_node_labels: Mapping[str, str] | None = None,
        owner_of: Callable[[Event, str], int | None] = file_owner,
    ) -> tuple[PolicyEngine, list[str]]:
        """Build an engine from policy files/directories; returns it and one line per error."""
        engine = cls(
            host,
            default_posture,
            host_posture=host_posture,
            lsm_enforcing=lsm_enforcing,
            extra_node_labels=extra_node_labels,
            owner_of=owner_of,
        )
        return engine, engine.reload(paths)

    @property
    def policies(self) -> list[Policy]:
        return [p for policies in self._state.files.values() for p in policies]

    def reload(self, paths: list[Path]) -> list[str]:
        """Re-read policy files and directories and swap in the result at once.

        A file that cannot be read or parsed keeps its previous policies; an invalid policy
        keeps its previous version; every valid policy replaces or adds; policies of files
        no longer present go. Policies from the API server are kept as they are.
        """
        files, errors = policy_files(paths)
        results = [load_file(path) for path in files]
        return errors + self._swap(results, keep=(CLUSTER_ORIGIN,))

    def apply_cluster_policies(self, objects: list[dict[str, Any]]) -> list[str]:
        """Replace the policies that came from the API server with `objects`.

        The Kubernetes watcher passes the full current list of KubeArmorPolicy,
        KubeArmorHostPolicy and KubeArmorClusterPolicy objects after each change; file
        policies are kept as they are.
        """
        files = tuple(origin for origin in self._state.files if origin != CLUSTER_ORIGIN)
        return self._swap([load_docs(objects, CLUSTER_ORIGIN)], keep=files)

    def _swap(self, results: list[FileResult], keep: tuple[str, ...]) -> list[str]:
        previous = self._state.files
        merged = {origin: previous[origin] for origin in keep if origin in previous}
        seen = {p.key: origin for origin, policies in merged.items() for p in policies}
        errors: list[str] = []
        self.skipped = []
        for result in results:
            errors.extend(result.errors)
            self.skipped.extend(result.skipped)
            unique = []
            for policy in self._kept(result, previous.get(result.path, [])):
                if policy.key in seen:
                    errors.append(
                        f"{result.path}: {policy.kind} {policy.name!r}: already defined in {seen[policy.key]}"
                    )
                    continue
                seen[policy.key] = result.path
                unique.append(policy)
            merged[result.path] = unique
        self._state = self._snapshot(merged)
        return errors

    def enforcement_status(self, kill: bool = False) -> str:
        """One line for the agent to print at start: what a Block rule will really do."""
        if self.lsm_enforcing:
            return "policy: BPF-LSM enforcing: Block rules deny in the kernel (Enforcer BPFLSM)"
        if kill:
            return (
                "policy: kill mode: Block rules the kernel can judge SIGKILL the caller (Enforcer "
                "BPF-SIGKILL); the others are reported as 'Audit (Block)'"
            )
        return (
            "policy: no enforcement: Block rules are reported as 'Audit (Block)' "
            "with the call's real Result (normally Passed); nothing is blocked"
        )

    @staticmethod
    def _kept(result: FileResult, before: list[Policy]) -> list[Policy]:
        if not result.readable:
            return before
        old = [p for p in before if p.key in result.rejected]
        return result.policies + old

    def _snapshot(self, files: dict[str, list[Policy]]) -> _Snapshot:
        every = [p for policies in files.values() for p in policies]
        host_rules = compile_rules(r for p in every if applies_to_node(p, self.node_labels) for r in p.rules)
        return _Snapshot(files, host_rules, tuple(p for p in every if not p.is_host))

    def set_namespace_posture(self, namespace: str, annotations: Mapping[str, str]) -> None:
        """Record one namespace's posture annotations."""
        self.set_namespace_postures({**self.namespace_annotations, namespace: annotations})

    def set_namespace_postures(self, annotations: Mapping[str, Mapping[str, str]]) -> None:
        """Every namespace's posture annotations at once (the namespace watcher's snapshot);
        namespaces not named fall back to the default posture. One assignment: no mix."""
        self.namespace_annotations = {ns: dict(a) for ns, a in annotations.items()}
        self._namespace_postures = {
            ns: self.default_posture.with_annotations(a) for ns, a in annotations.items()
        }

    def posture_of(self, namespace: str) -> Posture:
        """The posture a container of `namespace` gets ("" is the host)."""
        if not namespace:
            return self.host_posture
        return self._namespace_postures.get(namespace, self.default_posture)

    def enforce_in_kernel(self, sync: KillSync) -> None:
        """Kill mode: keep the kernel's Block entries equal to the rules applied per scope."""
        self._kill = sync

    @property
    def generation(self) -> object:
        """Changes whenever the policies do (reload, cluster policies): rules to compute again."""
        return self._state

    def pod_rules(self, pod: ContainerInfo) -> RuleSet | None:
        """The rules every container of a pod gets (its pod-level record: namespace, labels),
        or None while some policy selects by container name: then containers of one pod may
        differ and only each container's own rules can be loaded."""
        state = self._state
        if any(
            k == CONTAINER_NAME_KEY and v != "*" for p in state.container_policies for k, v in p.match_labels
        ):
            return None
        return state.rules_for(pod)

    def needs(self, container: ContainerInfo | None) -> Needs:
        """What the policies selecting `container` (None: the host) judge (kernel interest)."""
        state = self._state
        return rule_needs(state.host_rules if container is None else state.rules_for(container))

    def evaluate(self, events: list[Event]) -> list[Alert]:
        state = self._state
        host_rules = state.host_rules
        kill = self._kill
        if kill is not None:
            kill.ensure(0, host_rules)
        alerts: list[Alert] = []
        for event in events:
            container = event.container
            rules = host_rules if container is None else state.rules_for(container)
            if kill is not None and container is not None:
                kill.ensure(event.cgroup_id, rules)
            if rules.size == 0:
                continue
            alert = self._evaluate_one(event, rules)
            if alert is not None:
                alerts.append(alert)
        return alerts

    def _evaluate_one(self, event: Event, rules: RuleSet) -> Alert | None:
        op = event.operation
        proc = event.process
        exe = proc.exe if proc is not None else ""
        found: list[Rule] = []
        if op is Operation.PROCESS:
            if event.kind != kinds.PROCESS_EXEC:  # fork and exit are not executions
                return None
            path = event.resource or exe
            rules.process.lookup(path, False, found)
            # exec: KubeArmor matches fromSource against the calling binary (the image that
            # called exec; the parent's when the caller was never seen) or the new image
            caller = event.facts.caller if isinstance(event.facts, Exec) else ""
            sources = ("", exe, caller or proc.parent_exe) if proc is not None else ("", caller)
            allow_list = rules.file_allow_list
        elif op is Operation.FILE:
            if rules.syscalls:  # unlink/unlinkat under matchSyscalls (rarely any rule)
                raised = self._syscall_alert(event, rules, exe)
                if raised is not None:
                    return raised
            path = event.resource.split(" ", 1)[0]
            rules.file.lookup(path, True, found)
            sources = ("", exe)
            allow_list = rules.file_allow_list
        elif op is Operation.NETWORK:
            sock = event.facts
            if not isinstance(sock, Socket):
                return None
            path = event.resource
            protocols = socket_protocols(sock.family, sock.type, sock.protocol)
            if not protocols:
                return None
            found = network_candidates(rules, protocols)
            sources = ("", exe)
            allow_list = rules.network_allow_list
        elif op is Operation.CAPABILITY:
            path = event.resource
            cap = event.facts
            name = cap.name if isinstance(cap, Capability) else path
            if name != NET_RAW:  # judged on the socket it allows (above), not on the check
                found.extend(rules.capabilities.get(name, ()))
            sources = ("", exe)
            allow_list = rules.capabilities_allow_list
        elif op is Operation.SYSCALL:
            return self._syscall_alert(event, rules, exe)
        else:
            return None
        if found:
            found = [rule for rule in found if rule.source in sources]
        if found or allow_list:
            return self._decide(event, found, path, allow_list)
        return None

    def _syscall_alert(self, event: Event, rules: RuleSet, exe: str) -> Alert | None:
        """A matchSyscalls/matchPaths rule for the event's syscall, as KubeArmor raises it.

        unlink and unlinkat are file events here; KubeArmor reports a syscall rule on them
        with `Operation: Syscall`, so the alert says so whatever sensor saw the call.
        """
        for rule in rules.syscalls.get(event.syscall, ()):
            if _syscall_source_ok(rule, exe) and _syscall_path_ok(rule, event.resource):
                alert = rule_alert(event, rule, self.lsm_enforcing)
                alert.extra["kubearmor.operation"] = Operation.SYSCALL.value
                return alert
        return None

    def _decide(self, event: Event, found: list[Rule], path: str, allow_list: bool) -> Alert | None:
        applicable = []
        for rule in found:
            flagged = rule.read_only or rule.owner_only
            permitted = self._permitted(event, rule, path) if flagged else True
            # Allow applies inside its limits, Audit/Block outside them (always when unflagged).
            if permitted if rule.action is Action.ALLOW else not (flagged and permitted):
                applicable.append(rule)
        best = most_specific(applicable)
        if best is not None:
            return None if best.action is Action.ALLOW else rule_alert(event, best, self.lsm_enforcing)
        if not allow_list:
            return None
        posture = self._posture_for(event).of(POSTURE_CLASS[event.operation])
        return None if posture == "allow" else posture_alert(event, posture, self.lsm_enforcing)

    def _permitted(self, event: Event, rule: Rule, path: str) -> bool:
        """Does the access stay inside the rule's readOnly/ownerOnly limits?"""
        if rule.read_only:
            access = event.facts
            if not (isinstance(access, FileAccess) and access.read_only):
                return False
        if rule.owner_only:
            owner = self.owner_of(event, path)
            return owner is None or owner == event.uid  # unknown owner: no claim either way
        return True

    def _posture_for(self, event: Event) -> Posture:
        container = event.container
        if container is None:
            return self.host_posture
        return self._namespace_postures.get(container.namespace, self.default_posture)


def _syscall_source_ok(rule: Rule, exe: str) -> bool:
    source = rule.source
    if not source:
        return True
    if source.endswith("/"):
        return exe.startswith(source) and (rule.source_recursive or "/" not in exe[len(source) :])
    return exe == source


def _syscall_path_ok(rule: Rule, resource: str) -> bool:
    path = rule.syscall_path
    if not path:
        return True
    if path.endswith("/"):
        if resource == path[:-1]:
            return True
        return resource.startswith(path) and (rule.recursive or "/" not in resource[len(path) :])
    return resource == path
