"""Typed KubeArmor policies, flattened into rules the way KubeArmor's feeder flattens them.

A policy's `matchPaths` entry with three `fromSource` paths becomes three rules; a protocol
or capability written as a comma list ("tcp,udp") becomes one rule per item; a syscall
rule becomes one rule per syscall. Severity, tags, message and action are resolved once
(rule, else section, else spec; missing action means Block, missing severity means 1), so
evaluation never walks the YAML again.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from beholder.events.model import Action, Operation

DEFAULT_SEVERITY = 1


class Match(enum.Enum):
    """How a rule's `resource` is compared with an event."""

    PATH = "path"
    DIRECTORY = "directory"
    PATTERN = "pattern"
    EXECNAME = "execname"
    PROTOCOL = "protocol"
    CAPABILITY = "capability"
    SYSCALL = "syscall"


# Exact names beat globs, globs beat directories (KubeArmor's "more specific wins").
SPECIFICITY = {
    Match.PATH: 3,
    Match.EXECNAME: 3,
    Match.PATTERN: 2,
    Match.DIRECTORY: 1,
    Match.PROTOCOL: 1,
    Match.CAPABILITY: 1,
    Match.SYSCALL: 1,
}


# At equal specificity Block beats Audit beats Allow.
ACTION_RANK = {Action.ALLOW: 0, Action.AUDIT: 1, Action.BLOCK: 2}


@dataclass(frozen=True, slots=True)
class Rule:
    """One matcher: a resource, an optional source, flags and what to do on a match."""

    policy: str
    operation: Operation
    match: Match
    resource: str
    action: Action
    severity: int
    tags: tuple[str, ...]
    message: str
    where: str  # the YAML field it came from, for explanations
    source: str = ""  # fromSource path; for syscall rules a directory ends with "/"
    recursive: bool = False
    source_recursive: bool = False
    owner_only: bool = False
    read_only: bool = False
    syscall_path: str = ""  # syscalls.matchPaths: the path (a directory ends with "/")
    rank: tuple[int, int, int, int] = field(init=False, compare=False)

    def __post_init__(self) -> None:
        # Computed once: the hot path compares ranks without enum hashing.
        rank = (
            1 if self.source else 0,
            SPECIFICITY[self.match],
            len(self.resource),
            ACTION_RANK[self.action],
        )
        object.__setattr__(self, "rank", rank)

    @property
    def specificity(self) -> tuple[int, int, int]:
        """fromSource beats no source, exact beats glob beats directory, longer beats shorter."""
        return self.rank[:3]


@dataclass(frozen=True, slots=True)
class Expression:
    """KubeArmor-style matchExpressions: key `label` (values `k=v`) or `namespace`."""

    key: str
    operator: str  # In / NotIn
    values: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Policy:
    """A validated KubeArmorPolicy, KubeArmorHostPolicy or KubeArmorClusterPolicy."""

    kind: str
    name: str
    namespace: str | None
    rules: tuple[Rule, ...]
    match_labels: tuple[tuple[str, str], ...] = ()
    expressions: tuple[Expression, ...] = ()
    node_labels: tuple[tuple[str, str], ...] = ()
    origin: str = ""  # file it was read from
    notes: tuple[str, ...] = field(default=())  # parts Beholder does not evaluate

    @property
    def is_host(self) -> bool:
        return self.kind == "KubeArmorHostPolicy"

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.kind, self.namespace or "", self.name)


_SECTIONS: tuple[tuple[str, Operation, tuple[tuple[str, Match, str], ...]], ...] = (
    (
        "process",
        Operation.PROCESS,
        (
            ("matchPaths", Match.PATH, "path"),
            ("matchDirectories", Match.DIRECTORY, "dir"),
            ("matchPatterns", Match.PATTERN, "pattern"),
        ),
    ),
    (
        "file",
        Operation.FILE,
        (
            ("matchPaths", Match.PATH, "path"),
            ("matchDirectories", Match.DIRECTORY, "dir"),
            ("matchPatterns", Match.PATTERN, "pattern"),
        ),
    ),
    ("network", Operation.NETWORK, (("matchProtocols", Match.PROTOCOL, "protocol"),)),
    ("capabilities", Operation.CAPABILITY, (("matchCapabilities", Match.CAPABILITY, "capability"),)),
)
_NOT_EVALUATED = (
    ("apparmor", "raw AppArmor rules"),
    ("presets", "presets"),
    ("device", "USB device rules"),
)


