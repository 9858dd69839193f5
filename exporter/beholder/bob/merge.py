"""Merge profiles from several runs into the superset Bill of Behaviour.

Containers are matched by name; when every run recorded a single container (a
ContainerProfile, or an unnamed runc container keyed by its id) they are the same one;
everything is unioned, opens are re-generalised so the union collapses like a single
long recording would, and rulePolicies keep every exception any run carried.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from beholder.bob.generalize import DEFAULT_THRESHOLD, generalize
from beholder.bob.profile import ContainerBehaviour, ExecEntry, Neighbor, OpenEntry, Profile, RulePolicy


def merge(profiles: list[Profile], name: str = "", threshold: int = DEFAULT_THRESHOLD) -> Profile:
    """One profile of the first profile's kind holding the union of all of them."""
    if not profiles:
        raise ValueError("nothing to merge")
    first = profiles[0]
    by_name: dict[str, list[ContainerBehaviour]] = {}
    single = all(len(p.containers) == 1 for p in profiles)  # one container per run: the same one
    for profile in profiles:
        for c in profile.containers:
            by_name.setdefault("" if single else c.name, []).append(c)
    annotations = dict(first.annotations)
    for profile in profiles[1:]:
        for key, value in profile.annotations.items():
            annotations.setdefault(key, value)
    if any(p.completion != "complete" for p in profiles):  # one partial run: a partial merge
        annotations["kubescape.io/completion"] = "partial"
    return Profile(
        kind=first.kind,
        name=name or first.name,
        namespace=first.namespace,
        annotations=annotations,
        labels=dict(first.labels),
        match_labels=dict(first.match_labels),
        architectures=sorted({a for p in profiles for a in p.architectures}),
        containers=[merge_containers(parts, threshold) for parts in by_name.values()],
    )


def merge_containers(
    parts: list[ContainerBehaviour], threshold: int = DEFAULT_THRESHOLD
) -> ContainerBehaviour:
    first = parts[0]
    out = ContainerBehaviour(
        name=first.name,
        image_id=first.image_id,
        image_tag=first.image_tag,
        has_behaviour=any(c.has_behaviour for c in parts),
        has_network=any(c.has_network for c in parts),
    )
    execs: dict[ExecEntry, None] = {}
    opens: dict[str, set[str]] = {}
    endpoints: dict[str, dict] = {}
    for c in parts:
        execs.update(dict.fromkeys(c.execs))
        for o in c.opens:
            opens.setdefault(o.path, set()).update(o.flags)
        out.syscalls |= c.syscalls
        out.capabilities |= c.capabilities
        for e in c.endpoints:
            endpoints.setdefault(json.dumps(e, sort_keys=True, default=str), e)
        for rule_id, policy in c.rule_policies.items():
            out.rule_policies[rule_id] = out.rule_policies.get(rule_id, RulePolicy()).union(policy)
        out.call_stacks += [s for s in c.call_stacks if s not in out.call_stacks]
    out.execs = list(execs)
    patterns = generalize(opens, threshold)
    merged_opens: dict[str, set[str]] = {}
    for path, flags in opens.items():
        merged_opens.setdefault(patterns[path], set()).update(flags)
    out.opens = [OpenEntry(p, tuple(sorted(f))) for p, f in sorted(merged_opens.items())]
    out.endpoints = list(endpoints.values())
    out.ingress = _union_neighbors(c.ingress for c in parts)
    out.egress = _union_neighbors(c.egress for c in parts)
    return out


def _union_neighbors(groups: Iterable[list[Neighbor]]) -> list[Neighbor]:
    seen: dict[tuple, Neighbor] = {}
    for group in groups:
        for n in group:
            seen.setdefault((n.identifier, n.ip_addresses, n.dns_names, n.ports), n)
    return list(seen.values())
