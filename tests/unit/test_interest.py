"""Kernel interest, root-free: which calls each consumer needs, the plan per cgroup, and how
plans are shared in slots and re-pointed when visibility or policies change."""

from __future__ import annotations

import ctypes
import itertools
from typing import Any

import pytest

from beholder.bob.engine import ProfileEngine
from beholder.events.abi import PREFIXES, RecordKind
from beholder.events.decoding import SYSCALL_NUMBERS
from beholder.events.interfaces import HostIdentity
from beholder.events.model import ContainerInfo, Operation
from beholder.events.needs import EVERYTHING, NOTHING, Needs
from beholder.interest import ALL_CALLS, LIFECYCLE, SEND_ALL, KernelInterest, Plan, plan, prefix_rows
from beholder.policy import PolicyEngine
from beholder.selfprotect import SelfProtection
from beholder.sources.visibility import EVERYTHING as ALL_VISIBLE
from beholder.sources.visibility import Visibility, parse_visibility

NR = SYSCALL_NUMBERS
NONE = frozenset[Operation]()


def _ksp(name: str, spec: dict[str, Any]) -> dict[str, Any]:
    spec = {"selector": {"matchLabels": {"app": "web"}}, "action": "Audit", **spec}
    meta = {"name": name, "namespace": "shop"}
    kind = {"apiVersion": "security.kubearmor.com/v1", "kind": "KubeArmorPolicy"}
    return {**kind, "metadata": meta, "spec": spec}


def _policies(*objects: dict[str, Any]) -> PolicyEngine:
    engine = PolicyEngine(HostIdentity("node"))
    assert engine.apply_cluster_policies(list(objects)) == []
    return engine


WEB = ContainerInfo("a" * 64, namespace="shop", labels={"app": "web"})
OTHER = ContainerInfo("b" * 64, namespace="shop", labels={"app": "db"})


def test_self_protection_needs_writing_opens_and_tampering_calls_only() -> None:
    needs = SelfProtection(1, []).needs(WEB)
    assert {"kill", "tgkill", "ptrace", "bpf", "unlink", "renameat2", "fchmodat"} <= needs.syscalls
    assert {"open", "openat", "openat2", "creat"} == needs.writes
    assert not needs.syscalls & {"openat", "socket", "connect", "setuid", "mount"}


def test_none_with_self_protection_only_drops_reads_and_keeps_the_lifecycle() -> None:
    p = plan(NONE, SelfProtection(1, []).needs(WEB))
    assert p.telemetry == frozenset()
    assert NR["openat"] in p.evaluate and NR["openat"] in p.writes, "an open is sent only when it can write"
    assert NR["execve"] in p.evaluate and NR["execve"] not in p.writes
    assert NR["socket"] not in p.evaluate and NR["connect"] not in p.evaluate
    assert p.kinds_evaluate == {RecordKind.FORK, RecordKind.EXIT}
    assert RecordKind.CAP not in p.kinds_evaluate | p.kinds_telemetry


def test_full_visibility_sends_everything_as_telemetry_and_nothing_evaluate_only() -> None:
    p = plan(ALL_VISIBLE, SelfProtection(1, []).needs(None))
    assert p.evaluate == frozenset() and p.writes == frozenset()
    assert {NR["openat"], NR["connect"], NR["execve"], NR["mount"]} <= p.telemetry
    assert p.kinds_telemetry == {RecordKind.FORK, RecordKind.EXIT, RecordKind.TCP_STATE, RecordKind.CAP}
    assert p == SEND_ALL


def test_visibility_words_choose_the_telemetry_calls() -> None:
    p = plan(parse_visibility("network"), NOTHING)
    assert NR["connect"] in p.telemetry and NR["write"] in p.telemetry, "DNS over write() is network"
    assert NR["openat"] not in p.telemetry and p.kinds_telemetry == {RecordKind.TCP_STATE}
    assert p.evaluate == frozenset(), "nothing needed for evaluation: no lifecycle either"


@pytest.mark.parametrize(
    ("spec", "whole", "not_sent"),
    [
        ({"process": {"matchPaths": [{"path": "/bin/ls"}]}}, {"execve", "execveat"}, {"openat", "socket"}),
        ({"file": {"matchPaths": [{"path": "/etc/passwd"}]}}, {"openat", "unlinkat", "chdir"}, {"socket"}),
        ({"network": {"matchProtocols": [{"protocol": "raw"}]}}, {"socket"}, {"connect", "openat"}),
        ({"syscalls": {"matchSyscalls": [{"syscall": ["mount"]}]}}, {"mount"}, {"openat", "setuid"}),
    ],
)
def test_a_policy_needs_what_its_rules_judge(spec: dict, whole: set[str], not_sent: set[str]) -> None:
    engine = _policies(_ksp("p", spec))
    p = plan(NONE, engine.needs(WEB))
    assert {NR[n] for n in whole} <= p.evaluate - p.writes
    assert not {NR[n] for n in not_sent} & p.evaluate
    assert engine.needs(OTHER) == NOTHING, "a container no policy selects needs nothing"


