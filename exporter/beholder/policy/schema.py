"""Validation of KubeArmor policy documents, in two layers.

`crd_errors` mirrors the openAPIV3Schema of KubeArmor's CRDs (types, enums, patterns,
bounds, required fields), with unknown fields refused as `kubectl apply` does under strict
field validation; a test checks it agrees with the real CRDs. `kubearmor_errors` adds the
rules KubeArmor itself applies when it turns a policy into matchers (selector forms, one of
path/execname, parsable globs). Both return one line per problem, naming the field.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field
from typing import Any

from beholder.events.decoding import CAPABILITIES
from beholder.events.syscall_table import X86_64_SYSCALLS

API_VERSION = "security.kubearmor.com/v1"
KINDS = ("KubeArmorPolicy", "KubeArmorHostPolicy", "KubeArmorClusterPolicy")
NOT_EVALUATED_KINDS = ("KubeArmorNetworkPolicy",)

# The CRDs list the x86_64 syscalls up to rseq (334) and the capabilities up to mac_admin.
_CRD_LAST_SYSCALL = 334
_CRD_CAPABILITIES = CAPABILITIES[: CAPABILITIES.index("MAC_ADMIN") + 1]
SYSCALL_NAMES = tuple(X86_64_SYSCALLS[nr] for nr in sorted(X86_64_SYSCALLS) if nr <= _CRD_LAST_SYSCALL)

_FILE_PATH = r"^\/+.*[^\/]$"
_DIR_PATH = r"^\/$|^\/.*\/$"
_ACTIONS = ("Allow", "Audit", "Block")
_PROTOCOLS = (
    "tcp",
    "udp",
    "raw",
    "icmp",
    "icmpv6",
    "sctp",
    "stream",
    "dgram",
    "rdm",
    "seqpacket",
    "dccp",
    "packet",
    "all",
)


@dataclass(frozen=True, slots=True)
class Str:
    """A string field; `says` is the CRD's `pattern` in words, for the error message."""

    pattern: str | None = None
    max_len: int | None = None
    enum: tuple[str, ...] | None = None
    says: str = ""


@dataclass(frozen=True, slots=True)
class Int:
    minimum: int | None = None
    maximum: int | None = None


@dataclass(frozen=True, slots=True)
class Bool:
    pass


@dataclass(frozen=True, slots=True)
class Seq:
    item: Node
    max_items: int | None = None


@dataclass(frozen=True, slots=True)
class Obj:
    fields: dict[str, Node] = field(default_factory=dict)
    required: tuple[str, ...] = ()
    values: Node | None = None  # a string map (matchLabels)
    free: bool = False  # any content (metadata, status)


Node = Str | Int | Bool | Seq | Obj

_SEVERITY = Int(1, 10)
_ACTION = Str(enum=_ACTIONS)
_TAGS = Seq(Str())
_META = {"severity": _SEVERITY, "tags": _TAGS, "message": Str(), "action": _ACTION}
_FILE = "an absolute file path (it starts with / and does not end with /)"
_DIR = "a directory (it starts and ends with /)"
_SOURCE = Seq(Obj({"path": Str(_FILE_PATH, 200, says=_FILE)}))


def _rule(required: str, extra: dict[str, Node]) -> Obj:
    return Obj({**extra, **_META}, required=(required,) if required else ())


def _section(rules: dict[str, Obj]) -> Obj:
    return Obj({name: Seq(rule) for name, rule in rules.items()} | _META)


