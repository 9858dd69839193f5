"""`beholder run`: trace this host, evaluate policies and profiles, send events and alerts."""

from __future__ import annotations

import json
import os
import signal
import socket
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import click

from beholder.agent import AgentOptions
from beholder.bob.profile import unevaluated
from beholder.cli.enforce import ENFORCE_MODES, bpf_lsm_line, kill_report, start_kill_mode
from beholder.cli.k8s_cmd import k8s_options
from beholder.cli.live_options import live_options, settings_from, throttle_from
from beholder.cli.outputs import (
    OUTPUTS,
    OutputContext,
    build_sinks,
    check_writable,
    complete_output,
    default_outputs,
    recorded_files,
)
from beholder.cli.params import ByteSize, CgroupId, mib
from beholder.cli.rule_options import engine_options, rule_options
from beholder.config import config_option
from beholder.enrich.k8s.watcher import PodWatcher
from beholder.events.interfaces import HostIdentity
from beholder.formats.console import CONSOLE_MODES
from beholder.health import Health
from beholder.memory import tune_gc, tune_malloc
from beholder.otel import limits
from beholder.output.rotation import KEPT
from beholder.output.target import write_whole
from beholder.pipeline import Pipeline, Tracing, closing_line
from beholder.privileges import missing_for_run
from beholder.query.server import DEFAULT_SOCKET
from beholder.selfprotect import SelfProtection, agent_files
from beholder.sensors import bpfcache
from beholder.sensors.catalog import SENSOR_NAMES
from beholder.sensors.kernel import probe_features
from beholder.sensors.program import RINGBUF_PAGES, ProgramOptions, SensorError
from beholder.sources.live import Cluster, LiveSources, Settings


def _say(message: str) -> None:
    click.echo(f"beholder: {message}", err=True)


def _bindings(specs: tuple[str, ...]) -> dict[str, str]:
    """`--bind KEY=PROFILE` (KEY: container id or name, pod or workload name)."""
    out = {}
    for spec in specs:
        key, sep, profile = spec.partition("=")
        if not sep or not key or not profile:
            raise click.BadParameter(f"{spec!r} is not KEY=PROFILE", param_hint="--bind")
        out[key] = profile
    return out


def _live_sources(
    policies: tuple[str, ...],
    profiles: tuple[str, ...],
    bindings: dict[str, str],
    host: HostIdentity,
    engine_settings: dict[str, Any],
    settings: Settings,
    watcher: PodWatcher,
    kill: bool,
) -> LiveSources:
    """Policy and profile engines fed by files and, on a cluster, by the API server."""
    cluster = None
    if watcher.enabled:
        cluster = Cluster(watcher.api_client, watcher.source, {"outage": watcher.outage})
    if policies or cluster:
        _say(bpf_lsm_line(probe_features(try_attach=True)))
    lsm = False  # the BPF-LSM programs are never attached by this agent: no BPFLSM block is claimed
    sources = LiveSources(
        host,
        settings,
        _say,
        policy_paths=[Path(p) for p in policies],
        profile_paths=[Path(p) for p in profiles],
        bindings=bindings,
        profile_options=engine_settings,
        cluster=cluster,
        lsm_enforcing=lsm,
    )
    if sources.policies is not None:
        engine = sources.policies
        _say(f"{len(engine.policies)} KubeArmor policies active; {engine.enforcement_status(kill)}")
    if sources.profiles is not None and profiles:
        _say(f"{len(sources.profiles.profiles)} behaviour profiles loaded")
        for note in (n for p in sources.profiles.profiles for n in unevaluated(p)):
            _say(f"note: {note}")
        for line in sources.profiles.binding_problems():
            _say(line)
    return sources


def _size_option(flag: str, default: int, text: str) -> Callable[[Callable], Callable]:
    """A byte-size option (`512MiB`, `1GiB`, plain bytes) showing its default in MiB."""
    return click.option(flag, type=ByteSize(), default=default, show_default=mib(default), help=text)


