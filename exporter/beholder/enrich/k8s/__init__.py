"""Kubernetes enrichment: which pod, namespace, workload and image a container belongs to.

`PodWatcher.from_environment(...)` builds a watcher for the cluster the flags or the
environment point at (or a disabled one on a plain host); `start()` runs the list+watch
loop in its own thread and `watcher.cache` (a `PodCache`) answers the pipeline's
`lookup(container_id, pod_uid)` without ever touching the network. The simplest wiring is
`ContainerRegistry.on_new.append(watcher.cache.attach)`: each new `ContainerInfo` is filled
at once if its pod is known, or as soon as the watcher learns of it (pod still starting,
API server down), so enrichment resumes by itself after an outage.

RBAC: the pod watcher lists and watches pods, restricted to its node by field selector;
the agent's other watches (beholder.sources.cluster) read policies, namespaces and
profiles. deploy/kustomize/base/rbac.yaml grants exactly that, read-only.

The DaemonSet passes its node through the downward API:
`env: [{name: NODE_NAME, valueFrom: {fieldRef: {fieldPath: spec.nodeName}}}]`.
Workloads are derived from owner-reference naming conventions, so no rights on
replicasets or jobs are needed.
"""

from beholder.enrich.k8s.cache import PodCache
from beholder.enrich.k8s.pod import PodContainer
from beholder.enrich.k8s.watcher import PodWatcher, WatcherStats

__all__ = ["PodCache", "PodContainer", "PodWatcher", "WatcherStats"]
