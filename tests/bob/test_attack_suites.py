"""The AttackSuites replayed at unit level against the profiles they were written for.

Each attack command becomes the events a shell would make the sensors report (see
`bob/shell.py` for the mapping); a fresh engine judges each attack, with every rule of
the catalogue switched on (the suites' node-agent ran R0011 too). The functional
(benign) suites replay the profiled start-up of the workload plus what each request
makes the server do, and must raise nothing. The real-kernel replay in runc containers
feeds the same suites through `ShellModel`'s commands instead of its events.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from beholder.bob.engine import ProfileEngine
from beholder.bob.profile import Profile, load_file
from beholder.bob.rules import ALL_SPECS
from beholder.enrich.mounts import ContainerMounts
from beholder.events.model import ContainerInfo, Event
from bob import builders
from bob.shell import Image, ShellModel
from conftest import REFERENCE, require

KUBESCAPE = REFERENCE / "kubescape"
SUITES_DIR = KUBESCAPE / "attack-suites"
API_SERVER = "10.43.0.1"
ALL_RULES = {s.id for s in ALL_SPECS}
DEBIAN = Image(busybox=False, shell_exe="/usr/bin/dash", cwd="/home/argocd")
ALPINE = Image(busybox=True, shell_exe="/bin/busybox", cwd="/")


@dataclass(frozen=True)
class Suite:
    name: str  # suite file prefix = container app label
    image: Image
    mounts: tuple[str, ...] = ("/dev/shm",)


SUITES = [
    Suite("argocd-application-controller", DEBIAN, ("/dev/shm", "/home/argocd")),
    Suite("argocd-applicationset-controller", DEBIAN),
    Suite("argocd-dex-server", ALPINE),
    Suite("argocd-notifications-controller", DEBIAN),
    Suite("argocd-redis", ALPINE, ("/dev/shm", "/data")),
    Suite("argocd-repo-server", DEBIAN),
    Suite("argocd-server", DEBIAN),
]

# Expected detections we do not raise, and why (pinned so a change is noticed).
R1000_TMP = (
    "R1000 in Kubescape's catalogue means /dev/shm (or cwd there); the suite's build fired it for /tmp"
)
KNOWN_MISSES = {
    "argocd-applicationset-controller": {("drifted-binary-exec", "R1000"): R1000_TMP},
    "argocd-dex-server": {("drifted-binary-exec", "R1000"): R1000_TMP},
    "argocd-repo-server": {("drifted-binary-exec", "R1000"): R1000_TMP},
    "argocd-server": {("drifted-binary-exec", "R1000"): R1000_TMP},
    "argocd-redis": {
        (
            "sa-token-read",
            "R0006",
        ): "the redis profile opens /run/secrets/kubernetes.io/serviceaccount/⋯/token, "
        "so Kubescape's `was_path_opened_with_suffix('/token')` holds"
    },
}
# Measured per suite: (expected detections raised, expected detections, benign alerts).
RESULTS = {
    "argocd-application-controller": (11, 11, 0),
    "argocd-applicationset-controller": (10, 11, 0),
    "argocd-dex-server": (9, 10, None),
    "argocd-notifications-controller": (10, 10, 0),
    "argocd-redis": (9, 10, 0),
    "argocd-repo-server": (12, 13, 0),
    "argocd-server": (15, 16, 0),
}


def load_suite(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text())


def profile_for(suite: Suite) -> Profile:
    (profile,) = load_file(KUBESCAPE / "profiles" / f"argocd__cp-{suite.name}.yaml")
    return profile


def container_for(suite: Suite) -> ContainerInfo:
    name = suite.name.removeprefix("argocd-")
    return ContainerInfo(
        f"{abs(hash(suite.name)):x}",
        name=name,
        namespace="argocd",
        labels={"app.kubernetes.io/name": suite.name},
    )


def new_engine(suite: Suite) -> ProfileEngine:
    return ProfileEngine(
        [profile_for(suite)],
        enabled=ALL_RULES,
        api_servers=[API_SERVER],
        mounts=lambda c, pid: ContainerMounts(mount_points=suite.mounts),
    )


def attack_hits(suite: Suite) -> tuple[int, int, dict[tuple[str, str], str], list[str]]:
    """(raised, expected, misses, rule ids of every alert) over the suite's attacks."""
    doc = load_suite(SUITES_DIR / f"{suite.name}-attacks.yaml")
    c = container_for(suite)
    raised, expected, misses, every = 0, 0, {}, []
    for attack in doc["attacks"]:
        events = ShellModel(c, suite.image, API_SERVER).run(attack["exec"]["command"])
        fired = {a.rule_id for a in new_engine(suite).evaluate(events)}
        every += sorted(fired)
        for detection in attack.get("expectedDetections") or []:
            expected += 1
            if detection["ruleID"] in fired:
                raised += 1
            else:
                misses[(attack["name"], detection["ruleID"])] = "missed"
    return raised, expected, misses, every


