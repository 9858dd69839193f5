"""Profiles load unchanged from the reference set; bad input is one clear line, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from beholder.bob.engine import ProfileEngine
from beholder.bob.profile import ProfileError, load_file, load_text, parse_document, to_document
from beholder.events.model import ContainerInfo
from bob.fuzz import JSON_VALUES
from conftest import REFERENCE, require

PROFILES = REFERENCE / "kubescape" / "profiles"


def reference_profiles() -> list[Path]:
    return sorted(PROFILES.glob("*.yaml")) if PROFILES.is_dir() else []


@pytest.mark.parametrize("path", reference_profiles(), ids=lambda p: p.name)
def test_every_reference_profile_loads_unchanged(path: Path) -> None:
    (profile,) = load_file(path)
    raw = yaml.safe_load(path.read_text())
    assert profile.kind == raw["kind"]
    assert profile.name == raw["metadata"]["name"]
    assert profile.containers, "every profile describes at least one container"
    for c in profile.containers:
        assert all(not cap.startswith("CAP_") for cap in c.capabilities)
        if profile.kind != "NetworkNeighborhood":
            assert c.execs or c.opens or c.syscalls
    spec = raw["spec"]
    if profile.kind == "ContainerProfile":
        assert len(profile.containers[0].opens) == len(spec.get("opens") or [])
        assert profile.match_labels == (spec.get("matchLabels") or {})


def test_reference_directory_has_all_three_kinds() -> None:
    require(PROFILES.is_dir(), f"{PROFILES} missing")
    kinds = {p.kind for path in reference_profiles() for p in load_file(path)}
    assert kinds == {"ApplicationProfile", "ContainerProfile", "NetworkNeighborhood"}


@pytest.mark.parametrize("path", reference_profiles(), ids=lambda p: p.name)
def test_written_document_reads_back_to_the_same_behaviour(path: Path) -> None:
    (profile,) = load_file(path)
    again = parse_document(yaml.safe_load(yaml.safe_dump(to_document(profile), allow_unicode=True)), "again")
    assert again.kind == profile.kind and again.name == profile.name
    assert again.match_labels == profile.match_labels
    for a, b in zip(profile.containers, again.containers, strict=True):
        assert (a.name, a.execs, a.opens, a.syscalls, a.capabilities) == (
            b.name,
            b.execs,
            b.opens,
            b.syscalls,
            b.capabilities,
        )
        assert a.rule_policies == b.rule_policies
        assert [n.ip_addresses for n in a.egress] == [n.ip_addresses for n in b.egress]


GOOD = """apiVersion: spdx.softwarecomposition.kubescape.io/v1beta1
kind: ApplicationProfile
metadata: {name: web}
spec:
  containers:
  - name: app
    execs: null
    opens: null
    syscalls: [read]
    capabilities: null
    rulePolicies: {R0001: {processAllowed: [sh]}, R0002: {}}
