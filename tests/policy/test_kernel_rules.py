"""Kill mode's kernel entries: the kernel may kill only where the engine says Block.

`kernel_kills` replays bpf/enforce.c's lookup over the entries (longest prefix per
(class, source), the caller's source first, readOnly and non-recursive limits), so every
case checks the compiled entries against the engine's own verdict on the same call.
"""

from __future__ import annotations

import pytest

from beholder.events.enforce_abi import CLASS_EXEC, CLASS_FILE, DIR, READ_ONLY, RECURSIVE, KernelRules
from beholder.events.model import Action
from beholder.policy.kernel_rules import KillSync, kernel_rules

from .conftest import container
from .test_engine import ksp

WEB = container("web", app="web")


def kernel_kills(entries: KernelRules, klass: int, path: str, exe: str, write: bool = False) -> bool:
    def longest(source: str):
        hits = [
            e for e in entries.paths
            if e.klass == klass and e.source == source
            and ((path + "\0") == e.key if not e.flags & DIR else path.startswith(e.key))
        ]  # fmt: skip
        return max(hits, key=lambda e: len(e.key), default=None)

    entry = (longest(exe) if exe else None) or longest("")
    if entry is None or not entry.kill:
        return False
    if entry.flags & READ_ONLY and not write:
        return False
    return not (entry.flags & DIR and not entry.flags & RECURSIVE and "/" in path[entry.dir_len :])


def engine_blocks(engine, event) -> bool:
    alerts = engine.evaluate([event])
    return bool(alerts) and alerts[0].action is Action.BLOCK


FILE_CASES = {
    "exact path": ("file: {matchPaths: [{path: /secret}]}\n  action: Block", "/secret", True),
    "another path": ("file: {matchPaths: [{path: /secret}]}\n  action: Block", "/secret2", False),
    "direct child": ("file: {matchDirectories: [{dir: /etc/}]}\n  action: Block", "/etc/passwd", True),
    "deeper, not recursive": ("file: {matchDirectories: [{dir: /etc/}]}\n  action: Block", "/etc/a/b", False),
    "deeper, recursive": (
        "file: {matchDirectories: [{dir: /etc/, recursive: true}]}\n  action: Block",
        "/etc/a/b",
        True,
    ),
    "the directory itself": ("file: {matchDirectories: [{dir: /etc/}]}\n  action: Block", "/etc", True),
}


@pytest.mark.parametrize("case", FILE_CASES.values(), ids=FILE_CASES.keys())
def test_file_entries_kill_where_the_engine_blocks(case, ev, engine_from) -> None:
    body, path, kills = case
    engine = engine_from(ksp("p", f"  {body}\n"))
    entries = kernel_rules(engine._state.rules_for(WEB))
    assert kernel_kills(entries, CLASS_FILE, path, "/bin/cat") is kills
    assert engine_blocks(engine, ev.open(path, ctr=WEB)) is kills  # these rules are all expressible


def test_a_more_specific_allow_is_never_killed(ev, engine_from) -> None:
    engine = engine_from(
        ksp("b", "  file: {matchDirectories: [{dir: /etc/, recursive: true}]}\n  action: Block\n"),
        ksp("a", "  file: {matchPaths: [{path: /etc/hostname}]}\n  action: Allow\n"),
    )
    entries = kernel_rules(engine._state.rules_for(WEB))
    assert not kernel_kills(entries, CLASS_FILE, "/etc/hostname", "/bin/cat")
    assert not engine_blocks(engine, ev.open("/etc/hostname", ctr=WEB))
    assert kernel_kills(entries, CLASS_FILE, "/etc/passwd", "/bin/cat")
    assert engine_blocks(engine, ev.open("/etc/passwd", ctr=WEB))


def test_read_only_kills_writes_only(ev, engine_from) -> None:
    engine = engine_from(
        ksp("p", "  file: {matchPaths: [{path: /ledger, readOnly: true}]}\n  action: Block\n")
    )
    entries = kernel_rules(engine._state.rules_for(WEB))
    assert kernel_kills(entries, CLASS_FILE, "/ledger", "/bin/sh", write=True)
    assert engine_blocks(engine, ev.open("/ledger", exe="/bin/sh", flags="O_WRONLY|O_APPEND", ctr=WEB))
    assert not kernel_kills(entries, CLASS_FILE, "/ledger", "/bin/cat", write=False)
    assert not engine.evaluate([ev.open("/ledger", ctr=WEB)])


def test_from_source_kills_that_caller_only(ev, engine_from) -> None:
    body = "  process: {matchPaths: [{path: /bin/ls, fromSource: [{path: /bin/dash}]}]}\n  action: Block\n"
    engine = engine_from(ksp("p", body))
    entries = kernel_rules(engine._state.rules_for(WEB))
    assert kernel_kills(entries, CLASS_EXEC, "/bin/ls", "/bin/dash")
    assert engine_blocks(engine, ev.exec("/bin/ls", parent="/bin/dash", ctr=WEB))
    assert not kernel_kills(entries, CLASS_EXEC, "/bin/ls", "/bin/bash")


