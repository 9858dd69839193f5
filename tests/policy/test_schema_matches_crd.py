"""Our built-in validator accepts exactly what KubeArmor's CRDs accept.

The runtime never reads the CRD files; this test does, and checks `crd_errors` against the
real openAPIV3Schema (made strict about unknown fields, as `kubectl apply` validates) on
every reference policy, on hand-made mutations and on random ones.
"""

from __future__ import annotations

import copy
from typing import Any

import jsonschema
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from beholder.policy.schema import KINDS, crd_errors
from conftest import REFERENCE, require

CRD_DIR = REFERENCE / "kubearmor" / "crd"
POLICY_DIR = REFERENCE / "kubearmor" / "policies"


def _strict(node: Any) -> Any:
    """Refuse unknown fields wherever the CRD lists properties (strict field validation)."""
    if isinstance(node, dict):
        node = {k: _strict(v) for k, v in node.items()}
        if node.get("type") == "object" and "properties" in node and "additionalProperties" not in node:
            node["additionalProperties"] = False
    elif isinstance(node, list):
        node = [_strict(v) for v in node]
    return node


def _validators() -> dict[str, jsonschema.Draft4Validator]:
    out = {}
    for kind in KINDS:
        crd = yaml.safe_load((CRD_DIR / f"{kind}.yaml").read_text())
        schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
        out[kind] = jsonschema.Draft4Validator(_strict(schema))
    return out


def _reference_docs() -> list[dict[str, Any]]:
    docs = []
    for path in sorted(POLICY_DIR.rglob("*.yaml")):
        docs.extend(
            d for d in yaml.safe_load_all(path.read_text()) if isinstance(d, dict) and d.get("kind") in KINDS
        )
    return docs


@pytest.fixture(scope="module")
def validators() -> dict[str, jsonschema.Draft4Validator]:
    require(CRD_DIR.is_dir(), f"{CRD_DIR} missing")
    return _validators()


@pytest.fixture(scope="module")
def reference_docs() -> list[dict[str, Any]]:
    require(POLICY_DIR.is_dir(), f"{POLICY_DIR} missing")
    return _reference_docs()


def _agree(validators: dict[str, jsonschema.Draft4Validator], doc: dict[str, Any]) -> None:
    ours = crd_errors(doc)
    theirs = [e.message for e in validators[doc["kind"]].iter_errors(doc)]
    assert (not ours) == (not theirs), f"ours={ours} crd={theirs}"


def test_every_reference_policy_is_valid_for_both(validators, reference_docs) -> None:
    assert len(reference_docs) >= 100
    for doc in reference_docs:
        assert crd_errors(doc) == []
        _agree(validators, doc)


BASE = {
    "apiVersion": "security.kubearmor.com/v1",
    "kind": "KubeArmorPolicy",
    "metadata": {"name": "p"},
    "spec": {
        "selector": {"matchLabels": {"app": "x"}},
        "process": {"matchPaths": [{"path": "/bin/ls", "fromSource": [{"path": "/bin/bash"}]}]},
        "file": {"matchDirectories": [{"dir": "/etc/", "recursive": True, "readOnly": True}]},
        "network": {"matchProtocols": [{"protocol": "tcp"}]},
        "capabilities": {"matchCapabilities": [{"capability": "net_raw"}]},
        "syscalls": {"matchSyscalls": [{"syscall": ["setuid"]}]},
        "action": "Block",
        "severity": 5,
    },
}

