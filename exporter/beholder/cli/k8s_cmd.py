"""`beholder k8s pods`: which pods and containers the watcher sees on this node.

The quickest way to check that the agent's API access, RBAC and node name are right before
wondering why events lack pod fields. `k8s_options` is the same three flags for any
command that starts a pod watcher (`run` can reuse it).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

import click

from beholder.enrich.k8s import PodWatcher

_POLL_S = 0.05


def k8s_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """--node-name, --kubeconfig and --k8s-api-url, passed through as keyword arguments."""
    func = click.option(
        "--k8s-api-url", metavar="URL", help="API server URL without auth (tests, `kubectl proxy`)."
    )(func)
    func = click.option(
        "--kubeconfig", type=click.Path(dir_okay=False), help="Kubeconfig file (default: $KUBECONFIG)."
    )(func)
    return click.option("--node-name", help="This node's name (default: $NODE_NAME, then the hostname).")(
        func
    )


@click.group("k8s")
def command() -> None:
    """Kubernetes enrichment diagnostics."""


@command.command("pods")
@k8s_options
@click.option(
    "--wait", "wait_s", type=float, default=10.0, show_default=True, help="Seconds to wait for the list."
)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per container.")
def pods(
    node_name: str | None, kubeconfig: str | None, k8s_api_url: str | None, wait_s: float, as_json: bool
) -> None:
    """List this node's containers with the pod, workload and image they enrich events with.

    \b
    Examples:
      beholder k8s pods --node-name worker-1
      beholder k8s pods --k8s-api-url http://127.0.0.1:8001 --json | jq .workload_name
    """
    # The command reports the failure itself, once: the watcher's own warnings would repeat it.
    logging.getLogger("beholder.k8s").setLevel(logging.ERROR)
    watcher = PodWatcher.from_environment(node_name, kubeconfig, k8s_api_url)
    if not watcher.enabled:
        reason = (
            watcher.stats().last_error
            or "pass --k8s-api-url or --kubeconfig, set KUBECONFIG, or run in a pod"
        )
        raise click.ClickException(f"Kubernetes is not configured: {reason}")
    watcher.start()
    deadline = time.monotonic() + wait_s
    # The first failed list ends the wait: a refused connection will not heal in 10 s, and a
    # diagnostic command should say so at once (the agent itself keeps retrying).
    while watcher.stats().lists == 0 and watcher.stats().errors == 0 and time.monotonic() < deadline:
        time.sleep(_POLL_S)
    watcher.stop()
    stats = watcher.stats()
    if stats.lists == 0:
        why = stats.last_error or f"no answer within {wait_s:g}s"
        raise click.ClickException(f"no pod list from {watcher.source}: {why}")
    records = sorted(watcher.cache.live_containers(), key=lambda r: (r.namespace, r.pod_name, r.name))
    if as_json:
        for record in records:
            click.echo(json.dumps(asdict(record)))
        return
    click.echo(f"node {watcher.node_name}: {stats.pods} pods, {len(records)} containers ({watcher.source})")
    for r in records:
        workload = f"{r.workload_kind}/{r.workload_name}" if r.workload_kind else "-"
        container = f"{r.runtime}://{r.container_id[:12]}"
        click.echo(f"  {r.namespace}/{r.pod_name}  {r.name}  {container}  {r.image}  {workload}")