@click.command("run")
@click.option(
    "--duration", type=float, default=None, help="Stop after this many seconds (default: until SIGTERM)."
)
@click.option(
    "--output",
    "outputs",
    multiple=True,
    metavar="NAME[:PATH]",
    shell_complete=complete_output,
    help=f"Where events go ({', '.join(OUTPUTS)}), each with an optional file; repeatable. "
    "Default: console + otlp-file, or console + otlp when OTEL_EXPORTER_OTLP_ENDPOINT is set.",
)
@click.option("--output-file", type=click.Path(dir_okay=False), help="File for outputs given without a path.")
@click.option(
    "--console",
    "console_mode",
    type=click.Choice(CONSOLE_MODES, case_sensitive=False),
    default="watched",
    show_default=True,
    help="Console events: `watched` shows exec/exit, connect/bind/listen/accept, DNS, alerts "
    "and losses; `all` shows every event (file opens, capability checks too).",
)
@click.option(
    "--policy", "policies", multiple=True, type=click.Path(exists=True), help="KubeArmor policy file/dir."
)
@click.option(
    "--profile", "profiles", multiple=True, type=click.Path(exists=True), help="Kubescape profile file/dir."
)
@click.option(
    "--bind",
    "binds",
    multiple=True,
    metavar="KEY=PROFILE",
    help="Bind a profile to a container (name or id prefix of 4+ characters), pod or workload that "
    "carries no profile label.",
)
@rule_options
@click.option("--no-redact", is_flag=True, help="Keep secrets in command lines (default: masked).")
@click.option(
    "--redact-pattern",
    "redact_patterns",
    multiple=True,
    metavar="REGEX",
    help="Also mask matches of REGEX (a group named 'secret' masks only that part).",
)
@click.option(
    "--enforce",
    type=click.Choice(ENFORCE_MODES),
    default="off",
    show_default=True,
    help="kill: a Block rule on an exec path, a file open or a socket protocol SIGKILLs the caller "
    "at syscall entry (Enforcer BPF-SIGKILL; docs/enforcement.md says what that prevents); "
    "off: Block rules are reported as 'Audit (Block)'.",
)
@click.option("--sensors", default=",".join(SENSOR_NAMES), show_default=True, help="Comma-separated sensors.")
@click.option(
    "--dedup-window-ms", type=int, default=1000, show_default=True, help="Fold exact repeats (0: off)."
)
@click.option(
    "--ringbuf-pages",
    type=click.IntRange(1),
    default=RINGBUF_PAGES,
    show_default=True,
    help="Ring buffer size in 4 KiB pages (a power of two; mapped twice, so RSS counts it twice). "
    "More absorbs longer bursts.",
)
@click.option(
    "--cgroup-id", "cgroup_ids", type=CgroupId(), multiple=True, help="Trace only these cgroup v2 ids."
)
@click.option(
    "--syscall-counts/--no-syscall-counts",
    default=None,
    help="Count each container's syscalls in the kernel (default: on when --profile is given).",
)
@click.option(
    "--syscall-hooks",
    type=click.Choice(["per-syscall", "raw"]),
    default="per-syscall",
    show_default=True,
    help="per-syscall: a BPF program runs only on the syscalls traced (raw_syscalls anyway while "
    "profiles count syscalls or when this kernel lacks a tracepoint), but stopping takes seconds: "
    "the kernel waits for RCU at every tracepoint detached. raw: every syscall of the host runs "
    "one (tens of ns each), stopping is instant.",
)
@click.option(
    "--bpf-cache-dir",
    default=str(bpfcache.CACHE_DIR),
    show_default=True,
    help="Where the compiled BPF program is kept so a restart skips the compiler; '' compiles every start.",
)
@click.option("--host-name", default=socket.gethostname, show_default="this host's name")
@click.option(
    "--cluster-name",
    default="",
    help="Cluster name for k8s.cluster.name (KubeArmor's ClusterName prints `default` without it).",
)
@click.option(
    "--spool-dir", default="/var/lib/beholder/spool", show_default=True, help="Disk spool for OTLP."
)
@_size_option(
    "--spool-max-bytes",
    limits.SPOOL_MAX_BYTES,
    "Disk the OTLP spool may use (records stored gzip-compressed); e.g. 1GiB.",
)
@_size_option(
    "--export-queue-bytes",
    limits.EXPORT_QUEUE_BYTES,
    "Memory the OTLP export queue may hold before it spills to the spool (or drops, counted).",
)
@click.option(
    "--metrics-addr", metavar="HOST:PORT", help="Serve Prometheus /metrics here (e.g. 127.0.0.1:9464)."
)
@click.option("--stats-file", type=click.Path(dir_okay=False), help="Write final counters here as JSON.")
@click.option("--ready-file", type=click.Path(dir_okay=False), help="Touch this file once tracing has begun.")
@click.option(
    "--query-socket",
    metavar="PATH",
    default=DEFAULT_SOCKET,
    show_default=True,
    help="Serve `beholder logs`/`summary` on this unix socket (root-only); '' to turn it off.",
)
@click.option("--query-http-port", type=int, help="Also serve queries over HTTP on 127.0.0.1:PORT.")
@k8s_options
@live_options
@config_option
def command(
    duration: float | None,
    outputs: tuple[str, ...],
    output_file: str | None,
    console_mode: str,
    policies: tuple[str, ...],
    profiles: tuple[str, ...],
    binds: tuple[str, ...],
    enable_rules: tuple[str, ...],
    disable_rules: tuple[str, ...],
    rule_cooldown: float,
    rule_cooldown_after: int,
    no_redact: bool,
    redact_patterns: tuple[str, ...],
    enforce: str,
    sensors: str,
    dedup_window_ms: int,
    ringbuf_pages: int,
    cgroup_ids: tuple[int, ...],
    syscall_counts: bool | None,
    syscall_hooks: str,
    bpf_cache_dir: str,
    host_name: str,
    cluster_name: str,
    spool_dir: str,
    spool_max_bytes: int,
    export_queue_bytes: int,
    metrics_addr: str | None,
    stats_file: str | None,
    ready_file: str | None,
    query_socket: str | None,
    query_http_port: int | None,
    node_name: str | None,
    kubeconfig: str | None,
    k8s_api_url: str | None,
    **live: str,
) -> None:
    """Trace process, file, network, syscall and capability activity on this host.

    \b
    Examples:
      beholder run                                   console + ./beholder-events.jsonl
      beholder run --output kubearmor --duration 30  KubeArmor JSON on stdout
      beholder run --policy policies/ --profile bob.yaml --output otlp
      OTEL_EXPORTER_OTLP_ENDPOINT=http://collector:4318 beholder run          OTLP/HTTP
      OTEL_EXPORTER_OTLP_PROTOCOL=grpc OTEL_EXPORTER_OTLP_ENDPOINT=http://collector:4317 beholder run
    """
    why = missing_for_run()
    if why:
        raise click.ClickException(why)
    for path, option in ((stats_file, "--stats-file"), (ready_file, "--ready-file")):
        if path:
            check_writable(path, option)
    tune_malloc()  # before any of the agent's threads exist
    tune_gc()
    if ringbuf_pages & (ringbuf_pages - 1):
        raise click.BadParameter(f"{ringbuf_pages} is not a power of two", param_hint="--ringbuf-pages")
    watcher = PodWatcher.from_environment(node_name, kubeconfig, k8s_api_url)
    # A node name only when this is known to be a Kubernetes node.
    node = watcher.node_name if watcher.enabled else node_name or os.environ.get("NODE_NAME", "")
    host = HostIdentity(host_name=host_name, node_name=node, cluster_name=cluster_name)
    program = ProgramOptions(
        sensors=tuple(s.strip() for s in sensors.split(",") if s.strip()),
        dedup_window_ns=dedup_window_ms * 1_000_000,
        ringbuf_pages=ringbuf_pages,
        syscall_counts=bool(profiles) if syscall_counts is None else syscall_counts,
        cgroup_filter=cgroup_ids,
        bpf_cache_dir=Path(bpf_cache_dir) if bpf_cache_dir else None,
        enforce_kill=enforce == "kill",
        raw_syscalls=syscall_hooks == "raw",
    )
    health = Health()
    metrics_runtime = _start_metrics(host, metrics_addr, health)
    tracing = Tracing(program, not no_redact, redact_patterns, AgentOptions(expect_pods=watcher.enabled))
    pipeline = Pipeline(tracing, metrics_runtime.metrics if metrics_runtime else None)
    ctx = OutputContext(
        host,
        output_file,
        spool_dir,
        pipeline.metrics,
        pipeline.enricher.tree.processes.get,
        spool_max_bytes=spool_max_bytes,
        export_queue_bytes=export_queue_bytes,
        console=console_mode,
        losses=pipeline.losses,
        spans=pipeline.enricher.spans,
    )
    specs = outputs or default_outputs()
    sinks = build_sinks(specs, ctx)
    engine_settings = engine_options(enable_rules, disable_rules, rule_cooldown, rule_cooldown_after)
    settings = settings_from(live, kubernetes=watcher.enabled)
    throttle = throttle_from(live)
    sources = _live_sources(
        policies, profiles, _bindings(binds), host, engine_settings, settings, watcher, enforce == "kill"
    )
    evaluators = sources.evaluators
    # Always on: signals, ptrace, writes and bpf() aimed at the agent raise BH-TAMPER-* alerts.
    protected = agent_files([spool_dir, *policies, *profiles])
    evaluators.append(SelfProtection(os.getpid(), protected, supervisor_pid=os.getppid()))
    if watcher.enabled:
        pipeline.enricher.containers.on_new.append(watcher.cache.attach)
    observers = [sources.profiles] if sources.profiles is not None else []
    query = _start_query(host, query_socket, query_http_port, metrics_runtime)
    try:
        on_batch = query.on_batch if query else None
        visibility = sources.visibility
        agent = pipeline.open(
            sinks, evaluators, observers, on_batch, health, visibility.telemetry, throttle, visibility
        )
    except SensorError as exc:
        if query:
            query.stop()
        raise click.ClickException(str(exc)) from exc
    for name, why in agent.source.refused.items():
        _say(f"sensor {name} disabled: {why}")
    pod_scopes = None
    if enforce == "kill":
        lines, pod_scopes = start_kill_mode(
            agent.source, sources.policies, _say, watcher.cache if watcher.enabled else None
        )
        for line in lines:
            _say(line)
    signal.signal(signal.SIGTERM, lambda *_: agent.stop())
    signal.signal(signal.SIGINT, lambda *_: agent.stop())
    signal.signal(signal.SIGHUP, lambda *_: sources.request_reload())  # reload, never stop
    watcher.start()
    sources.start()
    if pod_scopes is not None:
        pod_scopes.start()
    running = ", ".join(agent.source.sensors)
    _say(f"tracing ({running}); {f'for {duration:g}s' if duration else 'Ctrl-C to stop'}")
    for path in recorded_files(specs, ctx):
        _say(f"all events go to {path}; read them with `beholder summary --file {path}`")
        _say(f"  or `beholder logs --file {path}` (both read its rotated generations too: {KEPT})")
    if ready_file:
        Path(ready_file).touch()
    try:
        agent.run(duration)
    finally:
        detach = agent.source.slow_detach()
        if detach:
            _say(f"stopping: {detach}, a few seconds")
        if pod_scopes is not None:
            pod_scopes.stop()
        sources.stop()
        watcher.stop()
        if query:
            query.stop()
        kubernetes = asdict(watcher.stats()) if watcher.enabled else {"enabled": False}
        extra = {"enforce": kill_report(agent.source)} if enforce == "kill" else {}
        report = pipeline.close(kubernetes=kubernetes, sources=sources.report(), **extra)
        for lock in ctx.locks:  # the outputs are closed: another agent may write them now
            os.close(lock)
        if metrics_runtime:
            metrics_runtime.shutdown()
        if stats_file:
            write_whole(stats_file, json.dumps(report, indent=2, default=str))
        for line in sources.profiles.unmatched_bindings() if sources.profiles is not None else ():
            _say(f"warning: {line}")
        _say(closing_line(report))