def test_an_allow_list_needs_its_whole_class_for_default_posture_alerts() -> None:
    engine = _policies(_ksp("allow", {"action": "Allow", "process": {"matchPaths": [{"path": "/bin/sh"}]}}))
    needs = engine.needs(WEB)
    assert Operation.FILE in needs.operations and {"execve", "execveat"} <= needs.syscalls


def test_capability_rules_need_capability_checks_and_sockets() -> None:
    engine = _policies(_ksp("caps", {"capabilities": {"matchCapabilities": [{"capability": "net_raw"}]}}))
    p = plan(NONE, engine.needs(WEB))
    assert RecordKind.CAP in p.kinds_evaluate and NR["socket"] in p.evaluate


def test_profile_free_rules_need_exec_and_a_few_calls_not_every_socket() -> None:
    engine = ProfileEngine([], enabled={"R1000", "R1002", "R1010", "R0001"})
    needs = engine.needs(WEB)
    assert needs.syscalls == {"execve", "execveat", "init_module", "finit_module", "symlink", "symlinkat"}
    assert engine.needs(None) == NOTHING, "host events are never judged against profiles"


def test_a_loaded_profile_makes_every_enabled_rule_count() -> None:
    from beholder.bob.profile import Profile

    profile = Profile(kind="ApplicationProfile", name="p", namespace="shop")
    engine = ProfileEngine([profile], enabled={"R0001"})
    assert engine.needs(WEB).syscalls == {"execve", "execveat"}
    assert ProfileEngine([], enabled={"R0001"}).needs(WEB) == NOTHING


def test_dns_rules_also_need_the_connects_that_mark_dns_sockets() -> None:
    needs = ProfileEngine([], enabled={"R1008"}).needs(WEB)
    assert {"sendto", "write", "connect", "socket"} <= needs.syscalls


def test_writes_only_opens_become_whole_when_another_consumer_needs_them() -> None:
    needs = SelfProtection(1, []).needs(WEB) | Needs(operations=frozenset({Operation.FILE}))
    p = plan(NONE, needs)
    assert NR["openat"] in p.evaluate and NR["openat"] not in p.writes


def test_an_evaluator_that_cannot_say_gets_everything() -> None:
    maps = FakeMaps()
    interest = KernelInterest(maps, Visibility(NONE, NONE), [SelfProtection(1, []), object()])
    assert interest.needs(WEB) == EVERYTHING
    p = interest.plan_for(WEB)
    assert NR["openat"] in p.evaluate and NR["openat"] not in p.writes and RecordKind.CAP in p.kinds_evaluate


def test_lifecycle_comes_with_any_need() -> None:
    p = plan(NONE, Needs(syscalls=frozenset({"mount"})))
    assert {NR[n] for n in LIFECYCLE.syscalls} <= p.evaluate


class FakeMaps:
    """The kernel maps as dicts."""

    def __init__(self) -> None:
        self.slots: dict[int, bytes] = {}
        self.cgroups: dict[int, int] = {}
        self.prefixes: list[bytes] = []

    def set_slot(self, slot: int, row: Any) -> None:
        self.slots[slot] = ctypes.string_at(ctypes.addressof(row), ctypes.sizeof(row))

    def point(self, cgroup_id: int, slot: int) -> None:
        self.cgroups[cgroup_id] = slot

    def forget(self, cgroup_id: int) -> None:
        del self.cgroups[cgroup_id]

    def set_prefixes(self, rows: list[Any]) -> None:
        self.prefixes = [bytes(row.word).rstrip(b"\0") for row in rows if row.mask[0]]


def test_equal_plans_share_a_slot_and_slot_zero_sends_everything() -> None:
    maps = FakeMaps()
    interest = KernelInterest(maps, Visibility(NONE, ALL_VISIBLE), [SelfProtection(1, [])])
    assert maps.slots[0] == _row_bytes(SEND_ALL)
    interest.classify([(11, WEB), (12, OTHER), (13, None)])
    assert maps.cgroups[11] == maps.cgroups[12] != maps.cgroups[13]
    assert maps.slots[maps.cgroups[11]] == _row_bytes(interest.plan_for(WEB))
    assert maps.cgroups[13] == 0, "the fully visible host's plan is slot 0's"


