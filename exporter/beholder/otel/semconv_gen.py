"""Generate the semantic-convention docs and Python constants from `semconv/`.

The registry YAML is the single source: attribute names, types, the event catalogue and the
syscall → event-name table. This pure-Python generator stands in for OpenTelemetry Weaver
(not installable here). `generate()` returns every output in memory so a test and
`beholder semconv check` can tell when the committed files are stale.
"""

from __future__ import annotations

import keyword
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from beholder.events.model import Action
from beholder.otel.severity import (
    KUBESCAPE_SEVERITY_WORDS,
    LOSS_SEVERITY,
    SEVERITY_NAMES,
    TELEMETRY_SEVERITY,
    alert_severity,
)

PROJECT_ROOT = Path(__file__).resolve().parents[3]
MAX_YAML_BYTES = 1 << 20
MAX_YAML_ALIASES = 64
GENERATED_PY = Path("exporter/beholder/otel/semconv.py")
GENERATED_KINDS = Path("exporter/beholder/events/kinds.py")
DOCS = Path("semconv/docs")


class SemconvError(ValueError):
    """A registry problem, worded as `file: field: what is wrong`."""


OPEN_ENUM_MEMBER = "_OTHER"


@dataclass(slots=True)
class Attribute:
    id: str
    type: str  # string, int, boolean, string[], template[string], ...
    brief: str
    stability: str
    origin: str  # "opentelemetry" or "beholder"
    group: str
    examples: list[Any] = field(default_factory=list)
    members: tuple[str, ...] = ()  # enum values

    @property
    def is_template(self) -> bool:
        return self.type.startswith("template[")

    @property
    def is_open_enum(self) -> bool:
        """Upstream's `_OTHER` member marks an enum whose values are not a closed list."""
        return OPEN_ENUM_MEMBER in self.members

    @property
    def value_type(self) -> str:
        """The type of the value itself (a template's inner type)."""
        return self.type[len("template[") : -1] if self.is_template else self.type


@dataclass(slots=True)
class Ref:
    id: str
    requirement: str


@dataclass(slots=True)
class Group:
    id: str
    type: str
    brief: str
    source: str
    display_name: str = ""
    name: str = ""
    extends: str = ""
    refs: list[Ref] = field(default_factory=list)
    annotations: dict[str, Any] = field(default_factory=dict)
    metric_name: str = ""
    instrument: str = ""
    unit: str = ""


@dataclass(slots=True)
class Registry:
    attributes: dict[str, Attribute]
    groups: list[Group]
    mapping: list[dict[str, Any]]
    documents: dict[str, Any]  # file name -> parsed YAML, for schema validation

    def group(self, group_id: str) -> Group:
        found = next((g for g in self.groups if g.id == group_id), None)
        if found is None:
            raise SemconvError(f"registry: group {group_id} is missing")
        return found

    @property
    def events(self) -> list[Group]:
        return [g for g in self.groups if g.type == "event"]

    @property
    def metrics(self) -> list[Group]:
        return [g for g in self.groups if g.type == "metric"]


