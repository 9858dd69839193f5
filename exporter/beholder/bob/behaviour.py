"""One container's allowed behaviour, compiled for lookups on the hot path.

A binding may combine an ApplicationProfile (execs, opens, syscalls, capabilities) with
a NetworkNeighborhood (egress); a ContainerProfile supplies both. The answers mirror
Kubescape's `ap.*` / `nn.*` helpers: `was_executed`, `was_path_opened`,
`was_path_opened_with_suffix`, `was_syscall_used`, `is_domain_in_egress`, ...
"""

from __future__ import annotations

from dataclasses import dataclass, field

from beholder.bob.match import AddressSet, PatternIndex, dns_name, dns_pattern, match_args
from beholder.bob.profile import ContainerBehaviour, ExecEntry, Profile, RulePolicy, normalize_capability

MERGED_USR = ("/bin/", "/sbin/", "/lib/", "/lib64/", "/libx32/")


def merged_usr(path: str) -> str:
    """The /usr spelling of an exec path: on a merged-/usr image (Debian 12, Ubuntu, Fedora)
    /bin/sh and /usr/bin/sh are one file, reached by whichever name $PATH or a script's
    `#!` gave; a profile learned under one spelling must match the other. On an image
    without merged /usr they are two files of the same name in the system directories,
    which the profile is taken to allow alike."""
    return "/usr" + path if path.startswith(MERGED_USR) else path


@dataclass(slots=True)
class Behaviour:
    profile_name: str
    profile_kind: str
    status: str = "completed"
    completion: str = "complete"
    network_name: str = ""
    has_behaviour: bool = False
    has_network: bool = False
    execs: PatternIndex[ExecEntry] = field(default_factory=PatternIndex)
    opens: PatternIndex[bool] = field(default_factory=PatternIndex)
    open_paths: tuple[str, ...] = ()
    syscalls: frozenset[str] = frozenset()
    capabilities: frozenset[str] = frozenset()
    egress_dns: PatternIndex[bool] = field(default_factory=lambda: PatternIndex("."))
    egress_addresses: AddressSet = field(default_factory=AddressSet)
    rule_policies: dict[str, RulePolicy] = field(default_factory=dict)
    _suffix_cache: dict[str, bool] = field(default_factory=dict)

    def was_executed(self, path: str) -> bool:
        return self.execs.contains(path) or self.execs.contains(merged_usr(path))

    def was_executed_with_args(self, path: str, args: tuple[str, ...]) -> bool:
        entries = self.execs.lookup(path) or self.execs.lookup(merged_usr(path))
        return any(match_args(e.args, args, e.args_required) for e in entries)

    def was_path_opened(self, path: str) -> bool:
        return self.opens.contains(path)

    def was_path_opened_with_suffix(self, suffix: str) -> bool:
        hit = self._suffix_cache.get(suffix)
        if hit is None:
            hit = self._suffix_cache[suffix] = any(p.endswith(suffix) for p in self.open_paths)
        return hit

    def was_syscall_used(self, name: str) -> bool:
        return name in self.syscalls

    def was_capability_used(self, name: str) -> bool:
        return normalize_capability(name) in self.capabilities  # CAP_ or not, on both sides

    def is_domain_in_egress(self, name: str) -> bool:
        name = dns_name(name)
        if "" in name.split("."):  # `.example.com.` is no label of `*.example.com.`: literal only
            return name in self.egress_dns.literals()
        return self.egress_dns.contains(name)

    def was_address_in_egress(self, address: str) -> bool:
        return address in self.egress_addresses

    def policy_allows(self, rule_id: str, comm: str) -> bool:
        policy = self.rule_policies.get(rule_id)
        return policy is not None and policy.allows(comm)


def compile_behaviour(
    parts: list[tuple[Profile, ContainerBehaviour]],
) -> Behaviour:
    """Fold the bound profile containers (AP/CP first, NN after) into one lookup object."""
    main = next((p for p, c in parts if c.has_behaviour), parts[0][0])
    b = Behaviour(
        profile_name=main.name,
        profile_kind=main.kind,
        status=main.status,
        completion=main.completion,
    )
    syscalls: set[str] = set()
    caps: set[str] = set()
    open_paths: list[str] = []
    for profile, c in parts:
        if c.has_network and profile is not main:
            b.network_name = profile.name
        b.has_behaviour |= c.has_behaviour
        b.has_network |= c.has_network
        for e in c.execs:
            b.execs.add(e.path, e)  # as the vendor wrote it, and in /usr form (merged_usr)
            if merged_usr(e.path) != e.path:
                b.execs.add(merged_usr(e.path), e)
        for o in c.opens:
            b.opens.add(o.path, True)
            open_paths.append(o.path)
        syscalls |= c.syscalls
        caps |= c.capabilities
        for n in c.egress:
            for name in n.dns_names:
                b.egress_dns.add(dns_pattern(name), True)
            for ip in n.ip_addresses:
                b.egress_addresses.add(ip)
        for rule_id, policy in c.rule_policies.items():
            b.rule_policies[rule_id] = b.rule_policies.get(rule_id, RulePolicy()).union(policy)
    b.syscalls = frozenset(syscalls)
    b.capabilities = frozenset(caps)
    b.open_paths = tuple(open_paths)
    return b