def test_refresh_repoints_a_flipped_namespace_and_frees_its_old_slot() -> None:
    maps = FakeMaps()
    visibility = Visibility(NONE, NONE)
    interest = KernelInterest(maps, visibility, [SelfProtection(1, [])])
    interest.classify([(11, WEB), (13, None)])
    quiet = maps.cgroups[11]
    assert maps.cgroups[13] == quiet, "host and container with the same plan share a slot"
    visibility.set_namespaces({"shop": {"kubearmor-visibility": "file"}})
    interest.refresh()
    assert maps.cgroups[11] != quiet and maps.cgroups[13] == quiet
    assert NR["openat"] in interest.plan_for(WEB).telemetry
    visibility.set_namespaces({})
    interest.refresh()
    assert maps.cgroups[11] == quiet
    assert interest.report() == {"cgroups": 2, "slots": 2, "slots_full": 0}, "the flipped slot was freed"


def test_when_slots_run_out_a_cgroup_gets_slot_zero() -> None:
    maps = FakeMaps()
    interest = KernelInterest(maps, Visibility(NONE, NONE), [])
    calls = sorted(ALL_CALLS.syscalls - LIFECYCLE.syscalls)
    many = [
        Needs(syscalls=frozenset(pair)) for pair in itertools.islice(itertools.combinations(calls, 2), 300)
    ]
    for index, needs in enumerate(many):
        interest.needs = lambda _c, n=needs: n  # type: ignore[method-assign]
        interest.classify([(index + 100, WEB)])
    assert interest.slots_full > 0 and 0 in set(maps.cgroups.values())


def _row_bytes(p: Plan) -> bytes:
    row = p.row()
    return ctypes.string_at(ctypes.addressof(row), ctypes.sizeof(row))


def test_profile_free_open_rules_need_only_their_paths() -> None:
    needs = ProfileEngine([], enabled={"R0010"}).needs(WEB)
    assert "openat" not in needs.syscalls and "/etc/shadow" in needs.prefixes
    p = plan(NONE, needs)
    assert NR["openat"] in p.evaluate and NR["openat"] in p.paths and NR["openat"] not in p.writes
    assert "/host-etc/" in p.prefixes


def test_paths_and_writes_combine_and_a_whole_need_wins() -> None:
    partial = ProfileEngine([], enabled={"R0010"}).needs(WEB) | SelfProtection(1, []).needs(WEB)
    p = plan(NONE, partial)
    assert NR["openat"] in p.paths and NR["openat"] in p.writes, "a writing open, or one under a prefix"
    whole = plan(NONE, partial | Needs(operations=frozenset({Operation.FILE})))
    assert NR["openat"] not in whole.paths | whole.writes and whole.prefixes == frozenset()


def test_the_kernel_prefix_table_is_every_plans_prefixes_and_shrinks_when_unused() -> None:
    maps = FakeMaps()
    visibility = Visibility(NONE, NONE)
    interest = KernelInterest(maps, visibility, [ProfileEngine([], enabled={"R0010"})])
    assert maps.prefixes == []
    interest.classify([(11, WEB)])
    assert b"/etc/shadow" in maps.prefixes and b"/host-etc/" in maps.prefixes
    visibility.set_namespaces({"shop": {"kubearmor-visibility": "file"}})
    interest.refresh()
    assert maps.prefixes == [], "opens are telemetry now: no prefix is needed"


def test_prefix_rows_cut_long_prefixes_and_fall_back_to_slash_when_too_many() -> None:
    rows = prefix_rows(frozenset({"/" + "x" * 100}))
    assert bytes(rows[0].word) == b"/" + b"x" * 63 and all(rows[0].mask)
    many = prefix_rows(frozenset(f"/p{i}/" for i in range(PREFIXES + 1)))
    assert bytes(many[0].word).rstrip(b"\0") == b"/" and many[0].mask[0] == 0xFF and not many[1].mask[0]


def test_the_oldest_cgroup_is_forgotten_in_the_kernel_too_past_the_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("beholder.interest.CGROUP_LIMIT", 3)
    maps = FakeMaps()
    interest = KernelInterest(maps, Visibility(NONE, NONE), [SelfProtection(1, [])])
    interest.classify([(1, WEB), (2, WEB), (3, None), (4, OTHER)])
    assert sorted(maps.cgroups) == [2, 3, 4] and interest.report()["cgroups"] == 3
