"""Pod JSON → the records the cache indexes: ids, runtimes, images, digests, all container kinds."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from beholder.enrich.k8s.pod import image_digest, normalize_pod_uid, pod_records, split_container_id
from tests.k8s.fakeapi import load_fixture

NGINX = "c842e7e9efb61e3cc052505d39c50d0e0ae82d6b04405ac03322df3549cdf6e0"


def _pod(name: str) -> dict:
    return next(p for p in load_fixture("podlist.json")["items"] if p["metadata"]["name"] == name)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (f"containerd://{NGINX}", ("containerd", NGINX)),
        (f"cri-o://{NGINX}", ("cri-o", NGINX)),
        (f"docker://{NGINX}", ("docker", NGINX)),
        (NGINX, ("", NGINX)),
        (NGINX.upper(), ("", NGINX)),
        ("", ("", "")),
    ],
)
def test_container_id_scheme_is_split_off_as_runtime(raw: str, expected: tuple[str, str]) -> None:
    assert split_container_id(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("docker.io/library/nginx@sha256:abc", "sha256:abc"),
        ("docker-pullable://fluent/fluentd@sha256:def", "sha256:def"),
        ("sha256:123", "sha256:123"),
        ("", ""),
    ],
)
def test_image_digest_is_extracted_whatever_the_runtime_wraps_it_in(raw: str, expected: str) -> None:
    assert image_digest(raw) == expected


def test_systemd_slice_pod_uid_matches_api_uid() -> None:
    assert normalize_pod_uid("5B2C1D7E_3F4A_4E8B_9C1D_2A3B4C5D6E7F") == "5b2c1d7e-3f4a-4e8b-9c1d-2a3b4c5d6e7f"


@pytest.mark.parametrize(
    ("pod", "name", "runtime", "image", "digest_prefix"),
    [
        (
            "web-7d9c6b5f8d-x2lqp",
            "init-config",
            "containerd",
            "docker.io/library/busybox:1.36",
            "sha256:4bdd",
        ),
        ("web-7d9c6b5f8d-x2lqp", "nginx", "containerd", "docker.io/library/nginx:1.27", "sha256:ca7c"),
        ("web-7d9c6b5f8d-x2lqp", "log-shipper", "containerd", "ghcr.io/example/shipper:2.4.1", "sha256:aaa0"),
        (
            "web-7d9c6b5f8d-x2lqp",
            "debugger-k7w2q",
            "containerd",
            "docker.io/library/busybox:1.36",
            "sha256:4bdd",
        ),
        ("redis-0", "redis", "cri-o", "docker.io/library/redis:7.4", "sha256:2be8"),
        ("fluentd-k8x7q", "fluentd", "docker", "fluent/fluentd:v1.17", "sha256:ec7f"),
    ],
)
def test_every_container_kind_gets_a_record_with_runtime_image_and_digest(
    pod: str, name: str, runtime: str, image: str, digest_prefix: str
) -> None:
    _, records = pod_records(_pod(pod))
    record = next(r for r in records if r.name == name)
    assert len(record.container_id) == 64
    assert (record.runtime, record.image) == (runtime, image)
    assert record.image_id.startswith(digest_prefix)


def test_records_carry_pod_identity_labels_and_service_account() -> None:
    base, records = pod_records(_pod("web-7d9c6b5f8d-x2lqp"))
    assert {r.name for r in records} == {"init-config", "nginx", "log-shipper", "debugger-k7w2q"}
    for record in (base, *records):
        assert record.pod_name == "web-7d9c6b5f8d-x2lqp"
        assert record.namespace == "shop"
        assert record.pod_uid == "5b2c1d7e-3f4a-4e8b-9c1d-2a3b4c5d6e7f"
        assert record.labels["tier"] == "frontend"
        assert record.service_account == "web"
        assert (record.workload_kind, record.workload_name) == ("Deployment", "web")
    assert base.container_id == ""


def test_starting_pod_has_only_the_pod_record_naming_its_single_container() -> None:
    pod = _pod("redis-0")
    pod["status"]["containerStatuses"][0].pop("containerID")
    base, records = pod_records(pod)
    assert records == []
    assert (base.name, base.image) == ("redis", "redis:7.4")


def test_multi_container_pod_record_does_not_guess_a_container() -> None:
    base, _ = pod_records(_pod("web-7d9c6b5f8d-x2lqp"))
    assert (base.name, base.image) == ("", "")


def test_status_without_image_falls_back_to_spec_image() -> None:
    pod = _pod("redis-0")
    del pod["status"]["containerStatuses"][0]["image"]
    _, records = pod_records(pod)
    assert records[0].image == "redis:7.4"


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=30,
)
POD_KEYS = st.sampled_from(
    [
        "metadata",
        "spec",
        "status",
        "uid",
        "name",
        "labels",
        "ownerReferences",
        "containers",
        "containerStatuses",
        "initContainerStatuses",
        "containerID",
        "image",
        "imageID",
        "kind",
    ]
)
POD_LIKE = st.recursive(
    JSON,
    lambda inner: st.dictionaries(POD_KEYS, inner, max_size=5) | st.lists(inner, max_size=3),
    max_leaves=40,
)


@settings(max_examples=300, deadline=None)
@given(POD_LIKE)
def test_malformed_pod_objects_never_raise(obj: object) -> None:
    if not isinstance(obj, dict):
        obj = {"metadata": obj}
    base, records = pod_records(obj)
    assert all(r.pod_uid == base.pod_uid for r in records)


def test_a_containers_command_and_exec_hooks_are_its_declared_execs() -> None:
    cid = "ab" * 32
    pod = {
        "metadata": {"uid": "u1", "name": "db", "namespace": "shop"},
        "spec": {
            "containers": [
                {
                    "name": "pg",
                    "command": ["/usr/local/bin/docker-entrypoint.sh"],
                    "args": ["postgres", "-c", "fsync=off"],
                    "lifecycle": {
                        "postStart": {"exec": {"command": ["/bin/sh", "-c", "echo up"]}},
                        "preStop": {"exec": {"command": ["/usr/bin/pg_ctl", "stop"]}},
                    },
                },
                {"name": "sidecar", "args": ["--port", "9187"]},  # the image's ENTRYPOINT: unknown here
            ]
        },
        "status": {
            "containerStatuses": [
                {"name": "pg", "containerID": f"containerd://{cid}"},
                {"name": "sidecar", "containerID": f"containerd://{'cd' * 32}"},
            ]
        },
    }
    _, (pg, sidecar) = pod_records(pod)
    assert pg.declared_execs == (
        ("/usr/local/bin/docker-entrypoint.sh", "postgres", "-c", "fsync=off"),
        ("/bin/sh", "-c", "echo up"),
        ("/usr/bin/pg_ctl", "stop"),
    )
    assert sidecar.declared_execs == ()
