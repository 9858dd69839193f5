"""Turn one Pod object (API JSON, as a dict) into the records the cache indexes.

The watcher works on raw JSON dicts rather than the client's generated models: they are
cheaper to build and a malformed field only costs that field. Every accessor here expects
garbage (wrong types, missing keys) and degrades to an empty value instead of raising, so
one bad pod never stops the watch.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from beholder.enrich.k8s.workload import workload_of

# containerStatuses[].containerID is "<runtime>://<64 hex>"; the cgroup path carries only
# the hex part, so the scheme is split off and kept as the runtime name.
RUNTIME_SCHEMES = ("containerd", "cri-o", "docker")
# Prefixes kubelet puts in front of imageID that are not part of the digest reference.
_IMAGE_ID_SCHEMES = ("docker-pullable://", "docker://")
_STATUS_LISTS = ("initContainerStatuses", "containerStatuses", "ephemeralContainerStatuses")
_SPEC_LISTS = ("initContainers", "containers", "ephemeralContainers")
_KUBEARMOR = "kubearmor-"  # annotation prefix kept: the pod's visibility (the rest is not read)


@dataclass(frozen=True, slots=True)
class PodContainer:
    """What Kubernetes knows about one container (or, with an empty id, about its pod)."""

    container_id: str
    pod_uid: str
    pod_name: str
    namespace: str
    runtime: str = ""
    name: str = ""
    image: str = ""
    image_id: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)  # kubearmor-* only (visibility)
    workload_kind: str = ""
    workload_name: str = ""
    service_account: str = ""
    declared_execs: tuple[tuple[str, ...], ...] = ()  # see declared_execs()


def declared_execs(container: Mapping[str, Any]) -> tuple[tuple[str, ...], ...]:
    """The argv vectors a container's spec declares, as node-agent's pod-spec fallback reads
    them: its startup command (`command` + `args`, only when `command` is set: otherwise the
    image's ENTRYPOINT runs, which the spec does not show) and its exec lifecycle hooks."""
    out = []
    command = [_str(x) for x in container.get("command") or () if isinstance(x, (str, int))]
    if command:
        out.append((*command, *(_str(x) for x in container.get("args") or () if isinstance(x, (str, int)))))
    lifecycle = _dict(container.get("lifecycle"))
    for hook in ("postStart", "preStop"):
        argv = _dict(_dict(lifecycle.get(hook)).get("exec")).get("command") or ()
        if argv:
            out.append(tuple(_str(x) for x in argv if isinstance(x, (str, int))))
    return tuple(out)


def split_container_id(raw: str) -> tuple[str, str]:
    """`containerd://abc…` → ("containerd", "abc…"); a bare id keeps an empty runtime."""
    scheme, sep, rest = raw.partition("://")
    if not sep:
        return "", raw.strip().lower()
    return scheme.lower(), rest.strip().lower()


def normalize_pod_uid(raw: str) -> str:
    """Pod UIDs appear with `_` instead of `-` in systemd cgroup slice names."""
    return raw.strip().lower().replace("_", "-")


def image_digest(image_id: str) -> str:
    """The `sha256:…` digest out of imageID, whatever the runtime wrapped around it."""
    for scheme in _IMAGE_ID_SCHEMES:
        if image_id.startswith(scheme):
            image_id = image_id[len(scheme) :]
            break
    return image_id.rpartition("@")[2]


def pod_records(pod: Mapping[str, Any]) -> tuple[PodContainer, list[PodContainer]]:
    """The pod-level record and one record per container that already has an id.

    The pod-level record has no container id. It serves events whose cgroup names the pod
    but whose container id kubelet has not reported yet; when the pod runs a single
    container its name and image are known from the spec, so it carries them. An object
    without a UID yields an empty `pod_uid`; the cache skips (and counts) it.
    """
    meta = _dict(pod.get("metadata"))
    spec = _dict(pod.get("spec"))
    labels = {str(k): str(v) for k, v in _dict(meta.get("labels")).items()}
    notes = {
        str(k): str(v) for k, v in _dict(meta.get("annotations")).items() if str(k).startswith(_KUBEARMOR)
    }
    kind, name = workload_of(meta)
    base = PodContainer(
        container_id="",
        pod_uid=normalize_pod_uid(_str(meta.get("uid"))),
        pod_name=_str(meta.get("name")),
        namespace=_str(meta.get("namespace")),
        labels=labels,
        annotations=notes,
        workload_kind=kind,
        workload_name=name,
        service_account=_str(spec.get("serviceAccountName")) or _str(spec.get("serviceAccount")),
    )
    spec_images = {
        _str(c.get("name")): _str(c.get("image")) for key in _SPEC_LISTS for c in _dicts(spec.get(key))
    }
    spec_execs = {
        _str(c.get("name")): declared_execs(c) for key in _SPEC_LISTS for c in _dicts(spec.get(key))
    }
    containers = _dicts(spec.get("containers"))
    if len(containers) == 1:
        only = containers[0]
        base = replace(base, name=_str(only.get("name")), image=_str(only.get("image")))
    status = _dict(pod.get("status"))
    records = []
    for key in _STATUS_LISTS:
        for cs in _dicts(status.get(key)):
            runtime, cid = split_container_id(_str(cs.get("containerID")))
            if not cid:
                continue
            cname = _str(cs.get("name"))
            records.append(
                replace(
                    base,
                    container_id=cid,
                    runtime=runtime,
                    name=cname,
                    image=_str(cs.get("image")) or spec_images.get(cname, ""),
                    image_id=image_digest(_str(cs.get("imageID"))),
                    declared_execs=spec_execs.get(cname, ()),
                )
            )
    return base, records


def _dict(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _dicts(value: object) -> list[Mapping[str, Any]]:
    return [v for v in value if isinstance(v, Mapping)] if isinstance(value, list) else []


def _str(value: object) -> str:
    return value if isinstance(value, str) else ""