# (where, value) — None as value removes the field.
MUTATIONS = {
    "severity zero": (("spec", "severity"), 0),
    "severity eleven": (("spec", "severity"), 11),
    "severity as string": (("spec", "severity"), "5"),
    "severity as float": (("spec", "severity"), 5.0),
    "severity as bool": (("spec", "severity"), True),
    "action lowercase": (("spec", "action"), "block"),
    "action unknown": (("spec", "action"), "Deny"),
    "relative path": (("spec", "process", "matchPaths", 0, "path"), "bin/ls"),
    "path with trailing slash": (("spec", "process", "matchPaths", 0, "path"), "/bin/"),
    "path too long": (("spec", "process", "matchPaths", 0, "path"), "/" + "a" * 200),
    "execname with slash": (("spec", "process", "matchPaths", 0, "execname"), "bin/ls"),
    "dir without slash": (("spec", "file", "matchDirectories", 0, "dir"), "/etc"),
    "dir missing": (("spec", "file", "matchDirectories", 0, "dir"), None),
    "recursive as string": (("spec", "file", "matchDirectories", 0, "recursive"), "yes"),
    "protocol unknown": (("spec", "network", "matchProtocols", 0, "protocol"), "quic"),
    "protocol comma list": (("spec", "network", "matchProtocols", 0, "protocol"), "udp,tcp"),
    "capability upper case": (("spec", "capabilities", "matchCapabilities", 0, "capability"), "NET_RAW"),
    "capability prefixed": (("spec", "capabilities", "matchCapabilities", 0, "capability"), "cap_net_raw"),
    "capability newer than CRD": (("spec", "capabilities", "matchCapabilities", 0, "capability"), "bpf"),
    "syscall newer than CRD": (("spec", "syscalls", "matchSyscalls", 0, "syscall"), ["clone3"]),
    "syscall not a list": (("spec", "syscalls", "matchSyscalls", 0, "syscall"), "setuid"),
    "fromSource relative": (("spec", "process", "matchPaths", 0, "fromSource", 0, "path"), "bash"),
    "unknown rule field": (("spec", "process", "matchPaths", 0, "paht"), "/bin/ls"),
    "unknown spec field": (("spec", "proccess"), {}),
    "matchLabels value not string": (("spec", "selector", "matchLabels", "app"), 3),
    "expression key unknown": (
        ("spec", "selector", "matchExpressions"),
        [{"key": "namespace", "operator": "In"}],
    ),
    "expression operator unknown": (
        ("spec", "selector", "matchExpressions"),
        [{"key": "label", "operator": "Exists"}],
    ),
    "tags not a list": (("spec", "tags"), "MITRE"),
    "message not a string": (("spec", "message"), ["a"]),
    "rules not a list": (("spec", "process", "matchPaths"), {"path": "/bin/ls"}),
    "allowedArgs too many": (("spec", "process", "matchPaths", 0, "allowedArgs"), ["a"] * 21),
}


def _set(doc: dict[str, Any], where: tuple[Any, ...], value: Any) -> dict[str, Any]:
    doc = copy.deepcopy(doc)
    node = doc
    for key in where[:-1]:
        node = node[key]
    if value is None:
        del node[where[-1]]
    else:
        node[where[-1]] = value
    return doc


@pytest.mark.parametrize("mutation", MUTATIONS.values(), ids=MUTATIONS.keys())
def test_mutated_policy_gets_the_crds_verdict(validators, mutation) -> None:
    where, value = mutation
    _agree(validators, _set(BASE, where, value))


def test_host_policy_needs_node_selector_and_cluster_policy_has_no_match_labels(validators) -> None:
    host = _set({**BASE, "kind": "KubeArmorHostPolicy"}, ("spec", "selector"), None)
    assert sorted(crd_errors(host)) == [
        "spec.capabilities.matchCapabilities[0].fromSource: required",  # a host-CRD quirk
        "spec.network.matchProtocols[0].fromSource: required",
        "spec.nodeSelector: required",
    ]
    _agree(validators, host)
    cluster = {**BASE, "kind": "KubeArmorClusterPolicy"}
    assert crd_errors(cluster) == ["spec.selector.matchLabels: unknown field"]
    _agree(validators, cluster)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            out.extend(_paths(value, (*prefix, key)))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            out.extend(_paths(value, (*prefix, i)))
    return out


WORDS = [
    "/bin/ls",
    "/etc/",
    "bin",
    "/",
    "tcp",
    "TCP",
    "net_raw",
    "Allow",
    "block",
    "label",
    "In",
    "setuid",
    "a=b",
]
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-2, 12),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(WORDS),
    st.text(max_size=8),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(["path", "dir", "protocol", "action", "severity", "x"]), inner, max_size=3
        )
    ),
    max_leaves=6,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_random_mutation_gets_the_crds_verdict(validators, reference_docs, data) -> None:
    doc = data.draw(st.sampled_from(reference_docs))
    where = data.draw(st.sampled_from([p for p in _paths(doc) if p[0] not in ("kind", "apiVersion")]))
    mutated = _set(doc, where, data.draw(VALUES.filter(lambda v: v is not None)))
    _agree(validators, mutated)