class _GuardedLoader(yaml.SafeLoader):
    """SafeLoader that refuses alias-heavy documents (billion-laughs style bombs)."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._aliases = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_YAML_ALIASES:
                raise yaml.YAMLError(
                    f"more than {MAX_YAML_ALIASES} YAML aliases (refusing a possible YAML bomb)"
                )
        return super().compose_node(parent, index)


def load_yaml(path: Path) -> Any:
    """Parse one registry file, turning every failure into a one-line SemconvError."""
    try:
        if path.stat().st_size > MAX_YAML_BYTES:
            raise SemconvError(f"{path}: file is larger than {MAX_YAML_BYTES} bytes")
        return yaml.load(path.read_text(encoding="utf-8"), Loader=_GuardedLoader)
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else "?"
        raise SemconvError(f"{path}: line {line}: {exc.problem or exc.context}") from None
    except RecursionError:
        raise SemconvError(f"{path}: nesting too deep") from None
    except (OSError, UnicodeDecodeError, ValueError, yaml.YAMLError) as exc:  # ValueError: bad dates
        raise SemconvError(
            f"{path}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
        ) from None


def _require(value: Any, kind: type, where: str) -> Any:
    if not isinstance(value, kind):
        raise SemconvError(f"{where}: expected {kind.__name__}, got {type(value).__name__}")
    return value


def _attribute(raw: dict, group: Group, origin: str, where: str) -> Attribute:
    attr_id = _require(raw.get("id"), str, f"{where}.id")
    raw_type = raw.get("type")
    members: tuple[str, ...] = ()
    if isinstance(raw_type, dict):
        entries = _require(raw_type.get("members"), list, f"{where}.type.members")
        members = tuple(str(_require(m, dict, f"{where}.type.members").get("value")) for m in entries)
        type_name = "string"
    else:
        type_name = _require(raw_type, str, f"{where}.type")
    examples = raw.get("examples", [])
    return Attribute(
        id=attr_id,
        type=type_name,
        brief=" ".join(str(raw.get("brief", "")).split()),
        stability=str(raw.get("stability", "")),
        origin=origin,
        group=group.id,
        examples=examples if isinstance(examples, list) else [examples],
        members=members,
    )


def _requirement(raw: Any) -> str:
    if isinstance(raw, dict) and raw:
        (level, why), *_ = raw.items()
        return f"{level}: {why}"
    return str(raw or "recommended")


def _load_groups(path: Path, doc: dict, attributes: dict[str, Attribute]) -> list[Group]:
    groups = []
    for i, raw in enumerate(_require(doc.get("groups"), list, f"{path.name}: groups")):
        where = f"{path.name}: groups[{i}]"
        raw = _require(raw, dict, where)
        annotations = _require(raw.get("annotations") or {}, dict, f"{where}.annotations")
        meta = _require(annotations.get("beholder") or {}, dict, f"{where}.annotations.beholder")
        group = Group(
            id=_require(raw.get("id"), str, f"{where}.id"),
            type=_require(raw.get("type"), str, f"{where}.type"),
            brief=" ".join(str(raw.get("brief", "")).split()),
            source=path.name,
            display_name=str(raw.get("display_name", "")),
            name=str(raw.get("name", "")),
            extends=str(raw.get("extends", "")),
            annotations=annotations,
            metric_name=str(raw.get("metric_name", "")),
            instrument=str(raw.get("instrument", "")),
            unit=str(raw.get("unit", "")),
        )
        origin = str(meta.get("origin", "beholder"))
        for j, attr in enumerate(_require(raw.get("attributes") or [], list, f"{where}.attributes")):
            at = f"{where}.attributes[{j}]"
            attr = _require(attr, dict, at)
            if "ref" in attr:
                group.refs.append(Ref(str(attr["ref"]), _requirement(attr.get("requirement_level"))))
                continue
            parsed = _attribute(attr, group, origin, at)
            if parsed.id in attributes:
                raise SemconvError(f"{at}.id: {parsed.id} is declared twice")
            attributes[parsed.id] = parsed
            group.refs.append(Ref(parsed.id, _requirement(attr.get("requirement_level"))))
        groups.append(group)
    return groups


def load_registry(root: Path = PROJECT_ROOT) -> Registry:
    """Read `semconv/registry/*.yaml` and `semconv/mappings/kubearmor.yaml`, checking references."""
    attributes: dict[str, Attribute] = {}
    groups: list[Group] = []
    documents: dict[str, Any] = {}
    files = sorted((root / "semconv" / "registry").glob("*.yaml"))
    if not files:
        raise SemconvError(f"{root / 'semconv' / 'registry'}: no registry files")
    for path in files:
        doc = _require(load_yaml(path), dict, str(path))
        documents[path.name] = doc
        try:
            groups += _load_groups(path, doc, attributes)
        except SemconvError:
            raise
        except (TypeError, AttributeError, KeyError, ValueError) as exc:  # shapes not checked one by one
            raise SemconvError(f"{path.name}: unexpected structure: {exc}") from None
    mapping_path = root / "semconv" / "mappings" / "kubearmor.yaml"
    mapping = _require(
        _require(load_yaml(mapping_path), dict, str(mapping_path)).get("fields"), list, "fields"
    )
    registry = Registry(attributes, groups, mapping, documents)
    try:
        _check_references(registry, mapping_path)
        event_table(registry)
    except SemconvError:
        raise
    except (TypeError, AttributeError, KeyError, ValueError) as exc:
        raise SemconvError(f"{mapping_path.name} or events: unexpected structure: {exc}") from None
    return registry


def _check_references(registry: Registry, mapping_path: Path) -> None:
    group_ids = {g.id for g in registry.groups}
    for group in registry.groups:
        for ref in group.refs:
            if ref.id not in registry.attributes:
                raise SemconvError(f"{group.source}: {group.id}: unknown attribute ref {ref.id}")
        if group.extends and group.extends not in group_ids:
            raise SemconvError(f"{group.source}: {group.id}.extends: unknown group {group.extends}")
    for i, entry in enumerate(registry.mapping):
        where = f"{mapping_path.name}: fields[{i}]"
        entry = _require(entry, dict, where)
        _require(entry.get("field"), str, f"{where}.field")
        if not (entry.get("attributes") or entry.get("record") or entry.get("not_exported")):
            raise SemconvError(f"{where}: {entry['field']} maps to nothing and gives no reason")
        for name in entry.get("attributes") or []:
            if attribute_for(registry.attributes, str(name).split(".<")[0]) is None:
                raise SemconvError(f"{where}.attributes: {name} is not in the registry")


def attribute_for(attributes: dict[str, Attribute], key: str) -> Attribute | None:
    """The declaration an emitted key falls under: exact id, or a template prefix."""
    found = attributes.get(key)
    if found is not None:
        return found
    head = key
    while "." in head:
        head = head.rsplit(".", 1)[0]
        found = attributes.get(head)
        if found is not None and found.is_template:
            return found
    return None


def event_table(registry: Registry) -> tuple[dict[str, dict[str, str]], str, dict[str, str]]:
    """(operation -> syscall -> event name, fallback event name, alert source -> event name)."""
    by_syscall: dict[str, dict[str, str]] = {}
    fallback = ""
    alerts: dict[str, str] = {}
    for event in registry.events:
        meta = event.annotations.get("beholder") or {}
        if "source" in meta:
            alerts[str(meta["source"])] = event.name
            continue
        if meta.get("agent"):
            continue  # the agent's own records (losses), not mapped from a syscall
        operation = str(meta.get("operation", ""))
        syscalls = meta.get("syscalls")
        if not operation or not isinstance(syscalls, list):
            raise SemconvError(
                f"{event.source}: {event.id}.annotations.beholder: needs operation and syscalls"
            )
        if not syscalls:
            if fallback:
                raise SemconvError(f"{event.source}: {event.id}: a second fallback event (empty syscalls)")
            fallback = event.name
        table = by_syscall.setdefault(operation, {})
        for name in map(str, syscalls):
            if name in table:
                raise SemconvError(
                    f"{event.source}: {event.id}: syscall {name} already maps to {table[name]}"
                )
            table[name] = event.name
    if not fallback:
        raise SemconvError("events.yaml: no fallback event (one event needs `syscalls: []`)")
    return by_syscall, fallback, alerts


# --- rendering ---------------------------------------------------------------------------


def _constant(name: str, prefix: str = "") -> str:
    ident = prefix + name.upper().replace(".", "_").replace("-", "_")
    return ident + "_" if keyword.iskeyword(ident) else ident


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _type_cell(attr: Attribute) -> str:
    return "enum: " + ", ".join(f"`{m}`" for m in attr.members) if attr.members else f"`{attr.type}`"


def _examples(attr: Attribute) -> str:
    return ", ".join(f"`{e!r}`" if not isinstance(e, str) else f"`{e}`" for e in attr.examples[:3])


def _md_header(title: str, source: str, *intro: str) -> list[str]:
    note = f"<!-- generated by `beholder semconv generate` from {source}; do not edit -->"
    return [f"# {title}", "", note, "", *intro, ""]


def render_attributes_md(registry: Registry) -> str:
    lines = _md_header(
        "Beholder attributes",
        "semconv/registry",
        "OpenTelemetry keys are reused wherever one exists; only what OpenTelemetry lacks is under",
        "`beholder.*`. Template attributes (`template[...]`) are emitted as `<id>.<key>`.",
    )
    for group in registry.groups:
        if group.type != "attribute_group" or not group.id.startswith("registry."):
            continue
        lines += [f"## {group.display_name or group.id}", "", group.brief, ""]
        lines += [
            "| Attribute | Type | Origin | Stability | Description | Examples |",
            "|---|---|---|---|---|---|",
        ]
        for ref in group.refs:
            a = registry.attributes[ref.id]
            cells = (f"`{a.id}`", _type_cell(a), a.origin, a.stability, _cell(a.brief), _cell(_examples(a)))
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def _ref_table(registry: Registry, refs: list[Ref]) -> list[str]:
    lines = ["| Attribute | Type | Requirement | Description |", "|---|---|---|---|"]
    for ref in refs:
        a = registry.attributes[ref.id]
        lines.append(f"| `{a.id}` | {_type_cell(a)} | {_cell(ref.requirement)} | {_cell(a.brief)} |")
    return lines


def render_events_md(registry: Registry) -> str:
    _, fallback, _ = event_table(registry)
    lines = _md_header(
        "Beholder events",
        "semconv/registry",
        "Every record is an OpenTelemetry log record with `EventName` set to one of the names",
        "below, `time_unix_nano` in kernel nanoseconds, and a short human body. Names never",
        "carry a path, pid or rule id, so they stay low-cardinality.",
    )
    lines += [
        "## Severity",
        "",
        f"Telemetry events have severity number {TELEMETRY_SEVERITY} "
        f"({SEVERITY_NAMES[TELEMETRY_SEVERITY]}), `beholder.agent.loss` records {LOSS_SEVERITY} "
        f"({SEVERITY_NAMES[LOSS_SEVERITY]}). No record carries SeverityText (the kernel wrote",
        "none). An alert's range follows its action: a match that only audits is a warning, one",
        "a Block rule or an allow-list forbids is an error; the rule's 1–10 severity (KubeArmor",
        "policies and Kubescape rules share that scale) picks the step. Nothing is FATAL. The",
        "original value stays in `beholder.alert.severity`.",
        "",
        "| Rule severity | Kubescape word | Audit | Block or allow-list miss |",
        "|---|---|---|---|",
    ]
    words = {v: k.capitalize() for k, v in KUBESCAPE_SEVERITY_WORDS.items()}
    for level in range(1, 11):
        audit, forbidden = alert_severity(level, Action.AUDIT), alert_severity(level, Action.BLOCK)
        cells = f"{audit} ({SEVERITY_NAMES[audit]}) | {forbidden} ({SEVERITY_NAMES[forbidden]})"
        lines.append(f"| {level} | {words.get(level, '')} | {cells} |")
    lines += ["", "## Resource", ""]
    agent = registry.group("beholder.agent")
    lines += [agent.brief, "", *_ref_table(registry, agent.refs), ""]
    common = registry.group("beholder.common")
    lines += ["## Attributes on every event", "", common.brief, "", *_ref_table(registry, common.refs), ""]
    lines += ["## Telemetry events", ""]
    for event in registry.events:
        meta = event.annotations.get("beholder") or {}
        if "source" in meta or meta.get("agent"):
            continue
        syscalls = ", ".join(f"`{s}`" for s in meta["syscalls"])
        if event.name == fallback:
            syscalls = "any syscall or hook of any operation not listed for another event"
        lines += [
            f"### `{event.name}`",
            "",
            event.brief,
            "",
            f"Operation `{meta['operation']}`; from {syscalls}.",
            "",
        ]
        if event.refs:
            lines += [*_ref_table(registry, event.refs), ""]
    alert_common = registry.group("beholder.alert.common")
    lines += ["## Alert events", "", "An alert record carries every attribute of the judged event, plus:", ""]
    lines += [*_ref_table(registry, alert_common.refs), ""]
    for event in registry.events:
        meta = event.annotations.get("beholder") or {}
        if "source" in meta:
            lines += [f"### `{event.name}`", "", event.brief, "", f"Alert source `{meta['source']}`.", ""]
    lines += ["## Agent events", "", "Records about the agent itself, not about an observed process.", ""]
    for event in registry.events:
        if (event.annotations.get("beholder") or {}).get("agent"):
            lines += [f"### `{event.name}`", "", event.brief, "", *_ref_table(registry, event.refs), ""]
    return "\n".join(lines)


def render_mapping_md(registry: Registry) -> str:
    lines = _md_header(
        "KubeArmor fields in Beholder's OpenTelemetry records",
        "semconv/mappings/kubearmor.yaml",
        "Every field of KubeArmor's container/host telemetry and alert JSON, and where a Beholder",
        "log record carries it.",
    )
    lines += ["| KubeArmor field | OpenTelemetry | Note |", "|---|---|---|"]
    for entry in registry.mapping:
        targets = [f"`{a}`" for a in entry.get("attributes") or []]
        if entry.get("record"):
            targets.insert(0, f"{entry['record']}")
        target = ", ".join(targets) if targets else "not exported"
        note = entry.get("note") or entry.get("not_exported") or ""
        lines.append(f"| `{entry['field']}` | {_cell(target)} | {_cell(' '.join(str(note).split()))} |")
    lines.append("")
    return "\n".join(lines)


def render_metrics_md(registry: Registry) -> str:
    lines = _md_header(
        "Beholder metrics",
        "semconv/registry",
        "Exported over OTLP and, optionally, Prometheus `/metrics` (where the exporter adds",
        "`_total` and unit suffixes itself; the OTel names carry neither).",
    )
    for metric in registry.metrics:
        lines += [f"## `{metric.metric_name}`", "", metric.brief, ""]
        lines += [f"Instrument `{metric.instrument}`, unit `{metric.unit}`.", ""]
        if metric.refs:
            lines += [*_ref_table(registry, metric.refs), ""]
    return "\n".join(lines)


def _py_comment(text: str) -> list[str]:
    return ["# " + line for line in textwrap.wrap(text, 104)] if text else []


def _py_module(*doc: str) -> list[str]:
    """The opening of a generated module: its docstring and imports."""
    return [
        '"""' + doc[0],
        *doc[1:],
        '"""',
        "",
        "from __future__ import annotations",
        "",
        "from typing import Final",
        "",
    ]


