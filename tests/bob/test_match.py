"""Kubescape's wildcard semantics, table by table, plus a property check of the trie."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from beholder.bob.match import AddressSet, PatternIndex, dns_pattern, match_args

D = "⋯"

PATHS = [
    # (pattern, path, matches)
    ("/etc/passwd", "/etc/passwd", True),
    ("/etc/passwd", "/etc/passwd/", True),  # trailing slash does not matter
    ("/etc/passwd", "/etc/shadow", False),
    (f"/proc/{D}/stat", "/proc/1/stat", True),
    (f"/proc/{D}/stat", "/proc/self/stat", True),
    (f"/proc/{D}/stat", "/proc/stat", False),  # ⋯ is exactly one segment
    (f"/proc/{D}/stat", "/proc/1/task/1/stat", False),
    (f"/proc/{D}/task/1/fd", "/proc/77/task/1/fd", True),
    (f"/run/secrets/kubernetes.io/serviceaccount/{D}/token",
     "/run/secrets/kubernetes.io/serviceaccount/..2025_07_07_21_05_56.676258237/token", True),
    ("/etc/apache2/*", "/etc/apache2/conf/a.conf", True),  # trailing * is one or more
    ("/etc/apache2/*", "/etc/apache2/x", True),
    ("/etc/apache2/*", "/etc/apache2", False),  # ...never zero
    ("/var/*/log", "/var/log", True),  # mid * is zero or more
    ("/var/*/log", "/var/a/b/c/log", True),
    ("/var/*/log", "/var/a/b/c/logs", False),
    ("/a/*/b/*/c", "/a/b/c", True),
    ("/a/*/b/*/c", "/a/x/y/b/z/c", True),
    ("/a/*/b/*/c", "/a/x/y/z/c", False),
    ("/a/*/*/b", "/a/b", True),  # adjacent stars are one star
    ("/usr/lib/*.so", "/usr/lib/*.so", True),  # * inside a segment is literal
    ("/usr/lib/*.so", "/usr/lib/libc.so", False),
    ("*", "/anything/at/all", True),  # a lone unanchored * matches everything
    ("*", "/", True),
    (f"/{D}", "/", False),
    ("/etc/passwd", "", False),
]  # fmt: skip


@pytest.mark.parametrize(("pattern", "path", "expected"), PATHS)
def test_path_patterns_follow_kubescape_semantics(pattern: str, path: str, expected: bool) -> None:
    index: PatternIndex[str] = PatternIndex()
    index.add(pattern, pattern)
    assert index.contains(path) is expected
    assert (index.lookup(path) == [pattern]) is expected


def test_lookup_returns_every_matching_pattern_once() -> None:
    index: PatternIndex[str] = PatternIndex()
    for p in ("/bin/sh", f"/bin/{D}", "/bin/*", "/usr/*"):
        index.add(p, p)
    assert sorted(index.lookup("/bin/sh")) == sorted(["/bin/sh", f"/bin/{D}", "/bin/*"])
    assert index.lookup("/opt/x") == []


ARGS = [
    # (profile args, args required, runtime argv, matches)
    ((), False, ("ls", "-l"), True),  # no args: no constraint
    ((), True, ("ls", "-l"), False),  # argsRequired: argv must be empty
    ((), True, (), True),
    (("ls", "-l"), False, ("ls", "-l"), True),
    (("ls", "-l"), False, ("ls", "-la"), False),
    (("ls", D), False, ("ls", "/tmp"), True),  # ⋯ is exactly one argument
    (("ls", D), False, ("ls",), False),
    (("ls", D), False, ("ls", "a", "b"), False),
    (("redis-server", "⋯⋯"), False, ("redis-server",), True),  # ⋯⋯ is zero or more
    (("redis-server", "⋯⋯"), False, ("redis-server", "--port", "6379"), True),
    (("redis-server", "⋯⋯"), False, ("redis-cli", "ping"), False),
    (("/bin/sh", "-c", "*"), False, ("/bin/sh", "-c", "ping -c 4 1.1.1.1"), False),  # a lone * is data
    (("/bin/sh", "-c", "*"), False, ("/bin/sh", "-c", "*"), True),
    (("/usr/lib/postgresql/⋯/bin/postgres", "-D", "/var/lib/postgresql/⋯/data"), False,
     ("/usr/lib/postgresql/15/bin/postgres", "-D", "/var/lib/postgresql/15/data"), True),  # ⋯ in an arg
    (("/usr/lib/postgresql/⋯/bin/postgres",), False, ("/usr/lib/postgresql/15/main/bin/postgres",), False),
    (("--config=⋯",), False, ("--config=/etc/x",), False),  # ⋯ must be a whole segment
    (("ls", "-l"), True, ("ls", "-l"), True),
    (("ls", "⋯⋯"), True, ("ls",), True),
    (("a", "⋯⋯", "z"), False, ("a", "z"), True),
    (("a", "⋯⋯", "z"), False, ("a", "b", "c", "z"), True),
    (("a", "⋯⋯", "z"), False, ("a", "b", "c"), False),
]  # fmt: skip


@pytest.mark.parametrize(("pattern", "required", "argv", "expected"), ARGS)
def test_exec_args_follow_kubescape_semantics(
    pattern: tuple[str, ...], required: bool, argv: tuple[str, ...], expected: bool
) -> None:
    assert match_args(pattern, argv, required) is expected


DNS = [
    ("*.stripe.com.", "api.stripe.com.", True),
    ("*.stripe.com.", "webhooks.stripe.com", True),
    ("*.stripe.com.", "v1.api.stripe.com.", False),  # leading * is exactly one label
    ("*.stripe.com.", "stripe.com.", False),
    ("*.stripe.com.", "api.stripe.org.", False),
    (f"kubernetes.{D}.svc.cluster.local.", "kubernetes.default.svc.cluster.local.", True),
    (f"kubernetes.{D}.svc.cluster.local.", "kubernetes.foo.bar.svc.cluster.local.", False),
    (f"kubernetes.{D}.svc.cluster.local.", "redis.default.svc.cluster.local.", False),
    ("api.stripe.com", "api.stripe.com.", True),  # trailing dots are ignored
    ("api.stripe.com.", "API.Stripe.com", True),
    ("github.*", "github.com.", True),  # trailing * is one or more labels
    ("github.*", "github.co.uk.", True),
    ("github.*", "github.", False),
]


@pytest.mark.parametrize(("pattern", "name", "expected"), DNS)
def test_dns_names_follow_kubescape_semantics(pattern: str, name: str, expected: bool) -> None:
    index: PatternIndex[bool] = PatternIndex(".")
    index.add(dns_pattern(pattern), True)
    assert index.contains(name.rstrip(".").lower()) is expected


ADDRESSES = [
    (["10.0.0.0/8"], "10.1.2.3", True),
    (["10.0.0.0/8"], "11.0.0.1", False),
    (["*"], "2001:db8::1", True),
    (["192.168.1.1"], "192.168.1.1", True),
    (["192.168.1.1"], "192.168.1.2", False),
    (["2001:db8::1"], "2001:0db8:0000:0000:0000:0000:0000:0001", True),
    (["10.0.0.1"], "::ffff:10.0.0.1", True),  # v4-mapped v6 is the v4 address
    (["not-an-ip", "10.0.0.0/33"], "10.0.0.1", False),  # bad entries are ignored
    ([], "not-an-ip", False),
]


@pytest.mark.parametrize(("entries", "address", "expected"), ADDRESSES)
def test_egress_addresses_match_literal_cidr_and_any(
    entries: list[str], address: str, expected: bool
) -> None:
    assert (address in AddressSet(entries)) is expected


# --- the trie agrees with a direct recursive reading of the semantics ------------------
def _oracle(pattern: list[str], path: list[str]) -> bool:
    if not pattern:
        return not path
    head, rest = pattern[0], pattern[1:]
    if head == "*":
        if not rest:
            return len(path) >= 1
        return any(_oracle(rest, path[i:]) for i in range(len(path) + 1))
    return bool(path) and (head == D or head == path[0]) and _oracle(rest, path[1:])


SEGMENT = st.sampled_from(["a", "b", "c", "*", D])
NAME = st.sampled_from(["a", "b", "c", "d"])


@settings(max_examples=300, deadline=None)
@given(
    patterns=st.lists(st.lists(SEGMENT, min_size=1, max_size=5), min_size=1, max_size=6),
    path=st.lists(NAME, min_size=1, max_size=6),
)
def test_trie_of_many_patterns_agrees_with_recursive_oracle(
    patterns: list[list[str]], path: list[str]
) -> None:
    index: PatternIndex[int] = PatternIndex()
    for i, segments in enumerate(patterns):
        index.add("/" + "/".join(segments), i)
    expected = {i for i, segments in enumerate(patterns) if _oracle(segments, path)}
    assert set(index.lookup("/" + "/".join(path))) == expected
