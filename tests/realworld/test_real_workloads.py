"""Bill of Behaviour on real servers: the bobctl suites against Debian's PostgreSQL and MariaDB.

For each suite, as a user would (workflow.py): learn the functional suite live over
LEARN_ROUNDS fresh pods, merge, bind the merged profiles in `beholder run`, then in
REPEATS fresh pods replay the functional suite (must raise nothing) and run every attack
(must raise its `expectedDetections`). The figures per suite and repeat are printed and
written to `realworld-report.txt` in the test's directory.

Where a suite's expectation is its own error or rests on a fork's rule semantics, the
table NOTES says so per attack and names what is checked instead. Nothing is weakened
silently: every other attack must raise exactly what its suite expects, and an expected
`command` must be the alerting process or, for an exec, the program it executed (a refused
exec leaves the caller's name on the process).

An attack's own success indicators are reported, not asserted: they describe the suite's
cluster (MariaDB's `Query OK` never prints in `mariadb -e` batch mode; `/dev/shm` is
noexec under containerd, as here, so its drifted-binary exec is refused and judged as an
attempt), not what Beholder must see.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import require
from realworld import pods, workflow
from realworld.suites import Outcome, load
from support.kernel import kernel_ready

pytestmark = [pytest.mark.kernel, pytest.mark.timeout(900)]  # the workflow runs in the first test

LEARN_ROUNDS = 2
REPEATS = 3
SUITES = ("postgres", "mariadb")

_FORK_R0005 = (
    "fork semantics: their R0005 also fires on egress to an address the profile lacks; "
    "upstream node-agent raises R0011 (Unexpected Egress Network Traffic) for a public address"
)
# (suite, attack) -> (why the expectation is not checked as written, the rule ids checked instead)
NOTES: dict[tuple[str, str], tuple[str, tuple[str, ...]]] = {
    **{
        ("postgres", name): (_FORK_R0005, ("R0011",))
        for name in (
            "endpoint-tcp-cloudflare-dns",
            "endpoint-devtcp-google-dns",
            "endpoint-tcp-public-https",
            "endpoint-tcp-quad9-dns",
            "endpoint-perl-socket-external",
        )
    },
    ("postgres", "endpoint-cloud-metadata"): (
        f"{_FORK_R0005}; 169.254.169.254 is link-local, private to R0011, so Beholder raises its own "
        "cloud-metadata rule",
        ("BH-METADATA",),
    ),
}


Detection = tuple[str, str]  # rule id, process name ("" when the suite names none)


def expectation(suite: str, attack: str, expected: tuple[Detection, ...]) -> set[Detection]:
    note = NOTES.get((suite, attack))
    return {(rule, "") for rule in note[1]} if note else set(expected)


def met(wanted: set[Detection], raised: set[Detection]) -> set[Detection]:
    """The wanted detections among the raised ones (a wanted name of "" matches any process)."""
    return {(rule, comm) for rule, comm in wanted if any(r == rule and comm in ("", c) for r, c in raised)}


Run = tuple[str, list[workflow.Repeat]]


def whole_workflow(suite: str, workdir: Path) -> list[workflow.Repeat]:
    ok, why = kernel_ready()
    require(ok, why)
    pod = pods.PODS[suite]
    profiles, rounds = workflow.learn(pod, workdir, LEARN_ROUNDS)
    for outcomes in rounds:
        assert [o.step.name for o in outcomes if not o.succeeded] == [], "functional suite failed in learning"
    runs = workflow.detect(pod, workdir, profiles, REPEATS)
    report(suite, runs, workdir / "realworld-report.txt")
    return runs


@pytest.fixture(scope="module")
def postgres_run(tmp_path_factory: pytest.TempPathFactory) -> list[workflow.Repeat]:
    return whole_workflow("postgres", tmp_path_factory.mktemp("realworld-postgres"))


@pytest.fixture(scope="module")
def mariadb_run(tmp_path_factory: pytest.TempPathFactory) -> list[workflow.Repeat]:
    return whole_workflow("mariadb", tmp_path_factory.mktemp("realworld-mariadb"))


@pytest.fixture
def suite_run(request: pytest.FixtureRequest) -> Run:
    """The suite named by the test's indirect parameter, its workflow run once per module."""
    return request.param, request.getfixturevalue(f"{request.param}_run")


