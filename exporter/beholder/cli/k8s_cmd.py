"""`beholder k8s`: what the agent's watchers hold; `beholder k8s pods`: this node's pods.

The quickest way to check that the agent's API access, RBAC and node name are right before
wondering why events lack pod fields or a policy does not fire: `beholder k8s` runs the
same watchers as `beholder run` (pods, KubeArmor policies, namespaces, Kubescape profiles)
until they have listed, then shows pods with their bound profiles, policies with their
origin, postures and visibility. `k8s_options` is the same three flags for any command
that starts a pod watcher.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

import click

from beholder.cli.live_options import live_options, settings_from
from beholder.enrich.k8s import PodContainer, PodWatcher
from beholder.enrich.k8s.cache import PodCache
from beholder.events.interfaces import HostIdentity
from beholder.events.model import ContainerInfo
from beholder.sources.live import Cluster, LiveSources

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


@click.group("k8s", invoke_without_command=True)
@k8s_options
@live_options
@click.option(
    "--wait", "wait_s", type=float, default=10.0, show_default=True, help="Seconds to wait for the lists."
)
@click.option("--json", "as_json", is_flag=True, help="Everything as one JSON object.")
@click.pass_context
def command(
    ctx: click.Context,
    node_name: str | None,
    kubeconfig: str | None,
    k8s_api_url: str | None,
    wait_s: float,
    as_json: bool,
    **live: str,
) -> None:
    """Show what the watchers hold: pods, policies, postures, visibility, bound profiles.

    \b
    Examples:
      beholder k8s --node-name worker-1
      beholder k8s --k8s-api-url http://127.0.0.1:8001 --json | jq .policies
    """
    if ctx.invoked_subcommand is not None:
        return
    watcher = _started(node_name, kubeconfig, k8s_api_url)
    cluster = Cluster(watcher.api_client, watcher.source, {"outage": watcher.outage})
    host = HostIdentity(host_name=watcher.node_name, node_name=watcher.node_name, cluster_name="")
    said: list[str] = []
    sources = LiveSources(host, settings_from(live, kubernetes=True), said.append, cluster=cluster)
    sources.start()
    assert sources.cluster is not None
    cluster_watches = sources.cluster
    _wait(lambda: watcher.stats().lists + watcher.stats().errors > 0 and cluster_watches.settled(), wait_s)
    sources.stop()
    watcher.stop()
    records = _containers(watcher, wait_s)
    report = sources.report()
    bound = _bind(sources, records)
    if as_json:
        pods = [asdict(r) | {"profile": bound.get(r.container_id, "")} for r in records]
        click.echo(json.dumps({"node": watcher.node_name, "pods": pods, **report, "problems": said}))
        return
    _print_state(watcher, records, bound, report, said)


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
    watcher = _started(node_name, kubeconfig, k8s_api_url)
    # The first failed list ends the wait: a refused connection will not heal in 10 s, and a
    # diagnostic command should say so at once (the agent itself keeps retrying).
    _wait(lambda: watcher.stats().lists > 0 or watcher.stats().errors > 0, wait_s)
    watcher.stop()
    records = _containers(watcher, wait_s)
    stats = watcher.stats()
    if as_json:
        for record in records:
            click.echo(json.dumps(asdict(record)))
        return
    click.echo(f"node {watcher.node_name}: {stats.pods} pods, {len(records)} containers ({watcher.source})")
    for r in records:
        workload = f"{r.workload_kind}/{r.workload_name}" if r.workload_kind else "-"
        container = f"{r.runtime}://{r.container_id[:12]}"
        click.echo(f"  {r.namespace}/{r.pod_name}  {r.name}  {container}  {r.image}  {workload}")


def _started(node_name: str | None, kubeconfig: str | None, k8s_api_url: str | None) -> PodWatcher:
    # The command reports the failure itself, once: the watchers' own warnings would repeat it.
    logging.getLogger("beholder.k8s").setLevel(logging.ERROR)
    watcher = PodWatcher.from_environment(node_name, kubeconfig, k8s_api_url)
    if not watcher.enabled:
        reason = (
            watcher.stats().last_error
            or "pass --k8s-api-url or --kubeconfig, set KUBECONFIG, or run in a pod"
        )
        raise click.ClickException(f"Kubernetes is not configured: {reason}")
    watcher.start()
    return watcher


def _wait(done: Callable[[], bool], wait_s: float) -> None:
    deadline = time.monotonic() + wait_s
    while not done() and time.monotonic() < deadline:
        time.sleep(_POLL_S)


def _containers(watcher: PodWatcher, wait_s: float) -> list[PodContainer]:
    stats = watcher.stats()
    if stats.lists == 0:
        why = stats.last_error or f"no answer within {wait_s:g}s"
        raise click.ClickException(f"no pod list from {watcher.source}: {why}")
    return sorted(watcher.cache.live_containers(), key=lambda r: (r.namespace, r.pod_name, r.name))


def _bind(sources: LiveSources, records: list[PodContainer]) -> dict[str, str]:
    """Container id → the profile the agent would bind to it (labels, workload, image)."""
    engine = sources.profiles
    if engine is None:
        return {}
    engine.evaluate([])  # install the watched profiles, as the agent does between batches
    bound = {}
    for record in records:
        info = ContainerInfo(record.container_id)
        PodCache.apply_to(info, record)
        behaviour = engine.behaviour_for(info)
        if behaviour is not None:
            bound[record.container_id] = behaviour.profile_name
    return bound


def _print_state(
    watcher: PodWatcher,
    records: list[PodContainer],
    bound: dict[str, str],
    report: dict[str, Any],
    problems: list[str],
) -> None:
    click.echo(
        f"node {watcher.node_name}: {watcher.stats().pods} pods, {len(records)} containers ({watcher.source})"
    )
    for r in records:
        profile = f"  profile {bound[r.container_id]}" if r.container_id in bound else ""
        click.echo(f"  {r.namespace}/{r.pod_name}  {r.name}  {r.runtime}://{r.container_id[:12]}{profile}")
    click.echo(f"policies: {len(report['policies'])}")
    for p in report["policies"]:
        where = f"{p['namespace']}/{p['name']}" if p["namespace"] else p["name"]
        click.echo(f"  {p['kind']} {where}  ({p['origin']})")
    click.echo("postures (file/network/capabilities):")
    for scope, posture in report["postures"].items():
        click.echo(f"  {scope}: {posture['file']}/{posture['network']}/{posture['capabilities']}")
    click.echo("visibility:")
    for scope, visible in report["visibility"].items():
        click.echo(f"  {scope}: {visible}")
    click.echo(f"profiles: {len(report['profiles'])}")
    for p in report["profiles"]:
        click.echo(f"  {p['kind']} {p['namespace']}/{p['name']}  ({p['origin']})")
    click.echo("watches:")
    for kind, w in report["watches"].items():
        state = "connected" if w["connected"] else f"not connected: {w['last_error'] or 'waiting'}"
        click.echo(f"  {kind}: {w['objects']} objects, {state}")
    for line in problems:
        click.echo(f"problem: {line}", err=True)
