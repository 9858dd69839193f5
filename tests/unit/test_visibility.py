"""Which events leave as telemetry: pod annotation over namespace annotation over default."""

from __future__ import annotations

import pytest

from beholder.enrich.k8s.pod import pod_records
from beholder.events.model import Operation
from beholder.sources.visibility import (
    EVERYTHING,
    Visibility,
    VisibilityError,
    describe,
    parse_visibility,
)
from tests.policy.conftest import Events, container

EV = Events()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("process,file,network,capabilities", EVERYTHING),
        ("none", frozenset()),
        ("", frozenset()),
        (" Process , network ", frozenset({Operation.PROCESS, Operation.SYSCALL, Operation.NETWORK})),
    ],
)
def test_visibility_values_as_kubearmor_spells_them(text: str, expected: frozenset) -> None:
    assert parse_visibility(text) == expected


def test_an_unknown_word_is_an_error_naming_it() -> None:
    with pytest.raises(VisibilityError, match="'syscalls'"):
        parse_visibility("process,syscalls")


def _shown(visibility: Visibility, ctr) -> set[str]:
    events = [
        EV.exec("/bin/cat", ctr=ctr),
        EV.open("/etc/hosts", ctr=ctr),
        EV.socket("SOCK_STREAM", 6, "/bin/nc", ctr),
    ]
    return {e.operation.value for e in visibility.telemetry(events)}


def test_pod_annotation_wins_over_namespace_and_an_invalid_one_is_ignored() -> None:
    visibility = Visibility(host=frozenset())
    visibility.set_namespaces({"shop": {"kubearmor-visibility": "none"}})
    plain = container("web", "shop")
    annotated = container("api", "shop")
    annotated.annotations = {"kubearmor-visibility": "file"}
    broken = container("db", "shop")
    broken.annotations = {"kubearmor-visibility": "files"}
    assert _shown(visibility, plain) == set()
    assert _shown(visibility, annotated) == {"File"}
    assert _shown(visibility, broken) == set()  # falls back to the namespace's none
    assert _shown(visibility, None) == set()  # the host: hostVisibility none
    assert _shown(visibility, container("x", "other")) == {"Process", "File", "Network"}
    assert describe(visibility.of("shop")) == "none"


def test_pod_records_keep_only_kubearmor_annotations() -> None:
    pod = {
        "metadata": {
            "uid": "u-1",
            "name": "web-1",
            "namespace": "shop",
            "annotations": {
                "kubearmor-visibility": "process",
                "kubectl.kubernetes.io/last-applied-configuration": "{}",
            },
        },
        "spec": {"containers": [{"name": "web", "image": "nginx"}]},
    }
    base, _ = pod_records(pod)
    assert dict(base.annotations) == {"kubearmor-visibility": "process"}
