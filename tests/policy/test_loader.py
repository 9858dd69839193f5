"""Loading policy files: one clear line per bad policy, the rest keeps working."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from beholder.policy.loader import load_file, load_text, policy_files
from beholder.policy.model import Policy
from beholder.policy.schema import SCHEMAS, Obj, Seq, Str
from conftest import REFERENCE, require

GOOD = """
apiVersion: security.kubearmor.com/v1
kind: KubeArmorPolicy
metadata: {{name: {name}}}
spec:
  selector: {{matchLabels: {{app: x}}}}
  process:
    matchPaths:
    - path: /bin/sleep
  action: Block
"""


def _policy(spec: str, name: str = "p", kind: str = "KubeArmorPolicy") -> str:
    return f"apiVersion: security.kubearmor.com/v1\nkind: {kind}\nmetadata: {{name: {name}}}\nspec:\n{spec}"


def test_bad_document_is_one_line_naming_file_policy_and_field_and_others_load() -> None:
    bad = _policy("  process:\n    matchPaths:\n    - path: /bin/ls\n      severity: 11\n", name="bad")
    text = "---\n".join([GOOD.format(name="first"), bad, GOOD.format(name="last")])
    result = load_text(text, "/etc/policies/mixed.yaml")
    assert [p.name for p in result.policies] == ["first", "last"]
    assert result.errors == [
        "/etc/policies/mixed.yaml: KubeArmorPolicy 'bad': "
        "spec.process.matchPaths[0].severity: 11 is greater than 10"
    ]


BOMB = "a: &a [1,1,1,1,1,1,1,1,1,1]\n" + "".join(
    f"{n}: &{n} [{', '.join([f'*{p}'] * 10)}]\n" for p, n in zip("abcdefgh", "bcdefghi", strict=True)
)

FILE_RULE = "  file: {matchPaths: [{path: /a}]}\n"
IN_APP = "  selector: {matchExpressions: [{key: label, operator: In, values: [app]}]}\n"

BAD_INPUTS = {
    "unparsable YAML": ("a: [", "in.yaml:1:5: expected the node content, but found '<stream end>'"),
    "scalar document": ("hello", "document 1: document: expected a mapping, got string"),
    "unknown kind": ("kind: Pod\nmetadata: {name: x}\n", "kind: 'Pod' is not one of"),
    "missing name": (_policy(FILE_RULE).replace("name: p", "labels: {}"), "metadata.name: required"),
    "wrong apiVersion": (_policy(FILE_RULE).replace("/v1", "/v2"), "apiVersion: 'security.kubearmor.com/v2"),
    "label expression without =": (
        _policy(IN_APP + FILE_RULE),
        "spec.selector.matchExpressions[0].values[0]: 'app' is not in key=value form",
    ),
    "process rule without path or execname": (
        _policy("  process: {matchPaths: [{ownerOnly: true}]}\n"),
        "exactly one of path or execname",
    ),
    "unterminated glob": (
        _policy("  file: {matchPatterns: [{pattern: '/etc/[ab'}]}\n"),
        "is not a valid glob",
    ),
    "empty syscall list": (_policy("  syscalls: {matchSyscalls: [{syscall: []}]}\n"), "at least one syscall"),
    "fromSource without path": (
        _policy("  file: {matchPaths: [{path: /a, fromSource: [{}]}]}\n"),
        "fromSource[0].path: required",
    ),
    "unknown field": (_policy("  file: {matchPath: [{path: /a}]}\n"), "spec.file.matchPath: unknown field"),
    "alias bomb": (BOMB, "expands to more than"),
    "deep nesting": ("a: " + "[" * 500 + "]" * 500, "nesting deeper than"),
    "self-referencing alias": ("&a [*a]", "refers to itself"),
    "integer too long to convert": ("severity: " + "9" * 5000, "in.yaml: Exceeds the limit"),
}


@pytest.mark.parametrize("case", BAD_INPUTS.values(), ids=BAD_INPUTS.keys())
def test_bad_input_gives_one_clear_line(case: tuple[str, str]) -> None:
    text, expected = case
    result = load_text(text, "in.yaml")
    assert result.policies == []
    assert len(result.errors) == 1
    assert result.errors[0].startswith("in.yaml:")
    assert expected in result.errors[0]
    assert "\n" not in result.errors[0]


def test_every_problem_in_one_policy_is_its_own_line() -> None:
    spec = "  severity: 0\n  action: Deny\n  tags: x\n  message: [1]\n  file: {matchPaths: [{path: a}]}\n"
    result = load_text(_policy(spec), "in.yaml")
    assert result.invalid == 1 and len(result.errors) == 5
    assert [line.split(": ", 2)[2] for line in result.errors] == [
        "spec.severity: 0 is less than 1",
        "spec.action: 'Deny' is not one of Allow, Audit, Block",
        "spec.tags: expected array, got string",
        "spec.message: expected string, got array",
        "spec.file.matchPaths[0].path: 'a' is not an absolute file path "
        "(it starts with / and does not end with /)",
    ]
    assert not any("\n" in line for line in result.errors)


def test_unreadable_and_missing_files_are_reported(tmp_path: Path) -> None:
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"\xff\xfe\x00bad")
    assert "cannot read" in load_file(binary).errors[0]
    files, errors = policy_files([tmp_path / "nope.yaml", tmp_path])
    assert files == [binary]
    assert errors == [f"{tmp_path / 'nope.yaml'}: no such file or directory"]


def test_timestamps_stay_strings_like_kubectl_sends_them() -> None:
    result = load_text(_policy("  message: 2024-01-01\n  file: {matchPaths: [{path: /a}]}\n"), "in.yaml")
    assert result.errors == []
    assert result.policies[0].rules[0].message == "2024-01-01"


def test_reference_policies_load_except_duplicates_and_unevaluated_kinds() -> None:
    root = REFERENCE / "kubearmor" / "policies"
    require(root.is_dir(), f"{root} missing")
    files, _ = policy_files([root])
    results = [load_file(path) for path in files]
    assert all(r.errors == [] for r in results)
    skipped = [line for r in results for line in r.skipped]
    assert len(skipped) == 2
    assert any("KubeArmorNetworkPolicy" in line for line in skipped)
    assert any("spec.apparmor" in line for line in skipped)
    assert sum(len(r.policies) for r in results) == 106


def _assert_clean(text: str) -> None:
    result = load_text(text, "fuzz.yaml")
    assert all(isinstance(p, Policy) for p in result.policies)
    assert all(line.startswith("fuzz.yaml:") and "\n" not in line for line in result.errors + result.skipped)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=400))
def test_any_text_gives_clean_errors_or_policies(text: str) -> None:
    _assert_clean(text)


FIELDS = [
    "apiVersion",
    "kind",
    "metadata",
    "name",
    "spec",
    "process",
    "file",
    "network",
    "capabilities",
    "syscalls",
    "matchPaths",
    "matchDirectories",
    "matchPatterns",
    "matchProtocols",
    "matchCapabilities",
    "matchSyscalls",
    "path",
    "dir",
    "pattern",
    "execname",
    "protocol",
    "capability",
    "syscall",
    "fromSource",
    "recursive",
    "ownerOnly",
    "readOnly",
    "action",
    "severity",
    "tags",
    "message",
    "selector",
    "matchLabels",
    "matchExpressions",
    "key",
    "operator",
    "values",
    "nodeSelector",
]
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 20),
    st.sampled_from(["security.kubearmor.com/v1", "KubeArmorPolicy", "KubeArmorHostPolicy",
                     "KubeArmorClusterPolicy", "/bin/ls", "/etc/", "tcp", "net_raw", "setuid", "Allow",
                     "Block", "Audit", "label", "In", "NotIn", "a=b", "[", "*"]),
    st.text(max_size=6),
)  # fmt: skip
TREES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(FIELDS), inner, max_size=4),
    max_leaves=25,
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(FIELDS), TREES, max_size=5))
def test_any_policy_shaped_document_gives_clean_errors_or_policies(doc: dict) -> None:
    doc.setdefault("apiVersion", "security.kubearmor.com/v1")
    _assert_clean(yaml.safe_dump(doc))


def _patterned(node: object) -> list[Str]:
    if isinstance(node, Str):
        return [node] if node.pattern else []
    if isinstance(node, Seq):
        return _patterned(node.item)
    if isinstance(node, Obj):
        return [s for child in [*node.fields.values(), node.values] for s in _patterned(child)]
    return []


def test_every_schema_pattern_is_explained_in_words() -> None:
    patterned = [s for schema in SCHEMAS.values() for s in _patterned(schema)]
    assert len(patterned) > 10
    assert all(s.says and "\\" not in s.says and "^" not in s.says for s in patterned)


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        (
            "  file: {matchDirectories: [{dir: srv/}]}\n",
            "'srv/' is not a directory (it starts and ends with /)",
        ),
        ("  process: {matchPaths: [{execname: /bin/sh}]}\n", "'/bin/sh' is not a program name without any /"),
        ("  capabilities: {matchCapabilities: [{capability: fly}]}\n", "'fly' is not a capability name"),
    ],
)
def test_pattern_violations_are_said_in_words(rule: str, message: str) -> None:
    (line,) = load_text(_policy(rule), "in.yaml").errors
    assert message in line


NO_SLASH = """
apiVersion: security.kubearmor.com/v1
kind: KubeArmorHostPolicy
metadata: {name: hsp-dir}
spec:
  nodeSelector: {matchLabels: {kubearmor.io/hostname: "*"}}
  file:
    matchDirectories:
    - dir: /etc/default
      fromSource: [{path: /usr/bin/head}]
  action: Block
"""


def test_a_file_dir_without_trailing_slash_is_read_as_a_directory_with_a_note() -> None:
    """KubeArmor's non-Kubernetes mode loads such host policies from files; the CRD refuses them."""
    from beholder.policy.loader import load_docs, load_text

    result = load_text(NO_SLASH, "hsp.yaml")
    assert result.errors == []
    (policy,) = result.policies
    assert [r.resource for r in policy.rules] == ["/etc/default/"]
    assert result.skipped == [
        "hsp.yaml: KubeArmorHostPolicy 'hsp-dir': spec.file.matchDirectories[0].dir '/etc/default' "
        "has no trailing '/': read as '/etc/default/'"
    ]
    from_api = load_docs([yaml.safe_load(NO_SLASH)], "kubernetes-api")
    assert from_api.policies == [] and "matchDirectories[0].dir" in from_api.errors[0]