def report(suite: str, runs: list[workflow.Repeat], path: Path) -> None:
    lines = []
    for i, r in enumerate(runs):
        want = [(o, expectation(suite, o.step.name, o.step.expected)) for o in r.attacks]
        got = sum(len(met(w, r.raised(o))) for o, w in want)
        total = sum(len(w) for _, w in want)
        benign = len(r.benign_alerts())
        landed = sum(o.succeeded for o in r.attacks)
        lines.append(
            f"{suite} repeat {i + 1}: expected raised {got}/{total}, benign alerts {benign}, "
            f"attacks that met their own success indicators {landed}/{len(r.attacks)}"
        )
    path.write_text("\n".join(lines) + "\n")
    print("\n" + "\n".join(lines))


@pytest.mark.parametrize("suite_run", SUITES, indirect=True)
def test_the_functional_replay_succeeds_and_raises_nothing(suite_run: Run) -> None:
    _, runs = suite_run
    assert runs and all(r.functional for r in runs)  # a replay that ran no step is no success
    for r in runs:
        assert [o.step.name for o in r.functional if not o.succeeded] == []
        assert [(a["RuleID"], a["message"]) for a in r.benign_alerts()] == []


def attack_cases() -> list[object]:
    cases = []
    for suite in SUITES:
        for step in load(suite, "attacks"):
            cases.append(pytest.param(suite, step.name, id=f"{suite}-{step.name}"))
    return cases


@pytest.mark.parametrize(("suite_run", "attack"), attack_cases(), indirect=["suite_run"])
def test_every_attack_raises_its_expected_detections_in_every_repeat(suite_run: Run, attack: str) -> None:
    suite, runs = suite_run
    for r in runs:
        outcome: Outcome = next(o for o in r.attacks if o.step.name == attack)
        wanted = expectation(suite, attack, outcome.step.expected)
        raised = r.raised(outcome)
        assert met(wanted, raised) == wanted, (sorted(raised), outcome.output[-500:])


# Beyond the suites (they leave these to "cluster config"): what Beholder itself must raise on
# the same attacks. (suite, attack) -> (rule id, process name)
BEYOND: dict[tuple[str, str], Detection] = {
    # a binary copied into the container's overlay and run: its upper layer holds it (R1001)
    ("postgres", "exec-drifted-binary"): ("R1001", "drifted_pg"),
}


@pytest.mark.parametrize(
    ("suite_run", "attack"), [(s, a) for s, a in BEYOND], indirect=["suite_run"], ids=[a for _, a in BEYOND]
)
def test_beyond_the_suite_drift_is_raised_in_every_repeat(suite_run: Run, attack: str) -> None:
    suite, runs = suite_run
    wanted = {BEYOND[(suite, attack)]}
    for r in runs:
        outcome: Outcome = next(o for o in r.attacks if o.step.name == attack)
        raised = r.raised(outcome)
        assert met(wanted, raised) == wanted, (sorted(raised), outcome.output[-500:])


@pytest.mark.parametrize("suite_run", SUITES, indirect=True)
def test_r0003_alerts_name_the_process_that_made_the_call(suite_run: Run) -> None:
    _, runs = suite_run
    trees = [
        a["RuntimeProcessDetails"]["processTree"] for r in runs for a in r.alerts if a["RuleID"] == "R0003"
    ]
    assert trees, "the attacks raised no R0003 to check"
    named = sum(bool(t.get("comm") or t.get("childrenMap")) for t in trees)
    print(f"\nR0003: {len(trees)} alerts, {named} with the caller's name and tree")
    assert [t for t in trees if not t["pid"]] == [], "an R0003 alert with pid 0"
