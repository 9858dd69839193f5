"""Where the API server is and which node we are, or that Kubernetes was not asked for.

Three sources, first match wins: an explicit API URL (`--k8s-api-url`, used by tests and
`kubectl proxy`), a kubeconfig (`--kubeconfig` or `KUBECONFIG`), the in-cluster service
account (`KUBERNETES_SERVICE_HOST`). With none of them the agent is on a plain host: no
client is built and nothing is printed. `~/.kube/config` alone does not count as asking,
so running on a developer laptop stays quiet.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from typing import TYPE_CHECKING

import yaml

from beholder.policy.yamlsafe import error_line

if TYPE_CHECKING:  # imported only when Kubernetes is asked for (the client costs ~38 MiB)
    from kubernetes import client

NODE_NAME_ENV = "NODE_NAME"  # set from spec.nodeName through the downward API
_IN_CLUSTER_ENV = "KUBERNETES_SERVICE_HOST"


class KubernetesConfigError(Exception):
    """Kubernetes was asked for but its configuration cannot be loaded (one-line message)."""


@dataclass(frozen=True, slots=True)
class ApiSource:
    """A loaded client configuration and a short description of where it came from."""

    configuration: client.Configuration
    description: str


def resolve_node_name(flag: str | None) -> str:
    """`--node-name`, else the downward-API env var, else this host's name."""
    return flag or os.environ.get(NODE_NAME_ENV, "") or socket.gethostname()


def resolve_api_source(kubeconfig: str | None, api_url: str | None) -> ApiSource | None:
    """The client configuration Kubernetes was asked for, or None when it was not asked for.

    Raises KubernetesConfigError naming the file or setting that could not be used.
    """
    path = kubeconfig or os.environ.get("KUBECONFIG", "")
    if not (api_url or path or os.environ.get(_IN_CLUSTER_ENV)):
        return None
    from kubernetes import client, config

    cfg = client.Configuration()
    cfg.retries = 0  # the watcher's own backoff decides when to retry, not urllib3
    if api_url:
        cfg.host = api_url.rstrip("/")
        return ApiSource(cfg, f"api-url {cfg.host}")
    if path:
        try:
            config.load_kube_config(config_file=path, client_configuration=cfg, persist_config=False)
        except yaml.YAMLError as exc:
            raise KubernetesConfigError(f"kubeconfig {error_line(path, exc)}") from exc
        except Exception as exc:  # I/O and client errors also mean "this file is unusable"
            raise KubernetesConfigError(f"kubeconfig {path}: {_one_line(exc)}") from exc
        return ApiSource(cfg, f"kubeconfig {path}")
    if os.environ.get(_IN_CLUSTER_ENV):
        try:
            config.load_incluster_config(client_configuration=cfg)
        except Exception as exc:
            raise KubernetesConfigError(f"in-cluster service account: {_one_line(exc)}") from exc
        return ApiSource(cfg, "in-cluster service account")
    return None


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return (text[:200] + "…") if len(text) > 200 else text or type(exc).__name__
