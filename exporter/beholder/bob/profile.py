"""Load Kubescape behaviour profiles (ApplicationProfile, ContainerProfile, NetworkNeighborhood).

The vendor's Bill of Behaviour is accepted unchanged, so this module reads the CRD shapes
as the storage API writes them: `null` where a list is empty, capabilities with or
without `CAP_`, ContainerProfile as a flattened single-container spec. Parsing is
defensive because profiles come from outside: a bad file yields one `ProfileError`
naming the file and field, and never stops the other files from loading.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from beholder.policy.yamlsafe import error_line

API_GROUP = "spdx.softwarecomposition.kubescape.io"
KINDS = ("ApplicationProfile", "ContainerProfile", "NetworkNeighborhood")
MAX_FILE_BYTES = 16 * 1024 * 1024
CONTAINER_LISTS = ("containers", "initContainers", "ephemeralContainers")

# The fields of the storage API's v1beta1 types this loader knows; anything else is a typo
# (`exces:`) that would otherwise silently empty a list and turn a profile into an alarm bell.
_TOP_FIELDS = frozenset({"apiVersion", "kind", "metadata", "spec", "status"})
_SELECTOR_FIELDS = frozenset({"matchLabels", "matchExpressions"})
_BEHAVIOUR_FIELDS = frozenset(
    {"capabilities", "execs", "opens", "syscalls", "seccompProfile", "endpoints", "imageID", "imageTag",
     "rulePolicies", "identifiedCallStacks"}
)  # fmt: skip
_NETWORK_FIELDS = frozenset({"ingress", "egress"})
_SPEC_FIELDS = {
    "ApplicationProfile": frozenset({"architectures", *CONTAINER_LISTS}),
    "NetworkNeighborhood": frozenset({"architectures", *CONTAINER_LISTS, *_SELECTOR_FIELDS}),
    "ContainerProfile": frozenset({"architectures", *_SELECTOR_FIELDS, *_BEHAVIOUR_FIELDS, *_NETWORK_FIELDS}),
}
_CONTAINER_FIELDS = {
    "ApplicationProfile": frozenset({"name", *_BEHAVIOUR_FIELDS}),
    "NetworkNeighborhood": frozenset({"name", *_NETWORK_FIELDS}),
}
_EXEC_FIELDS = frozenset({"path", "args", "argsRequired"})
_OPEN_FIELDS = frozenset({"path", "flags"})
_RULE_POLICY_FIELDS = frozenset({"containerAllowed", "processAllowed"})
_NEIGHBOR_FIELDS = frozenset(
    {"identifier", "type", "dns", "dnsNames", "ipAddress", "ipAddresses", "namespaceSelector", "podSelector",
     "ports"}
)  # fmt: skip
_PORT_FIELDS = frozenset({"name", "port", "protocol"})


class ProfileError(ValueError):
    """One line naming the file and the field that is wrong."""


@dataclass(frozen=True, slots=True)
class ExecEntry:
    path: str
    args: tuple[str, ...] = ()
    args_required: bool = False


@dataclass(frozen=True, slots=True)
class OpenEntry:
    path: str
    flags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PortSpec:
    port: int | None
    protocol: str


@dataclass(frozen=True, slots=True)
class Neighbor:
    """One NetworkNeighborhood ingress/egress peer."""

    identifier: str = ""
    kind: str = ""  # internal / external
    ip_addresses: tuple[str, ...] = ()
    dns_names: tuple[str, ...] = ()
    ports: tuple[PortSpec, ...] = ()
    raw: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True, slots=True)
class RulePolicy:
    """A `rulePolicies` exception (storage's RulePolicy): the rule is silenced for these
    process names, or for the whole container. Only rules marked `supportPolicy` read it."""

    container_allowed: bool = False
    process_allowed: frozenset[str] = frozenset()

    def allows(self, comm: str) -> bool:
        return self.container_allowed or comm in self.process_allowed

    def union(self, other: RulePolicy) -> RulePolicy:
        """Both exceptions at once (merged profiles, AP + CP bound together)."""
        return RulePolicy(
            self.container_allowed or other.container_allowed, self.process_allowed | other.process_allowed
        )


@dataclass(slots=True)
class ContainerBehaviour:
    """What one container of a profile may do; `name == ""` binds to any container."""

    name: str = ""
    image_id: str = ""
    image_tag: str = ""
    execs: list[ExecEntry] = field(default_factory=list)
    opens: list[OpenEntry] = field(default_factory=list)
    syscalls: set[str] = field(default_factory=set)
    capabilities: set[str] = field(default_factory=set)
    endpoints: list[dict[str, Any]] = field(default_factory=list)
    rule_policies: dict[str, RulePolicy] = field(default_factory=dict)
    ingress: list[Neighbor] = field(default_factory=list)
    egress: list[Neighbor] = field(default_factory=list)
    call_stacks: list[Any] = field(default_factory=list)
    has_behaviour: bool = False  # execs/opens/syscalls known (an AP/CP, not only an NN)
    has_network: bool = False  # ingress/egress known (an NN or CP)


@dataclass(slots=True)
class Profile:
    kind: str
    name: str
    namespace: str = ""
    source: str = ""
    annotations: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    match_labels: dict[str, str] = field(default_factory=dict)
    architectures: list[str] = field(default_factory=list)
    containers: list[ContainerBehaviour] = field(default_factory=list)

    @property
    def status(self) -> str:
        return self.annotations.get("kubescape.io/status", "completed")

    @property
    def completion(self) -> str:
        return self.annotations.get("kubescape.io/completion", "complete")


class _NoAliasLoader(yaml.SafeLoader):
    """Safe loader that refuses anchors/aliases: they are how YAML bombs multiply."""

    def compose_node(self, parent: Any, index: Any) -> Any:  # type: ignore[override]
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.YAMLError(f"aliases are not accepted (line {event.start_mark.line + 1})")
        return super().compose_node(parent, index)


def normalize_capability(name: str) -> str:
    """`CAP_NET_RAW` and `NET_RAW` are the same capability; events carry the short form."""
    name = name.strip().upper()
    return name[4:] if name.startswith("CAP_") else name


def load_file(path: Path) -> list[Profile]:
    """Every profile document in one YAML file; raises ProfileError naming file and field."""
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ProfileError(f"{path}: file is {size} bytes, limit {MAX_FILE_BYTES}")
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ProfileError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ProfileError(f"{path}: not UTF-8 text") from None
    return load_text(text, str(path))


def load_text(text: str, source: str = "<text>") -> list[Profile]:
    """Parse YAML text holding one or more profile documents."""
    try:
        documents = [d for d in yaml.load_all(text, Loader=_NoAliasLoader) if d is not None]
    except yaml.YAMLError as exc:
        raise ProfileError(error_line(source, exc)) from None
    except RecursionError:
        raise ProfileError(f"{source}: YAML nested too deeply") from None
    if not documents:
        raise ProfileError(f"{source}: no profile documents")
    profiles = []
    for index, doc in enumerate(documents):
        where = source if len(documents) == 1 else f"{source}[doc {index}]"
        if isinstance(doc, dict) and doc.get("kind") == "List":
            items = _as_list(doc.get("items"), where, "items")
            profiles += [parse_document(item, f"{where} items[{i}]") for i, item in enumerate(items)]
        else:
            profiles.append(parse_document(doc, where))
    return profiles


def parse_document(doc: Any, where: str) -> Profile:
    """One CRD object (already parsed from YAML or JSON) into a `Profile`."""
    if not isinstance(doc, dict):
        raise ProfileError(f"{where}: document is {type(doc).__name__}, expected a mapping")
    kind = doc.get("kind")
    if kind not in KINDS:
        raise ProfileError(f"{where}: kind: {kind!r} is not one of {', '.join(KINDS)}")
    _known_fields(doc, _TOP_FIELDS, where, "")
    api = doc.get("apiVersion")
    if not isinstance(api, str) or not api.startswith(API_GROUP + "/"):
        raise ProfileError(f"{where}: apiVersion: {api!r} is not {API_GROUP}/v1beta1")
    meta = _as_dict(doc.get("metadata"), where, "metadata")
    spec = _as_dict(doc.get("spec"), where, "spec")
    _known_fields(spec, _SPEC_FIELDS[kind], where, "spec")
    name = meta.get("name")
    if not isinstance(name, str) or not name:
        raise ProfileError(f"{where}: metadata.name: missing")
    profile = Profile(
        kind=kind,
        name=name,
        namespace=_as_str(meta.get("namespace"), where, "metadata.namespace"),
        source=where,
        annotations=_str_map(meta.get("annotations"), where, "metadata.annotations"),
        labels=_str_map(meta.get("labels"), where, "metadata.labels"),
        match_labels=_str_map(_selector_labels(spec.get("matchLabels")), where, "spec.matchLabels"),
        architectures=[str(a) for a in _as_list(spec.get("architectures"), where, "spec.architectures")],
    )
    if kind == "ContainerProfile":
        profile.containers.append(_container(spec, where, "spec", flattened=True, kind=kind))
        return profile
    for key in CONTAINER_LISTS:
        for i, raw in enumerate(_as_list(spec.get(key), where, f"spec.{key}")):
            field_path = f"spec.{key}[{i}]"
            profile.containers.append(
                _container(_as_dict(raw, where, field_path), where, field_path, kind=kind)
            )
    return profile


def _container(
    raw: dict[str, Any], where: str, at: str, *, flattened: bool = False, kind: str
) -> ContainerBehaviour:
    if not flattened:
        _known_fields(raw, _CONTAINER_FIELDS[kind], where, at)
    c = ContainerBehaviour(
        name="" if flattened else _as_str(raw.get("name"), where, f"{at}.name"),
        image_id=_as_str(raw.get("imageID"), where, f"{at}.imageID"),
        image_tag=_as_str(raw.get("imageTag"), where, f"{at}.imageTag"),
        has_behaviour=kind != "NetworkNeighborhood",
        has_network=kind != "ApplicationProfile",
    )
    for i, e in enumerate(_as_list(raw.get("execs"), where, f"{at}.execs")):
        e = _known_fields(_as_dict(e, where, f"{at}.execs[{i}]"), _EXEC_FIELDS, where, f"{at}.execs[{i}]")
        c.execs.append(
            ExecEntry(
                path=_as_str(e.get("path"), where, f"{at}.execs[{i}].path"),  # "" matches nothing
                args=tuple(_str_list(e.get("args"), where, f"{at}.execs[{i}].args")),
                args_required=bool(e.get("argsRequired", False)),
            )
        )
    for i, o in enumerate(_as_list(raw.get("opens"), where, f"{at}.opens")):
        o = _known_fields(_as_dict(o, where, f"{at}.opens[{i}]"), _OPEN_FIELDS, where, f"{at}.opens[{i}]")
        c.opens.append(
            OpenEntry(
                path=_as_str(o.get("path"), where, f"{at}.opens[{i}].path"),  # "" matches nothing
                flags=tuple(_str_list(o.get("flags"), where, f"{at}.opens[{i}].flags")),
            )
        )
    c.syscalls = set(_str_list(raw.get("syscalls"), where, f"{at}.syscalls"))
    c.capabilities = {
        normalize_capability(x) for x in _str_list(raw.get("capabilities"), where, f"{at}.capabilities")
    }
    c.endpoints = [
        _as_dict(x, where, f"{at}.endpoints[{i}]")
        for i, x in enumerate(_as_list(raw.get("endpoints"), where, f"{at}.endpoints"))
    ]
    c.call_stacks = _as_list(raw.get("identifiedCallStacks"), where, f"{at}.identifiedCallStacks")
    policies = _as_dict(raw.get("rulePolicies"), where, f"{at}.rulePolicies")
    for rule_id, policy in policies.items():
        p = _as_dict(policy, where, f"{at}.rulePolicies.{rule_id}")
        _known_fields(p, _RULE_POLICY_FIELDS, where, f"{at}.rulePolicies.{rule_id}")
        c.rule_policies[str(rule_id)] = RulePolicy(
            container_allowed=bool(p.get("containerAllowed", False)),
            process_allowed=frozenset(
                _str_list(p.get("processAllowed"), where, f"{at}.rulePolicies.{rule_id}.processAllowed")
            ),
        )
    c.ingress = _neighbors(raw.get("ingress"), where, f"{at}.ingress")
    c.egress = _neighbors(raw.get("egress"), where, f"{at}.egress")
    return c


def _neighbors(raw: Any, where: str, at: str) -> list[Neighbor]:
    out = []
    for i, n in enumerate(_as_list(raw, where, at)):
        n = _known_fields(_as_dict(n, where, f"{at}[{i}]"), _NEIGHBOR_FIELDS, where, f"{at}[{i}]")
        ips = _str_list(n.get("ipAddresses"), where, f"{at}[{i}].ipAddresses")
        single_ip = _as_str(n.get("ipAddress"), where, f"{at}[{i}].ipAddress")
        dns = _str_list(n.get("dnsNames"), where, f"{at}[{i}].dnsNames")
        single_dns = _as_str(n.get("dns"), where, f"{at}[{i}].dns")
        ports = []
        for j, p in enumerate(_as_list(n.get("ports"), where, f"{at}[{i}].ports")):
            p = _as_dict(p, where, f"{at}[{i}].ports[{j}]")
            _known_fields(p, _PORT_FIELDS, where, f"{at}[{i}].ports[{j}]")
            port = p.get("port")
            if port is not None and (not isinstance(port, int) or isinstance(port, bool)):
                raise ProfileError(f"{where}: {at}[{i}].ports[{j}].port: {port!r} is not an integer")
            ports.append(PortSpec(port, _as_str(p.get("protocol"), where, f"{at}[{i}].ports[{j}].protocol")))
        out.append(
            Neighbor(
                identifier=_as_str(n.get("identifier"), where, f"{at}[{i}].identifier"),
                kind=_as_str(n.get("type"), where, f"{at}[{i}].type"),
                ip_addresses=tuple(ips + ([single_ip] if single_ip else [])),
                dns_names=tuple(dns + ([single_dns] if single_dns else [])),
                ports=tuple(ports),
                raw=n,
            )
        )
    return out


def _selector_labels(raw: Any) -> Any:
    """`matchLabels` is either the labels map or a LabelSelector holding one."""
    if isinstance(raw, dict) and isinstance(raw.get("matchLabels"), dict):
        return raw["matchLabels"]
    return raw


def _known_fields(raw: dict[str, Any], known: frozenset[str], where: str, at: str) -> dict[str, Any]:
    """`raw` itself, once every key is a field of the CRD (else one line naming the first stray)."""
    unknown = sorted(str(k) for k in raw if k not in known)
    if unknown:
        prefix = f"{at}." if at else ""
        raise ProfileError(
            f"{where}: {prefix}{unknown[0]}: unknown field (expected one of {', '.join(sorted(known))})"
        )
    return raw


def _as_dict(value: Any, where: str, at: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ProfileError(f"{where}: {at}: expected a mapping, got {type(value).__name__}")
    return value


def _as_list(value: Any, where: str, at: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ProfileError(f"{where}: {at}: expected a list, got {type(value).__name__}")
    return value


def _as_str(value: Any, where: str, at: str) -> str:
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ProfileError(f"{where}: {at}: expected a string, got {type(value).__name__}")
    return str(value)


def _str_list(value: Any, where: str, at: str) -> list[str]:
    return [_as_str(x, where, f"{at}[{i}]") for i, x in enumerate(_as_list(value, where, at))]


def _str_map(value: Any, where: str, at: str) -> dict[str, str]:
    return {str(k): _as_str(v, where, f"{at}.{k}") for k, v in _as_dict(value, where, at).items()}


def unevaluated(profile: Profile) -> list[str]:
    """One line per part of a profile that loads but matches nothing: HTTP `endpoints` (no
    HTTP sensor reads requests) and `ingress` peers (no rule judges incoming connections,
    as in node-agent's catalogue). Said by `profile check`, `evaluate` and `run`, so an
    entry nobody enforces is never mistaken for one that is."""
    notes = []
    for c in profile.containers:
        where = f"{profile.source}: {profile.kind} {profile.name}" + (
            f" container {c.name}" if c.name else ""
        )
        if c.endpoints:
            notes.append(
                f"{where}: {len(c.endpoints)} endpoints (HTTP) load and match nothing: no HTTP sensor"
            )
        if c.ingress:
            notes.append(f"{where}: {len(c.ingress)} ingress entries load and match nothing: no ingress rule")
    return notes


def to_document(profile: Profile) -> dict[str, Any]:
    """A profile back as the CRD document Kubescape reads (inverse of `parse_document`)."""
    meta: dict[str, Any] = {"name": profile.name}
    if profile.namespace:
        meta["namespace"] = profile.namespace
    if profile.annotations:
        meta["annotations"] = dict(profile.annotations)
    if profile.labels:
        meta["labels"] = dict(profile.labels)
    spec: dict[str, Any] = {}
    if profile.architectures:
        spec["architectures"] = list(profile.architectures)
    if profile.kind == "ContainerProfile":
        spec.update(_container_document(profile.containers[0], profile.kind) if profile.containers else {})
        if profile.match_labels:
            spec["matchLabels"] = dict(profile.match_labels)
    else:
        if profile.kind == "NetworkNeighborhood" and profile.match_labels:
            spec["matchLabels"] = dict(profile.match_labels)
        spec["containers"] = [_container_document(c, profile.kind) for c in profile.containers]
    return {"apiVersion": f"{API_GROUP}/v1beta1", "kind": profile.kind, "metadata": meta, "spec": spec}


def _container_document(c: ContainerBehaviour, kind: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if c.name:
        out["name"] = c.name
    if kind != "NetworkNeighborhood":
        if c.image_id:
            out["imageID"] = c.image_id
        if c.image_tag:
            out["imageTag"] = c.image_tag
        out["capabilities"] = sorted(c.capabilities)
        out["execs"] = [_exec_document(e) for e in c.execs]
        out["opens"] = [{"path": o.path, "flags": list(o.flags)} for o in c.opens]
        out["syscalls"] = sorted(c.syscalls)
        out["endpoints"] = list(c.endpoints)
        out["rulePolicies"] = {rid: _policy_document(p) for rid, p in sorted(c.rule_policies.items())}
        if c.call_stacks:
            out["identifiedCallStacks"] = list(c.call_stacks)
    if kind != "ApplicationProfile":
        out["ingress"] = [_neighbor_document(n) for n in c.ingress]
        out["egress"] = [_neighbor_document(n) for n in c.egress]
    return out


def _exec_document(e: ExecEntry) -> dict[str, Any]:
    out: dict[str, Any] = {"path": e.path, "args": list(e.args)}
    if e.args_required:
        out["argsRequired"] = True
    return out


def _policy_document(p: RulePolicy) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if p.container_allowed:
        out["containerAllowed"] = True
    if p.process_allowed:
        out["processAllowed"] = sorted(p.process_allowed)
    return out


def _neighbor_document(n: Neighbor) -> dict[str, Any]:
    if n.raw:
        return dict(n.raw)
    out: dict[str, Any] = {"identifier": n.identifier, "type": n.kind}
    if n.ip_addresses:
        out["ipAddresses"] = list(n.ip_addresses)
    if n.dns_names:
        out["dnsNames"] = list(n.dns_names)
    out["ports"] = [
        {"name": f"{p.protocol}-{p.port}", "port": p.port, "protocol": p.protocol} for p in n.ports
    ]
    return out
