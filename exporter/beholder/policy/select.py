"""Which policies apply to a container or to this node.

KubeArmorPolicy: its namespace (a policy read from a file without one applies in every
namespace, as in KubeArmor's non-Kubernetes mode) plus `matchLabels` (the special key
`kubearmor.io/container.name` compares the container name; `*` matches any) plus
`matchExpressions`. KubeArmorClusterPolicy: `matchExpressions` on `namespace` and `label`.
KubeArmorHostPolicy: `nodeSelector.matchLabels` against the node's labels (`*` = any value).
Expressions are ANDed; `In` needs one listed value present, `NotIn` needs none.
"""

from __future__ import annotations

from collections.abc import Mapping

from beholder.events.interfaces import HostIdentity
from beholder.events.model import ContainerInfo
from beholder.policy.model import Expression, Policy

CONTAINER_NAME_KEY = "kubearmor.io/container.name"
HOSTNAME_KEY = "kubearmor.io/hostname"


def node_labels(host: HostIdentity, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The labels host policies select on: KubeArmor's hostname label, k8s' and any extra."""
    labels = {HOSTNAME_KEY: host.host_name, "kubernetes.io/hostname": host.node_name or host.host_name}
    labels.update(extra or {})
    return labels


def _label_present(pair: str, labels: Mapping[str, str]) -> bool:
    key, _, value = pair.partition("=")
    return labels.get(key) == value


def _expression_holds(expr: Expression, container: ContainerInfo) -> bool:
    if expr.key == "namespace":
        hit = container.namespace in expr.values
    else:
        hit = any(_label_present(v, container.labels) for v in expr.values)
    return hit if expr.operator == "In" else not hit


def applies_to_container(policy: Policy, container: ContainerInfo) -> bool:
    if policy.is_host:
        return False
    if policy.kind == "KubeArmorPolicy" and policy.namespace and policy.namespace != container.namespace:
        return False
    for key, value in policy.match_labels:
        if key == CONTAINER_NAME_KEY:
            if value not in ("*", container.name):
                return False
        elif container.labels.get(key) != value:
            return False
    return all(_expression_holds(expr, container) for expr in policy.expressions)


def applies_to_node(policy: Policy, labels: Mapping[str, str]) -> bool:
    if not policy.is_host:
        return False
    return all(
        (key in labels) if value == "*" else labels.get(key) == value for key, value in policy.node_labels
    )