def render_python(registry: Registry) -> str:
    _, _, alerts = event_table(registry)
    out = _py_module(
        "Semantic-convention names Beholder emits. Generated from semconv/registry; do not edit.",
        "",
        "Regenerate with `beholder semconv generate`; a test fails when this file is stale.",
    )
    out += [
        "# --- attributes (templates are prefixes: emit f'{NAME}.{key}') ---",
        "",
    ]
    for attr in sorted(registry.attributes.values(), key=lambda a: a.id):
        out += _py_comment(attr.brief)
        out.append(f'{_constant(attr.id)}: Final = "{attr.id}"')
    out += ["", "# --- events ---", ""]
    for event in registry.events:
        out.append(f'{_constant(event.name.removeprefix("beholder."), "EVENT_")}: Final = "{event.name}"')
    out += ["", "# --- metrics ---", ""]
    for metric in registry.metrics:
        constant = _constant(metric.metric_name.removeprefix("beholder."), "METRIC_")
        out.append(f'{constant}: Final = "{metric.metric_name}"')
    out += ["", "# Declared value type of every attribute (a template's type is its values' type).", ""]
    out.append("ATTRIBUTE_TYPES: Final[dict[str, str]] = {")
    out += [
        f'    "{a.id}": "{a.value_type}",' for a in sorted(registry.attributes.values(), key=lambda a: a.id)
    ]
    out += ["}", "TEMPLATE_PREFIXES: Final = frozenset("]
    out.append("    {")
    out += [
        f'        "{a.id}",'
        for a in sorted(registry.attributes.values(), key=lambda a: a.id)
        if a.is_template
    ]
    out += ["    }", ")", "ENUM_VALUES: Final[dict[str, frozenset[str]]] = {"]
    for a in sorted(registry.attributes.values(), key=lambda a: a.id):
        if a.members and not a.is_open_enum:
            out += [f'    "{a.id}": frozenset(', "        {"]
            out += [f'            "{m}",' for m in a.members]
            out += ["        }", "    ),"]
    out += ["}", "ALERT_EVENT_BY_SOURCE: Final[dict[str, str]] = {"]
    out += [f'    "{source}": "{name}",' for source, name in alerts.items()]
    out += ["}", "", "# Metric name -> (instrument, unit).", "METRICS: Final[dict[str, tuple[str, str]]] = {"]
    out += [f'    "{m.metric_name}": ("{m.instrument}", "{m.unit}"),' for m in registry.metrics]
    out += ["}", ""]
    return "\n".join(out)