def _start_query(host: HostIdentity, socket_path: str | None, http_port: int | None, metrics_runtime):
    """The local query endpoint for `logs` and `summary`, when asked for."""
    if not socket_path and http_port is None:
        return None
    from beholder.query.server import QueryServer
    from beholder.summary.metrics import register_summary_metrics

    query = QueryServer(socket_path or None, host, http_port)
    try:
        query.start()
    except OSError as exc:
        if socket_path != DEFAULT_SOCKET or http_port is not None:
            raise click.ClickException(f"query endpoint: {exc}") from exc
        _say(f"query endpoint off: {exc}")  # e.g. another agent serves the default socket
        return None
    if metrics_runtime:
        register_summary_metrics(metrics_runtime.provider, query.summary)
    return query


def _start_metrics(host: HostIdentity, metrics_addr: str | None, health: Health):
    """OTel metrics: OTLP push when an endpoint is configured, Prometheus when asked for."""
    from beholder.otel.config import ConfigError, from_env
    from beholder.otel.metrics import start_metrics
    from beholder.otel.resource import resource_attributes

    otlp = None
    if os.environ.get("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT") or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        try:
            otlp = from_env("metrics")
        except ConfigError as exc:
            raise click.ClickException(str(exc)) from exc
    address = None
    if metrics_addr:
        hostpart, _, port = metrics_addr.rpartition(":")
        if not port.isdigit():
            raise click.BadParameter(f"{metrics_addr!r} is not HOST:PORT", param_hint="--metrics-addr")
        address = (hostpart or "127.0.0.1", int(port))
    if otlp is None and address is None:
        return None
    return start_metrics(resource_attributes(host), otlp, address, health=health)