def _meta(rule: dict[str, Any], section: dict[str, Any], spec: dict[str, Any]) -> tuple[Any, ...]:
    """KubeArmor's precedence: the rule's own value, else its section's, else the spec's."""

    def pick(name: str) -> Any:
        for scope in (rule, section, spec):
            if scope.get(name):
                return scope[name]
        return None

    action = pick("action") or "Block"
    return (
        Action(action),
        pick("severity") or DEFAULT_SEVERITY,
        tuple(pick("tags") or ()),
        pick("message") or "",
    )


def _resource(match: Match, value: str) -> list[str]:
    """Protocols and capabilities may be comma lists; each item is its own rule."""
    if match is Match.PROTOCOL:
        return [p.strip().lower() for p in value.split(",") if p.strip()]
    if match is Match.CAPABILITY:
        return [c.strip().upper() for c in value.split(",") if c.strip()]
    return [value]


def _section_rules(name: str, spec: dict[str, Any]) -> list[Rule]:
    out: list[Rule] = []
    for section_name, operation, kinds in _SECTIONS:
        section = spec.get(section_name) or {}
        for list_name, match, key in kinds:
            for i, item in enumerate(section.get(list_name) or []):
                action, severity, tags, message = _meta(item, section, spec)
                kind = match
                value = item.get(key)
                if kind is Match.PATH and value is None:
                    kind, value = Match.EXECNAME, item["execname"]
                sources = [s["path"] for s in item.get("fromSource") or [] if s.get("path")] or [""]
                for resource in _resource(kind, value):
                    for source in sources:
                        out.append(
                            Rule(
                                policy=name,
                                operation=operation,
                                match=kind,
                                resource=resource,
                                action=action,
                                severity=severity,
                                tags=tags,
                                message=message,
                                where=f"spec.{section_name}.{list_name}[{i}]",
                                source=source,
                                recursive=bool(item.get("recursive")),
                                owner_only=bool(item.get("ownerOnly")),
                                read_only=bool(item.get("readOnly")),
                            )
                        )
    return out


def _syscall_rules(name: str, spec: dict[str, Any]) -> list[Rule]:
    """Syscall rules are always Audit, whatever the policy says (KubeArmor does the same)."""
    section = spec.get("syscalls") or {}
    out: list[Rule] = []
    for list_name in ("matchSyscalls", "matchPaths"):
        for i, item in enumerate(section.get(list_name) or []):
            _, severity, tags, message = _meta({}, section, spec)
            sources: list[tuple[str, bool]] = []
            for src in item.get("fromSource") or []:
                if src.get("path"):
                    sources.append((src["path"], False))
                elif src.get("dir"):
                    sources.append((src["dir"].rstrip("/") + "/", bool(src.get("recursive"))))
            for syscall in item.get("syscall") or []:
                for source, source_recursive in sources or [("", False)]:
                    out.append(
                        Rule(
                            policy=name,
                            operation=Operation.SYSCALL,
                            match=Match.SYSCALL,
                            resource=syscall,
                            action=Action.AUDIT,
                            severity=severity,
                            tags=tags,
                            message=message,
                            where=f"spec.syscalls.{list_name}[{i}]",
                            source=source,
                            source_recursive=source_recursive,
                            recursive=bool(item.get("recursive")),
                            syscall_path=item.get("path", ""),
                        )
                    )
    return out


def build_policy(doc: dict[str, Any], origin: str = "") -> Policy:
    """Turn a document that passed validation into a `Policy`."""
    meta = doc.get("metadata") or {}
    spec = doc.get("spec") or {}
    name = meta["name"]
    selector = spec.get("selector") or {}
    expressions = tuple(
        Expression(e["key"], e["operator"], tuple(e["values"]))
        for e in selector.get("matchExpressions") or []
    )
    notes = tuple(f"spec.{key}: {what} are not evaluated" for key, what in _NOT_EVALUATED if spec.get(key))
    if (spec.get("network") or {}).get("matchDNSQueries"):
        notes += ("spec.network.matchDNSQueries: DNS rules are not evaluated",)
    return Policy(
        kind=doc["kind"],
        name=name,
        namespace=meta.get("namespace"),
        rules=tuple(_section_rules(name, spec) + _syscall_rules(name, spec)),
        match_labels=tuple(sorted((selector.get("matchLabels") or {}).items())),
        expressions=expressions,
        node_labels=tuple(sorted(((spec.get("nodeSelector") or {}).get("matchLabels") or {}).items())),
        origin=origin,
        notes=notes,
    )