def render_kinds(registry: Registry) -> str:
    """events/kinds.py: the event kinds the decoder sets, and which syscall yields which."""
    by_syscall, fallback, _ = event_table(registry)
    out = _py_module(
        "Event kinds (`Event.kind`): the event names of semconv/registry. Generated; do not edit.",
        "",
        "The decoder sets a kind on every event and consumers switch on it. Regenerate with",
        "`beholder semconv generate`; a test fails when this file is stale.",
    )
    for event in registry.events:
        meta = event.annotations.get("beholder") or {}
        if "syscalls" in meta:
            out.append(f'{_constant(event.name.removeprefix("beholder."))}: Final = "{event.name}"')
    out += ["", "# Operation -> syscall or hook -> kind; anything else is FALLBACK.", ""]
    out.append("KIND_BY_SYSCALL: Final[dict[str, dict[str, str]]] = {")
    for operation, table in by_syscall.items():
        out.append(f'    "{operation}": {{')
        out += [f'        "{syscall}": "{name}",' for syscall, name in table.items()]
        out.append("    },")
    out += [
        "}",
        f'FALLBACK: Final = "{fallback}"',
        "",
        "",
        "def kind_of(operation: str, syscall: str) -> str:",
    ]
    out += [
        '    """The kind of an event of this KubeArmor operation and syscall (readers of records)."""',
        "    return KIND_BY_SYSCALL.get(operation, {}).get(syscall, FALLBACK)",
        "",
    ]
    return "\n".join(out)