def startup_events(c: ContainerInfo, profile: Profile) -> list[Event]:
    """The workload doing what its profile says it does: execs, opens, capabilities."""
    (behaviour,) = profile.containers
    events = []
    for e in behaviour.execs:
        argv = tuple("x" if a == "⋯" else a for a in e.args if a not in ("⋯⋯", "*")) or (e.path,)
        script = argv[0] if argv[0].startswith("/") else e.path
        events.append(builders.exec_event(c, script, argv, exe=e.path, parent_exe="/usr/bin/runc"))
    server = events[-1].process
    for o in behaviour.opens:
        path = "/".join("1" if s == "⋯" else "x" if s == "*" else s for s in o.path.split("/"))
        events.append(builders.open_event(c, path, "|".join(o.flags), server))
    events += [builders.capability_event(c, cap, server) for cap in sorted(behaviour.capabilities)]
    return events


def request_events(c: ContainerInfo, test: dict[str, Any], server) -> list[Event]:
    """What serving one functional request makes the server process do."""
    http = test.get("http") or {}
    events = []
    if http.get("path") == "/metrics":  # the Go process collector reads its own procfs files
        events += [
            builders.open_event(c, f"/proc/self/{f}", "O_RDONLY|O_CLOEXEC", server)
            for f in ("stat", "limits")
        ]
    if "Authorization" in (http.get("headers") or {}):  # an authenticated API call goes to the kube API
        token = "/run/secrets/kubernetes.io/serviceaccount/..2026_11_23_11_00_00.123456789/token"
        events.append(builders.open_event(c, token, "O_RDONLY|O_CLOEXEC", server))
        events.append(builders.connect_event(c, API_SERVER, 443, server, retval=-115))
    return events * int(http.get("repeat", 1))


def benign_alerts(suite: Suite) -> int | None:
    path = SUITES_DIR / f"{suite.name}-functional-tests.yaml"
    if not path.is_file():
        return None
    c = container_for(suite)
    engine = new_engine(suite)
    events = startup_events(c, profile_for(suite))
    server = events[len(profile_for(suite).containers[0].execs) - 1].process
    for test in load_suite(path)["tests"]:
        events += request_events(c, test, server)
    return len(engine.evaluate(events))


@pytest.mark.parametrize("suite", SUITES, ids=[s.name for s in SUITES])
def test_attack_suite_raises_every_expected_detection_but_the_documented_ones(suite: Suite) -> None:
    require(SUITES_DIR.is_dir(), f"{SUITES_DIR} missing")
    raised, expected, misses, _ = attack_hits(suite)
    assert set(misses) == set(KNOWN_MISSES.get(suite.name, {}))
    assert (raised, expected) == RESULTS[suite.name][:2]


@pytest.mark.parametrize("suite", SUITES, ids=[s.name for s in SUITES])
def test_functional_suite_raises_no_alert(suite: Suite) -> None:
    require(SUITES_DIR.is_dir(), f"{SUITES_DIR} missing")
    assert benign_alerts(suite) == RESULTS[suite.name][2]


def test_every_suite_file_is_covered() -> None:
    require(SUITES_DIR.is_dir(), f"{SUITES_DIR} missing")
    names = {p.name.removesuffix("-attacks.yaml") for p in SUITES_DIR.glob("*-attacks.yaml")}
    assert names == {s.name for s in SUITES}
    for path in SUITES_DIR.glob("*.yaml"):
        doc = load_suite(path)
        assert doc["kind"] in ("AttackSuite", "FunctionalTestSuite")
        assert doc["target"]["service"]