"""

BAD = [
    ("- a\n- b\n", "expected a mapping"),
    ("kind: Pod\napiVersion: v1\nmetadata: {name: x}\n", "kind: 'Pod'"),
    (GOOD.replace("spdx.softwarecomposition.kubescape.io/v1beta1", "v1"), "apiVersion"),
    (GOOD.replace("metadata: {name: web}", "metadata: {}"), "metadata.name: missing"),
    (GOOD.replace("execs: null", "execs: {a: 1}"), "spec.containers[0].execs: expected a list"),
    (
        GOOD.replace("syscalls: [read]", "syscalls: [[read]]"),
        "spec.containers[0].syscalls[0]: expected a string",
    ),
    (GOOD.replace("R0002: {}", "R0002: [x]"), "spec.containers[0].rulePolicies.R0002: expected a mapping"),
    ("a: [1, 2\n", "bad.yaml:2:1: expected ',' or ']', but got '<stream end>'"),
    (GOOD.replace("execs: null", "exces: null"), "spec.containers[0].exces: unknown field (expected one of"),
    (GOOD.replace("  containers:", "  contianers:"), "spec.contianers: unknown field"),
    (GOOD.replace("{processAllowed: [sh]}", "{processAllowd: [sh]}"), "R0001.processAllowd: unknown field"),
    (GOOD.replace("execs: null", "execs: [{path: /bin/sh, arg: [x]}]"), "execs[0].arg: unknown field"),
    (
        GOOD.replace("kind: ApplicationProfile", "kind: ApplicationProfile\nspce: {}"),
        "bad.yaml: spce: unknown",
    ),
    ("a: &x [1]\nb: *x\n", "aliases are not accepted"),
    ("", "no profile documents"),
    ("[" * 5000, "YAML"),
]


@pytest.mark.parametrize(("text", "message"), BAD, ids=[m for _, m in BAD])
def test_bad_profile_is_one_line_naming_the_field(text: str, message: str) -> None:
    with pytest.raises(ProfileError) as err:
        load_text(text, "bad.yaml")
    line = str(err.value)
    assert line.startswith("bad.yaml")
    assert message in line
    assert "\n" not in line


def test_null_lists_and_empty_policies_are_accepted() -> None:
    (profile,) = load_text(GOOD)
    c = profile.containers[0]
    assert (c.execs, c.opens, c.capabilities, c.syscalls) == ([], [], set(), {"read"})
    assert c.rule_policies["R0001"].allows("sh") and not c.rule_policies["R0002"].allows("sh")


def test_an_entry_without_a_path_matches_nothing_and_keeps_the_file() -> None:
    (profile,) = load_text(GOOD.replace("execs: null", "execs: [{args: [a]}, {path: /bin/sh}]"))
    b = ProfileEngine([profile], bindings={"c1": profile.name}).behaviour_for(ContainerInfo("c1"))
    assert b is not None and b.was_executed("/bin/sh")
    assert not b.was_executed("/usr/bin/a") and not b.was_executed("a")


def test_a_yaml_bomb_is_refused_before_it_expands() -> None:
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n" for i in range(20)
    )
    with pytest.raises(ProfileError, match="aliases"):
        load_text(bomb, "bomb.yaml")


def test_oversized_file_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import beholder.bob.profile as profile_module

    monkeypatch.setattr(profile_module, "MAX_FILE_BYTES", 100)
    big = tmp_path / "big.yaml"
    big.write_text(GOOD)
    with pytest.raises(ProfileError, match="limit 100"):
        load_file(big)


def test_one_bad_profile_does_not_stop_the_others(tmp_path: Path) -> None:
    (tmp_path / "good.yaml").write_text(GOOD)
    (tmp_path / "bad.yaml").write_text(GOOD.replace("execs: null", "execs: 7"))
    (tmp_path / "notes.txt").write_text("ignored: not a profile file")
    engine, errors = ProfileEngine.load([tmp_path])
    assert [p.name for p in engine.profiles] == ["web"]
    assert len(errors) == 1 and errors[0].startswith(str(tmp_path / "bad.yaml"))


# --- fuzzing ----------------------------------------------------------------------------
FIELDS = st.sampled_from(
    [
        "execs",
        "opens",
        "syscalls",
        "capabilities",
        "rulePolicies",
        "endpoints",
        "egress",
        "ingress",
        "imageID",
        "name",
    ]
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.text(max_size=300))
def test_loader_never_raises_anything_but_profile_error_on_text(text: str) -> None:
    try:
        load_text(text, "fuzz.yaml")
    except ProfileError as exc:
        assert str(exc).startswith("fuzz.yaml")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    kind=st.sampled_from(["ApplicationProfile", "ContainerProfile", "NetworkNeighborhood"]),
    fields=st.dictionaries(FIELDS, JSON_VALUES, max_size=5),
)
def test_loader_never_raises_anything_but_profile_error_on_structure(kind: str, fields: dict) -> None:
    container = dict(fields)
    spec = container if kind == "ContainerProfile" else {"containers": [container]}
    doc = {
        "apiVersion": "spdx.softwarecomposition.kubescape.io/v1beta1",
        "kind": kind,
        "metadata": {"name": "f"},
        "spec": spec,
    }
    try:
        profile = parse_document(doc, "fuzz")
    except ProfileError as exc:
        assert str(exc).startswith("fuzz: spec")
    else:
        behaviour = ProfileEngine([profile], bindings={"x": "f"}).behaviour_for(ContainerInfo("x"))
        assert behaviour is None or behaviour.profile_name == "f"  # compiling must not fail either


def test_misspelled_neighbor_field_is_named() -> None:
    text = """apiVersion: spdx.softwarecomposition.kubescape.io/v1beta1
kind: NetworkNeighborhood
metadata: {name: web}
spec:
  matchLabels: {app: web}
  containers:
  - name: app
    egress:
    - {identifier: x, type: external, ipAdress: 10.0.0.1, ports: [{port: 53, protocol: UDP, nmae: dns}]}
"""
    with pytest.raises(
        ProfileError, match=r"^nn.yaml: spec.containers\[0\].egress\[0\].ipAdress: unknown field"
    ):
        load_text(text, "nn.yaml")
    with pytest.raises(ProfileError, match=r"egress\[0\].ports\[0\].nmae: unknown field"):
        load_text(text.replace("ipAdress", "ipAddress"), "nn.yaml")
