"""Which workload a pod belongs to, from its own metadata only.

Users name workloads ("the payments Deployment"), not ReplicaSets or Jobs. Walking the
owner chain through the API would need get rights on replicasets and jobs and one request
per new owner; the controllers' naming conventions give the same answer from the pod:

- a Deployment's ReplicaSet is `<deployment>-<pod-template-hash>` and its pods carry the
  `pod-template-hash` label with that suffix;
- a CronJob's Job is `<cronjob>-<scheduled time in minutes since the epoch>`.

When the convention does not hold (a hand-made ReplicaSet or Job) the direct owner is the
workload. Bare pods have no workload.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

TEMPLATE_HASH_LABEL = "pod-template-hash"
# CronJob suffixes are minutes since 1970; accept 2015-01-01 … 2100-01-01 so that a Job
# named like "backup-2024" or "batch-7" is not mistaken for a CronJob's child.
_CRON_MINUTES = range(23_667_840, 68_377_680)


def workload_of(meta: Mapping[str, Any]) -> tuple[str, str]:
    """(kind, name) of the pod's top-level controller, or ("", "") for a bare pod."""
    owner = _controller(meta.get("ownerReferences"))
    if owner is None:
        return "", ""
    kind, name = owner
    if kind == "ReplicaSet":
        labels = meta.get("labels")
        template_hash = labels.get(TEMPLATE_HASH_LABEL, "") if isinstance(labels, Mapping) else ""
        prefix, sep, suffix = name.rpartition("-")
        if sep and prefix and isinstance(template_hash, str) and suffix == template_hash:
            return "Deployment", prefix
    elif kind == "Job":
        prefix, sep, suffix = name.rpartition("-")
        if sep and prefix and _is_cron_minute(suffix):
            return "CronJob", prefix
    return kind, name


def _controller(refs: object) -> tuple[str, str] | None:
    """The owner marked `controller: true`, else the first owner; None without owners."""
    if not isinstance(refs, list):
        return None
    owners = [
        r
        for r in refs
        if isinstance(r, Mapping) and isinstance(r.get("kind"), str) and isinstance(r.get("name"), str)
    ]
    if not owners:
        return None
    chosen = next((r for r in owners if r.get("controller") is True), owners[0])
    return chosen["kind"], chosen["name"]


def _is_cron_minute(suffix: str) -> bool:
    return 0 < len(suffix) <= 8 and suffix.isascii() and suffix.isdigit() and int(suffix) in _CRON_MINUTES