def generate(root: Path = PROJECT_ROOT) -> dict[Path, str]:
    """Every generated file (relative path -> content), rendered in memory."""
    registry = load_registry(root)
    return {
        DOCS / "attributes.md": render_attributes_md(registry),
        DOCS / "events.md": render_events_md(registry),
        DOCS / "kubearmor-mapping.md": render_mapping_md(registry),
        DOCS / "metrics.md": render_metrics_md(registry),
        GENERATED_PY: render_python(registry),
        GENERATED_KINDS: render_kinds(registry),
    }


def stale_files(root: Path = PROJECT_ROOT) -> list[Path]:
    """Generated files whose committed content differs from a fresh generation."""
    stale = []
    for rel, content in generate(root).items():
        path = root / rel
        if not path.is_file() or path.read_text(encoding="utf-8") != content:
            stale.append(rel)
    return stale


def write(root: Path = PROJECT_ROOT) -> list[Path]:
    """Regenerate and write every output; returns the files that changed."""
    changed = []
    for rel, content in generate(root).items():
        path = root / rel
        if path.is_file() and path.read_text(encoding="utf-8") == content:
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
        changed.append(rel)
    return changed


def schema_errors(registry: Registry, schema_path: Path) -> list[str]:
    """Violations of the Weaver registry JSON schema, one line each (`file: path: message`)."""
    import json

    import jsonschema

    schema = json.loads(schema_path.read_text(encoding="utf-8"))
    validator = jsonschema.Draft202012Validator(schema)
    errors = []
    for name, doc in registry.documents.items():
        for err in validator.iter_errors(doc):
            where = "/".join(str(p) for p in err.absolute_path) or "(root)"
            errors.append(f"{name}: {where}: {err.message[:200]}")
    return errors
