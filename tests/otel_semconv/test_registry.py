"""The semconv registry: valid Weaver YAML, generated files fresh, KubeArmor fully mapped."""

from __future__ import annotations

import importlib
import pkgutil
import re
import shutil
from pathlib import Path

import opentelemetry.semconv._incubating.attributes as otel_incubating
import opentelemetry.semconv.attributes as otel_stable
import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from beholder.cli.semconv_cmd import command
from beholder.events.abi import RecordKind
from beholder.otel import semconv as sc
from beholder.otel.semconv_gen import (
    SemconvError,
    event_table,
    generate,
    load_registry,
    load_yaml,
    schema_errors,
)
from beholder.sensors.catalog import SENSORS
from conftest import REFERENCE, ROOT, SEEDS, require

SCHEMA = REFERENCE / "weaver" / "semconv.schema.json"
KUBEARMOR_SEEDS = ("000_6ec8f1a93d15e2aa.txt", "002_803932e2227546a1.txt", "004_f3183488164a15c8.txt")
JSON_KEY = re.compile(r'^\s*"(\w+)"\s*:\s*(\{.*\})?')
TABLE_FIELD = re.compile(r"^\|\s*(\w+)\s*\|")
INNER_KEY = re.compile(r'"(\w+)"\s*:')
LINE_NUMBER = re.compile(r"^\d+: ")


def kubearmor_fields() -> set[str]:
    """Every field name in the seeds' KubeArmor JSON examples and field tables.

    Nested objects on one line (`"EventData": {...}`, or a table's example cell) contribute
    `EventData.<key>` too.
    """
    fields: set[str] = set()
    for name in KUBEARMOR_SEEDS:
        in_json = False
        for numbered in (SEEDS / name).read_text(encoding="utf-8").splitlines():
            line = LINE_NUMBER.sub("", numbered)  # part of seed 002 carries `NN: ` line prefixes
            if line.startswith("```"):
                in_json = line.strip() == "```json"
                continue
            table = TABLE_FIELD.match(line)
            if table and not line.startswith("|--") and table.group(1) not in ("Log", "Alert"):
                fields.add(table.group(1))
                example = re.search(r"\{.*\}", line)  # an example cell holding a JSON object
                if example:
                    fields |= {f"{table.group(1)}.{k}" for k in INNER_KEY.findall(example.group(0))}
            match = JSON_KEY.match(line) if in_json or line.lstrip().startswith('"') else None
            if match:
                fields.add(match.group(1))
                if match.group(2):
                    fields |= {f"{match.group(1)}.{k}" for k in INNER_KEY.findall(match.group(2))}
    return fields


def otel_attribute_names() -> set[str]:
    names: set[str] = set()
    for package in (otel_stable, otel_incubating):
        for info in pkgutil.iter_modules(package.__path__):
            module = importlib.import_module(f"{package.__name__}.{info.name}")
            names |= {v for k, v in vars(module).items() if k.isupper() and isinstance(v, str)}
    return names


def test_registry_validates_against_the_weaver_schema():
    require(SCHEMA.is_file(), f"{SCHEMA} missing")
    assert schema_errors(load_registry(ROOT), SCHEMA) == []


def test_generated_files_match_a_fresh_generation():
    for rel, content in generate(ROOT).items():
        assert (ROOT / rel).read_text(encoding="utf-8") == content, (
            f"{rel} is stale: run `beholder semconv generate`"
        )


def test_every_kubearmor_field_in_the_seeds_is_mapped():
    require(SEEDS.is_dir(), f"{SEEDS} missing")
    fields = kubearmor_fields()
    assert {"HostPID", "ATags", "EventData.devClass", "TTY", "cluster_id", "UpdatedTime"} <= fields
    mapped = {entry["field"] for entry in load_registry(ROOT).mapping}
    assert sorted(fields - mapped) == []
    table = (ROOT / "semconv" / "docs" / "kubearmor-mapping.md").read_text(encoding="utf-8")
    assert all(f"| `{field}` |" in table for field in fields)


def test_borrowed_attributes_exist_in_the_opentelemetry_registry():
    registry = load_registry(ROOT)
    known = otel_attribute_names()
    borrowed = [a.id for a in registry.attributes.values() if a.origin == "opentelemetry"]
    assert len(borrowed) > 40
    assert sorted(set(borrowed) - known) == []


def test_own_attributes_live_under_beholder_and_do_not_shadow_opentelemetry():
    registry = load_registry(ROOT)
    known = otel_attribute_names()
    own = [a.id for a in registry.attributes.values() if a.origin != "opentelemetry"]
    assert all(name.startswith("beholder.") for name in own)
    assert sorted(set(own) & known) == []


def test_event_names_are_namespaced_and_low_cardinality():
    names = [e.name for e in load_registry(ROOT).events]
    assert all(re.fullmatch(r"beholder\.[a-z]+\.[a-z_]+", n) for n in names), names
    assert len(names) == len(set(names))


def test_every_traced_syscall_has_its_own_event_name():
    by_syscall, fallback, _ = event_table(load_registry(ROOT))
    for sensor in SENSORS:
        chdir = [name for name, role in sensor.enter_roles if role == RecordKind.CHDIR]
        for syscall in (*sensor.syscalls, *chdir):
            name = by_syscall[sensor.operation.value].get(syscall)
            assert name not in (None, fallback), f"{sensor.name}: {syscall} has no event"


