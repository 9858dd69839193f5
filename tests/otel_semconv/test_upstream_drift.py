"""`semconv/registry/otel.yaml` against the pinned upstream conventions, without the network.

The pinned source is the `opentelemetry-semantic-conventions` package of the test extras: it
is generated from the upstream registry, stable attributes in `opentelemetry.semconv.attributes`
and everything else in `_incubating`, deprecated ones documented `Deprecated: …`, enums as
`<Name>Values` classes. It cannot tell release_candidate from development (both are
incubating), so the test holds those two apart only from stable.
"""

from __future__ import annotations

import ast
import importlib.metadata
import inspect
import pkgutil
from dataclasses import dataclass, field
from enum import Enum
from types import ModuleType

import opentelemetry.semconv._incubating.attributes as otel_incubating
import opentelemetry.semconv.attributes as otel_stable
import pytest
from opentelemetry.semconv.schemas import Schemas

from beholder.otel.resource import SCHEMA_URL
from beholder.otel.semconv_gen import OPEN_ENUM_MEMBER, Attribute, load_registry
from conftest import ROOT

PINNED = "0.66b2"  # opentelemetry-semantic-conventions, = semantic conventions v1.44.0


@dataclass
class Upstream:
    stable: set[str] = field(default_factory=set)
    incubating: set[str] = field(default_factory=set)
    deprecated: dict[str, str] = field(default_factory=dict)
    enums: dict[str, set[str]] = field(default_factory=dict)


def _modules(package: ModuleType) -> list[ModuleType]:
    return [
        importlib.import_module(f"{package.__name__}.{info.name}")
        for info in pkgutil.iter_modules(package.__path__)
    ]


def _read(module: ModuleType, into: set[str], upstream: Upstream) -> None:
    """Attribute names, their deprecation notes and enum members of one generated module."""
    body = ast.parse(inspect.getsource(module)).body
    constants: dict[str, str] = {}
    for statement, after in zip(body, [*body[1:], None], strict=True):
        if isinstance(statement, ast.AnnAssign) and isinstance(statement.value, ast.Constant):
            name = statement.target.id  # type: ignore[attr-defined]
            key = str(statement.value.value)
            constants[name] = key
            into.add(key)
            doc = (
                after.value.value
                if isinstance(after, ast.Expr) and isinstance(after.value, ast.Constant)
                else ""
            )
            if str(doc).strip().startswith("Deprecated:"):
                upstream.deprecated[key] = str(doc).strip().splitlines()[0]
    for name, key in constants.items():
        values = getattr(module, "".join(part.title() for part in name.split("_")) + "Values", None)
        if isinstance(values, type) and issubclass(values, Enum):
            upstream.enums[key] = {str(member.value) for member in values}


@pytest.fixture(scope="module")
def upstream() -> Upstream:
    found = Upstream()
    for module in _modules(otel_stable):
        _read(module, found.stable, found)
    for module in _modules(otel_incubating):
        _read(module, found.incubating, found)
    return found


@pytest.fixture(scope="module")
def borrowed() -> list[Attribute]:
    return [a for a in load_registry(ROOT).attributes.values() if a.origin == "opentelemetry"]


def test_the_pinned_package_is_installed_and_holds_the_declared_schema_version():
    assert importlib.metadata.version("opentelemetry-semantic-conventions") == PINNED
    newest = max(Schemas, key=lambda s: tuple(int(x) for x in s.value.rsplit("/", 1)[1].split(".")))
    assert newest.value == SCHEMA_URL


def test_every_borrowed_attribute_exists_upstream_and_is_not_deprecated(upstream, borrowed):
    known = upstream.stable | upstream.incubating
    assert sorted(a.id for a in borrowed if a.id not in known) == []
    assert {a.id: upstream.deprecated[a.id] for a in borrowed if a.id in upstream.deprecated} == {}


def test_declared_stability_matches_upstream(upstream, borrowed):
    drift = {
        a.id: (a.stability, "stable" if a.id in upstream.stable else "incubating")
        for a in borrowed
        if (a.stability == "stable") != (a.id in upstream.stable)
    }
    assert drift == {}


def test_enum_attributes_are_enums_with_upstream_members_and_openness(upstream, borrowed):
    for attr in borrowed:
        members = upstream.enums.get(attr.id)
        if members is None:
            assert not attr.members, f"{attr.id} is an enum here, a plain value upstream"
            continue
        assert attr.members, f"{attr.id} is an enum upstream ({sorted(members)})"
        assert set(attr.members) <= members, attr.id
        assert (OPEN_ENUM_MEMBER in members) == attr.is_open_enum, f"{attr.id}: open enum mismatch"


def test_the_reader_sees_what_upstream_declares(upstream):
    """Guards the comparisons above against a reader that finds nothing."""
    assert upstream.deprecated["net.peer.name"].startswith("Deprecated: Replaced by")
    assert "k8s.pod.name" in upstream.stable and "k8s.pod.name" not in upstream.deprecated
    assert upstream.enums["error.type"] == {OPEN_ENUM_MEMBER}
    assert {"tcp", "udp", "unix"} <= upstream.enums["network.transport"]
    assert "process.pid" in upstream.incubating - upstream.stable