def _spec_rules(host: bool) -> dict[str, Node]:
    """The rule sections shared by the three kinds (host policies differ in a few spots)."""
    pts = {} if host else {"pts": Bool()}
    source = {"fromSource": _SOURCE}
    flags = {"ownerOnly": Bool(), "readOnly": Bool()}
    syscall_source = Seq(Obj({"path": Str(_FILE_PATH, 200, says=_FILE), "dir": Str(), "recursive": Bool()}))
    syscall_list = Seq(Str(enum=SYSCALL_NAMES))
    cap_pattern = "(" + "|".join(c.lower() for c in _CRD_CAPABILITIES) + ")$"
    proto_pattern = "(" + "|".join(f"{p}|{p.upper()}" for p in _PROTOCOLS) + ")$"
    return {
        "process": _section(
            {
                "matchPaths": _rule(
                    "",
                    {
                        "path": Str(_FILE_PATH, 200, says=_FILE),
                        "execname": Str(r"^[^\/]+$", says="a program name without any /"),
                        "allowedArgs": Seq(Str(), max_items=20),
                        "ownerOnly": Bool(),
                        **source,
                        "pts": Bool(),
                    },
                ),
                "matchDirectories": _rule(
                    "dir",
                    {
                        "dir": Str(_DIR_PATH, says=_DIR),
                        "recursive": Bool(),
                        "ownerOnly": Bool(),
                        **source,
                        "pts": Bool(),
                    },
                ),
                "matchPatterns": _rule("pattern", {"pattern": Str(), "ownerOnly": Bool()}),
            }
        ),
        "file": _section(
            {
                "matchPaths": _rule(
                    "path", {"path": Str(_FILE_PATH, 200, says=_FILE), **flags, **source, "pts": Bool()}
                ),
                "matchDirectories": _rule(
                    "dir",
                    {"dir": Str(_DIR_PATH, says=_DIR), "recursive": Bool(), **flags, **source, "pts": Bool()},
                ),
                "matchPatterns": _rule("pattern", {"pattern": Str(), **flags}),
            }
        ),
        "network": _section(
            {
                "matchProtocols": _rule(
                    "protocol",
                    {
                        "protocol": Str(proto_pattern, says=f"a protocol ({', '.join(_PROTOCOLS)})"),
                        **source,
                        **pts,
                    }
                    | _host_source(host),
                ),
                "matchDNSQueries": _rule("domain", {"domain": Str(), **source}),
            }
        ),
        "capabilities": _section(
            {
                "matchCapabilities": _rule(
                    "capability",
                    {
                        "capability": Str(cap_pattern, says="a capability name in lower case (net_raw)"),
                        **source,
                    }
                    | _host_source(host),
                )
            }
        ),
        "syscalls": Obj(
            {
                "matchSyscalls": Seq(Obj({"syscall": syscall_list, "fromSource": syscall_source})),
                "matchPaths": Seq(
                    Obj(
                        {
                            "path": Str(r"(^\/+.*[^\/]$)|(^\/$|^\/.*\/$)", says="an absolute path"),
                            "recursive": Bool(),
                            "syscall": syscall_list,
                            "fromSource": syscall_source,
                        }
                    )
                ),
                "severity": _SEVERITY,
                "tags": _TAGS,
                "message": Str(),
            }
        ),
        "apparmor": Str(),
        **_META,
    }


def _host_source(host: bool) -> dict[str, Node]:
    """Host policies need `fromSource` on protocol and capability rules (a CRD quirk)."""
    return {"fromSource": _SOURCE} if host else {}


def _with_required(obj: Obj, name: str) -> Obj:
    return Obj(obj.fields, (*obj.required, name), obj.values, obj.free)


def _spec_for(kind: str) -> Obj:
    labels = Obj(values=Str())
    if kind == "KubeArmorHostPolicy":
        rules = _spec_rules(host=True)
        for section, rule in (("network", "matchProtocols"), ("capabilities", "matchCapabilities")):
            sec = rules[section]
            assert isinstance(sec, Obj)
            seq = sec.fields[rule]
            assert isinstance(seq, Seq) and isinstance(seq.item, Obj)
            sec.fields[rule] = Seq(_with_required(seq.item, "fromSource"))
        device = Obj(
            {
                "class": Str(),
                "subClass": Int(),
                "protocol": Int(),
                "level": Int(minimum=1),
            }
            | _META,
            required=("class",),
        )
        return Obj(
            {
                **rules,
                "nodeSelector": Obj({"matchLabels": labels}),
                "device": _section({"matchDevice": device}),
            },
            required=("nodeSelector",),
        )
    keys = ("label", "namespace") if kind == "KubeArmorClusterPolicy" else ("label",)
    expression = Obj({"key": Str(enum=keys), "operator": Str(enum=("In", "NotIn")), "values": Seq(Str())})
    selector = {"matchExpressions": Seq(expression)}
    if kind == "KubeArmorPolicy":
        selector["matchLabels"] = labels
    presets = Seq(Obj({"action": _ACTION, "name": Str()}))
    return Obj({**_spec_rules(host=False), "selector": Obj(selector), "presets": presets})


SCHEMAS: dict[str, Obj] = {
    kind: Obj(
        {
            "apiVersion": Str(),
            "kind": Str(),
            "metadata": Obj(free=True),
            "spec": _spec_for(kind),
            "status": Obj({"status": Str()}),
        }
    )
    for kind in KINDS
}


def _type_name(value: Any) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean", int: "integer"}.get(
        type(value), type(value).__name__
    )


def _check(node: Node, value: Any, where: str, out: list[str]) -> None:
    """Append one message per violation under `where` (a dotted field path)."""
    if isinstance(node, Str):
        if not isinstance(value, str):
            out.append(f"{where}: expected string, got {_type_name(value)}")
        elif node.enum is not None and value not in node.enum:
            shown = ", ".join(node.enum) if len(node.enum) <= 8 else "the CRD's list"
            out.append(f"{where}: {value!r} is not one of {shown}")
        elif node.max_len is not None and len(value) > node.max_len:
            out.append(f"{where}: longer than {node.max_len} characters")
        elif node.pattern is not None and not re.search(node.pattern, value):
            out.append(f"{where}: {value!r} is not {node.says}")
    elif isinstance(node, Int):
        if type(value) is not int:
            out.append(f"{where}: expected integer, got {_type_name(value)}")
        elif node.minimum is not None and value < node.minimum:
            out.append(f"{where}: {value} is less than {node.minimum}")
        elif node.maximum is not None and value > node.maximum:
            out.append(f"{where}: {value} is greater than {node.maximum}")
    elif isinstance(node, Bool):
        if not isinstance(value, bool):
            out.append(f"{where}: expected boolean, got {_type_name(value)}")
    elif isinstance(node, Seq):
        if not isinstance(value, list):
            out.append(f"{where}: expected array, got {_type_name(value)}")
            return
        if node.max_items is not None and len(value) > node.max_items:
            out.append(f"{where}: more than {node.max_items} items")
        for i, item in enumerate(value):
            _check(node.item, item, f"{where}[{i}]", out)
    else:
        _check_object(node, value, where, out)


