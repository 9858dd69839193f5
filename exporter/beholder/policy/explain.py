"""Plain-language description of what a policy will match, for `beholder policy check`."""

from __future__ import annotations

from beholder.events.model import Action, Operation
from beholder.policy.model import Match, Policy, Rule

_VERB = {
    Operation.PROCESS: "exec of",
    Operation.FILE: "access to",
    Operation.NETWORK: "sockets of protocol",
    Operation.CAPABILITY: "use of capability",
    Operation.SYSCALL: "syscall",
}
_WHAT = {
    Match.PATH: "{r}",
    Match.DIRECTORY: "files in {r}",
    Match.PATTERN: "paths matching {r}",
    Match.EXECNAME: "any binary named {r}",
    Match.PROTOCOL: "{r}",
    Match.CAPABILITY: "{r}",
    Match.SYSCALL: "{r}",
}


def scope(policy: Policy) -> str:
    """Which workloads or nodes the policy selects."""
    if policy.is_host:
        labels = ", ".join(f"{k}={v}" for k, v in policy.node_labels) or "any node"
        return f"host processes on nodes with {labels}"
    parts = []
    if policy.kind == "KubeArmorPolicy":
        parts.append(f"namespace {policy.namespace}" if policy.namespace else "any namespace")
    parts += [f"{k}={v}" for k, v in policy.match_labels]
    parts += [f"{e.key} {e.operator} [{', '.join(e.values)}]" for e in policy.expressions]
    return "containers with " + ", ".join(parts) if parts else "every container"


def rule_text(rule: Rule) -> str:
    what = _WHAT[rule.match].format(r=rule.resource)
    if rule.match is Match.DIRECTORY and rule.recursive:
        what += " and below"
    if rule.syscall_path:
        what += f" on {rule.syscall_path}" + (" and below" if rule.recursive else "")
    limits = [
        text
        for flag, text in (
            (rule.read_only, "read-only" if rule.action is Action.ALLOW else "unless read-only"),
            (rule.owner_only, "by the owner" if rule.action is Action.ALLOW else "unless by the owner"),
        )
        if flag
    ]
    source = f" from {rule.source}" + (" and below" if rule.source_recursive else "") if rule.source else ""
    limit = f" ({', '.join(limits)})" if limits else ""
    head = f"{rule.action.value}: {_VERB[rule.operation]} {what}{source}{limit}"
    return f"{head}, severity {rule.severity} [{rule.where}]"


def describe(policy: Policy) -> list[str]:
    """Header line plus one line per flattened rule."""
    allow = sorted({r.operation.value for r in policy.rules if r.action is Action.ALLOW})
    lines = [f"{policy.kind} {policy.name}: applies to {scope(policy)}"]
    if allow:
        lines.append(f"  allow-list for {', '.join(allow)}: anything else hits the default posture")
    lines += [f"  {rule_text(rule)}" for rule in policy.rules]
    return lines