def test_a_non_block_pattern_switches_directory_kills_off(engine_from) -> None:
    engine = engine_from(
        ksp("b", "  file: {matchDirectories: [{dir: /etc/}]}\n  action: Block\n"),
        ksp("a", "  file: {matchPatterns: [{pattern: /etc/*.conf}]}\n  action: Audit\n"),
    )
    entries = kernel_rules(engine._state.rules_for(WEB))
    assert not kernel_kills(entries, CLASS_FILE, "/etc/x.conf", "/bin/cat")
    assert not any(e.kill for e in entries.paths)


def test_what_the_kernel_cannot_judge_is_said(engine_from) -> None:
    engine = engine_from(
        ksp("o", "  file: {matchDirectories: [{dir: /home/, ownerOnly: true}]}\n  action: Block\n"),
        ksp("g", "  file: {matchPatterns: [{pattern: /etc/*shadow}]}\n  action: Block\n"),
    )
    entries = kernel_rules(engine._state.rules_for(WEB))
    assert not any(e.kill for e in entries.paths)
    assert [line.split(":")[0] for line in entries.not_enforced] == [
        "g spec.file.matchPatterns[0]",
        "o spec.file.matchDirectories[0]",
    ]
    assert all(line.endswith("stays 'Audit (Block)'") for line in entries.not_enforced)


def test_socket_entries_are_the_engines_block_verdicts(ev, engine_from) -> None:
    engine = engine_from(ksp("p", "  network: {matchProtocols: [{protocol: raw}]}\n  action: Block\n"))
    entries = kernel_rules(engine._state.rules_for(WEB))
    classes = {(s.family, s.type, s.protocol) for s in entries.sockets if s.source == ""}
    assert (17, 3, 0) in classes and (2, 3, 1) in classes  # packet raw (arping), inet raw ICMP
    assert (2, 1, 0) not in classes and (2, 1, 6) not in classes  # TCP streams stay
    assert engine_blocks(engine, ev.socket("SOCK_RAW", 0, "/usr/sbin/arping", ctr=WEB, family="AF_PACKET"))
    assert not engine.evaluate([ev.socket("SOCK_STREAM", "TCP", "/usr/bin/curl", ctr=WEB)])


def test_sync_loads_a_scope_once_per_rule_set_and_says_each_gap_once(engine_from) -> None:
    engine = engine_from(ksp("g", "  file: {matchPatterns: [{pattern: /etc/*shadow}]}\n  action: Block\n"))
    loaded: list[tuple[int, KernelRules]] = []
    said: list[str] = []
    sync = KillSync(lambda scope, rules: loaded.append((scope, rules)), said.append)
    rules = engine._state.rules_for(WEB)
    for _ in range(3):
        sync.ensure(42, rules)
    sync.ensure(43, rules)
    assert [scope for scope, _ in loaded] == [42, 43]
    assert len(said) == 1 and said[0].startswith("kill mode: g spec.file.matchPatterns[0]")


def test_a_map_that_refuses_an_entry_is_said_and_evaluation_goes_on(engine_from) -> None:
    engine = engine_from(ksp("p", "  file: {matchPaths: [{path: /secret}]}\n  action: Block\n"))
    said: list[str] = []

    def full(scope: int, rules: KernelRules) -> None:
        raise RuntimeError("map enforce_paths: update failed: Argument list too long")

    sync = KillSync(full, said.append)
    sync.ensure(7, engine._state.rules_for(WEB))
    sync.ensure(7, engine._state.rules_for(WEB))  # said once, not retried per event
    assert said == ["kill mode: scope 7: map enforce_paths: update failed: Argument list too long; "
                    "its Block rules may stay 'Audit (Block)'"]  # fmt: skip


def test_a_new_scope_first_removes_the_scopes_of_containers_gone(engine_from) -> None:
    """Exited containers' entries leave the kernel maps when the next container comes (not at
    the agent's restart); the host's scope and live containers keep theirs."""
    engine = engine_from(ksp("p", "  file: {matchPaths: [{path: /secret}]}\n  action: Block\n"))
    loaded: list[tuple[int, int]] = []
    live = {0, 42, 43}
    sync = KillSync(
        lambda scope, rules: loaded.append((scope, len(rules.paths))), [].append, live.__contains__
    )
    rules = engine._state.rules_for(WEB)
    sync.ensure(0, rules)
    sync.ensure(42, rules)
    sync.ensure(43, rules)
    live.discard(42)
    live.discard(0)  # never removed: 0 is the host, not a cgroup
    sync.ensure(43, rules)  # a scope already loaded: nothing looked up
    assert [scope for scope, _ in loaded] == [0, 42, 43]
    sync.ensure(44, rules)
    assert loaded[3:] == [(42, 0), (44, loaded[0][1])]
    sync.ensure(42, rules)  # a cgroup id that comes back is loaded again
    assert loaded[-1] == (42, loaded[0][1])