def _check_object(node: Obj, value: Any, where: str, out: list[str]) -> None:
    if not isinstance(value, dict):
        out.append(f"{where}: expected object, got {_type_name(value)}")
        return
    if node.free:
        return
    prefix = f"{where}." if where else ""
    for key, item in value.items():
        if not isinstance(key, str):
            out.append(f"{prefix}{key!r}: field names must be strings")
        elif node.values is not None:
            _check(node.values, item, f"{prefix}{key}", out)
        elif key in node.fields:
            _check(node.fields[key], item, f"{prefix}{key}", out)
        else:
            out.append(f"{prefix}{key}: unknown field")
    out.extend(f"{prefix}{name}: required" for name in node.required if name not in value)


def crd_errors(doc: Any) -> list[str]:
    """What the CRD's openAPIV3Schema (under strict field validation) refuses in `doc`."""
    if not isinstance(doc, dict):
        return [f"document: expected a mapping, got {_type_name(doc)}"]
    kind = doc.get("kind")
    if not isinstance(kind, str) or kind not in SCHEMAS:
        return [f"kind: {kind!r} is not one of {', '.join(KINDS)}"]
    out: list[str] = []
    _check(SCHEMAS[kind], doc, "", out)
    return out


_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")


def kubearmor_errors(doc: dict[str, Any]) -> list[str]:
    """KubeArmor's own rules, checked on a document that already passed `crd_errors`."""
    out: list[str] = []
    if doc.get("apiVersion") != API_VERSION:
        out.append(f"apiVersion: {doc.get('apiVersion')!r} is not {API_VERSION}")
    meta = doc.get("metadata")
    name = meta.get("name") if isinstance(meta, dict) else None
    if not isinstance(name, str) or not _NAME.match(name):
        out.append("metadata.name: required, lowercase letters, digits, '-' and '.' (a DNS subdomain)")
    namespace = meta.get("namespace") if isinstance(meta, dict) else None
    if namespace is not None and not isinstance(namespace, str):
        out.append("metadata.namespace: expected string")
    spec = doc.get("spec")
    if not isinstance(spec, dict):
        return [*out, "spec: required"]
    for i, expr in enumerate((spec.get("selector") or {}).get("matchExpressions") or []):
        out.extend(_expression_errors(expr, f"spec.selector.matchExpressions[{i}]"))
    for i, rule in enumerate((spec.get("process") or {}).get("matchPaths") or []):
        if ("path" in rule) == ("execname" in rule):
            out.append(f"spec.process.matchPaths[{i}]: exactly one of path or execname is required")
    for section in ("process", "file"):
        for i, rule in enumerate((spec.get(section) or {}).get("matchPatterns") or []):
            if not _glob_ok(rule["pattern"]):
                out.append(
                    f"spec.{section}.matchPatterns[{i}].pattern: {rule['pattern']!r} is not a valid glob"
                )
    for section, rules in _rule_lists(spec.get("syscalls")):
        for i, rule in enumerate(rules):
            if not rule.get("syscall"):
                out.append(f"spec.syscalls.{section}[{i}].syscall: at least one syscall is required")
    for section in ("process", "file", "network", "capabilities"):
        for kind, rules in _rule_lists(spec.get(section)):
            for i, rule in enumerate(rules):
                for j, src in enumerate(rule.get("fromSource") or []):
                    if not src.get("path"):
                        out.append(f"spec.{section}.{kind}[{i}].fromSource[{j}].path: required")
    return out


def _rule_lists(section: dict[str, Any] | None) -> list[tuple[str, list[dict[str, Any]]]]:
    """The `match*` rule lists of a section (not its severity/tags/message/action)."""
    return [(k, v) for k, v in (section or {}).items() if k.startswith("match")]


def _expression_errors(expr: dict[str, Any], where: str) -> list[str]:
    out = [f"{where}.{name}: required" for name in ("key", "operator", "values") if not expr.get(name)]
    if expr.get("key") == "label":
        out.extend(
            f"{where}.values[{i}]: {v!r} is not in key=value form"
            for i, v in enumerate(expr.get("values") or [])
            if "=" not in v
        )
    return out


def _glob_ok(pattern: str) -> bool:
    """Go's filepath.Match rejects an unterminated character class or a trailing backslash."""
    depth = 0
    escaped = False
    for ch in pattern:
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == "[":
            depth += 1
        elif ch == "]" and depth:
            depth -= 1
    return depth == 0 and not escaped and bool(fnmatch.translate(pattern))
