"""The indexed matchers find exactly what a rule-by-rule scan (KubeArmor's way) finds."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from beholder.events.model import Action, Operation
from beholder.policy.compile import compile_rules, glob_to_regex
from beholder.policy.model import Match, Rule

GLOBS = {
    "star stays in one component": ("/etc/*hado?", "/etc/shadow", True),
    "star does not cross slashes": ("/etc/*", "/etc/a/b", False),
    "question mark is one character": ("/a/?", "/a/bc", False),
    "character class": ("/a/[b-d]x", "/a/cx", True),
    "negated class": ("/a/[^b-d]x", "/a/cx", False),
    "escaped star is literal": ("/a/\\*", "/a/*", True),
    "escaped star does not glob": ("/a/\\*", "/a/b", False),
    "regex metacharacters are literal": ("/a/b.c+", "/a/bxc+", False),
    "unterminated class is literal": ("/a/[", "/a/[", True),
}


@pytest.mark.parametrize("case", GLOBS.values(), ids=GLOBS.keys())
def test_globs_follow_go_filepath_match(case: tuple[str, str, bool]) -> None:
    pattern, path, expected = case
    assert bool(re.fullmatch(glob_to_regex(pattern), path)) is expected


PARTS = ["a", "b", "etc", "x.conf"]
paths = st.lists(st.sampled_from(PARTS), min_size=1, max_size=4).map(lambda p: "/" + "/".join(p))
dirs = st.lists(st.sampled_from(PARTS), min_size=0, max_size=3).map(
    lambda p: "/" + "".join(f"{c}/" for c in p)
)
globs = st.lists(st.sampled_from([*PARTS, "*", "?", "e*"]), min_size=1, max_size=3).map(
    lambda p: "/" + "/".join(p)
)


@st.composite
def rules(draw: st.DrawFn) -> Rule:
    match = draw(st.sampled_from([Match.PATH, Match.DIRECTORY, Match.PATTERN, Match.EXECNAME]))
    resource = {
        Match.PATH: paths,
        Match.DIRECTORY: dirs,
        Match.PATTERN: globs,
        Match.EXECNAME: st.sampled_from(PARTS),
    }[match]
    return Rule(
        policy="p",
        operation=Operation.FILE,
        match=match,
        resource=draw(resource),
        action=Action.AUDIT,
        severity=1,
        tags=(),
        message="",
        where="spec",
        recursive=draw(st.booleans()),
    )


def _go_glob(pattern: str, path: str) -> bool:
    """A direct reading of filepath.Match for `*`, `?` and literals (no classes here)."""
    if not pattern:
        return not path
    head = pattern[0]
    if head == "*":
        return any(_go_glob(pattern[1:], path[i:]) for i in range(len(path) + 1) if "/" not in path[:i])
    if not path:
        return False
    if head == "?":
        return path[0] != "/" and _go_glob(pattern[1:], path[1:])
    return head == path[0] and _go_glob(pattern[1:], path[1:])


def _scan(rule: Rule, path: str) -> bool:
    """KubeArmor's matchResources for file rules, one rule at a time."""
    parent = path[: path.rfind("/") + 1]
    if rule.match is Match.PATH:
        return rule.resource == path
    if rule.match is Match.EXECNAME:
        return path.endswith("/" + rule.resource)
    if rule.match is Match.PATTERN:
        return _go_glob(rule.resource, path)
    if rule.resource == path + "/":
        return True
    depth_ok = parent.count("/") >= rule.resource.count("/") if rule.recursive else parent == rule.resource
    return parent.startswith(rule.resource) and depth_ok


@settings(max_examples=400, deadline=None)
@given(st.lists(rules(), max_size=12), paths)
def test_index_finds_what_a_rule_by_rule_scan_finds(rule_list: list[Rule], path: str) -> None:
    index = compile_rules(rule_list).file
    found: list[Rule] = []
    index.lookup(path, True, found)
    assert sorted(map(id, found)) == sorted(id(r) for r in rule_list if _scan(r, path))