def test_generated_constants_cover_the_registry():
    registry = load_registry(ROOT)
    assert set(sc.ATTRIBUTE_TYPES) == set(registry.attributes)
    assert {a.id for a in registry.attributes.values() if a.is_template} == sc.TEMPLATE_PREFIXES
    assert sc.ATTRIBUTE_TYPES["process.command_args"] == "string[]"
    assert sc.ENUM_VALUES["beholder.policy.action"] == {"allow", "audit", "block"}


def _broken_copy(tmp_path: Path, rel: str, old: str, new: str) -> Path:
    shutil.copytree(ROOT / "semconv", tmp_path / "semconv")
    path = tmp_path / "semconv" / rel
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return tmp_path


BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n"
    for i in range(20)
)


@pytest.mark.parametrize(
    ("rel", "old", "new", "message"),
    [
        ("registry/beholder.yaml", "groups:", "groups: [", "beholder.yaml: line"),
        (
            "registry/beholder.yaml",
            "      - id: beholder.resource\n",
            "      - id: beholder.operation\n",
            "declared twice",
        ),
        (
            "registry/events.yaml",
            "{ref: beholder.syscall.name,",
            "{ref: beholder.syscall.nope,",
            "unknown attribute ref",
        ),
        (
            "registry/events.yaml",
            "extends: beholder.common\n",
            "extends: beholder.nothing\n",
            "unknown group",
        ),
        ("registry/events.yaml", "syscalls: [socket]", "syscalls: [connect]", "already maps to"),
        ("registry/otel.yaml", "        type: int\n", "        type: [int]\n", "type: expected str"),
        (
            "mappings/kubearmor.yaml",
            "attributes: [process.pid]",
            "attributes: [process.nope]",
            "not in the registry",
        ),
        (
            "mappings/kubearmor.yaml",
            "  - field: TTY\n    not_exported:",
            "  - field: TTY\n    x:",
            "maps to nothing",
        ),
        ("registry/beholder.yaml", "groups:", BOMB + "groups:", "YAML aliases"),
    ],
    ids=[
        "malformed-yaml",
        "duplicate-attribute",
        "unknown-ref",
        "unknown-extends",
        "syscall-in-two-events",
        "non-string-type",
        "mapping-to-undeclared-attribute",
        "mapping-without-target-or-reason",
        "yaml-bomb",
    ],
)
def test_broken_registry_fails_with_one_line_naming_file_and_field(tmp_path, rel, old, new, message):
    root = _broken_copy(tmp_path, rel, old, new)
    with pytest.raises(SemconvError) as caught:
        generate(root)
    text = str(caught.value)
    assert message in text
    assert "\n" not in text
    assert Path(rel).name in text or "fields[" in text or "groups[" in text


def test_oversized_registry_file_is_refused(tmp_path):
    root = _broken_copy(tmp_path, "registry/beholder.yaml", "groups:", "# " + "x" * (1 << 20) + "\ngroups:")
    with pytest.raises(SemconvError, match="larger than"):
        load_registry(root)


def test_semconv_check_command_passes_on_the_repo_and_fails_on_a_stale_copy(tmp_path):
    runner = CliRunner()
    ok = runner.invoke(command, ["check", "--root", str(ROOT)])
    assert ok.exit_code == 0, ok.output
    root = _broken_copy(tmp_path, "registry/beholder.yaml", "Event class", "Kind of event")
    (tmp_path / "exporter" / "beholder" / "otel").mkdir(parents=True)
    stale = runner.invoke(command, ["check", "--root", str(root)])
    assert stale.exit_code == 1
    assert "stale: semconv/docs/attributes.md" in stale.output
    regenerated = runner.invoke(command, ["generate", "--root", str(root)])
    assert regenerated.exit_code == 0 and "wrote exporter/beholder/otel/semconv.py" in regenerated.output
    assert runner.invoke(command, ["check", "--root", str(root)]).exit_code == 0


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    raw=st.binary(max_size=400)
    | st.text(max_size=400).map(str.encode)
    | st.sampled_from([b"a: 2001-13-45\n", b"[" * 5000, b"a: !!python/object:os.system x\n"])
)
def test_any_registry_file_content_loads_or_fails_with_one_line(tmp_path, raw):
    path = tmp_path / "fuzz.yaml"
    path.write_bytes(raw)
    try:
        load_yaml(path)
    except SemconvError as exc:
        assert str(exc).startswith(str(path)) and "\n" not in str(exc)


SCALARS = st.none() | st.booleans() | st.integers() | st.text(max_size=12)
SHAPES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
GROUP_KEYS = st.sampled_from(["id", "type", "brief", "attributes", "annotations", "extends", "name", "body"])
FIELD_KEYS = st.sampled_from(["field", "attributes", "record", "note"])


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    groups=st.lists(st.dictionaries(GROUP_KEYS, SHAPES, max_size=6), max_size=3),
    fields=st.lists(st.dictionaries(FIELD_KEYS, SHAPES), max_size=3),
)
def test_any_registry_structure_loads_or_fails_with_one_line(tmp_path, groups, fields):
    root = tmp_path / "fuzz"
    if not root.exists():
        shutil.copytree(ROOT / "semconv", root / "semconv")
    (root / "semconv" / "registry" / "zz-fuzz.yaml").write_text(yaml.safe_dump({"groups": groups}))
    mapping = yaml.safe_load((ROOT / "semconv" / "mappings" / "kubearmor.yaml").read_text())["fields"]
    (root / "semconv" / "mappings" / "kubearmor.yaml").write_text(
        yaml.safe_dump({"fields": mapping + fields})
    )
    try:
        generate(root)
    except SemconvError as exc:
        assert "\n" not in str(exc)
