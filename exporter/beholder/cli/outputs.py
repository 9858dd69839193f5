"""Turn `--output NAME[:PATH]` specs into sinks.

The embedded default (what `make run` uses) is the console plus a local recording of every
event in KubeArmor JSON lines: what `karmor logs --json` prints, readable with `jq`, about a
third of OTLP/JSON's bytes per record, and rendered from text kept per process, so it costs
less than the OTLP encoding (`formats.kubearmor_lines`); rotated generations are compressed
(`output.rotation`). When an OTLP endpoint is configured through
`OTEL_EXPORTER_OTLP_[LOGS_]ENDPOINT`, the default becomes the OTLP exporter instead of the file.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import click
from click.shell_completion import CompletionItem

from beholder.events.interfaces import HostIdentity, Sink
from beholder.losses import LossLedger
from beholder.otel import limits
from beholder.output.sinks import ConsoleSink, KubeArmorJsonSink, KubescapeAlertSink, NativeJsonSink

OUTPUTS = ("console", "kubearmor", "json", "kubescape", "otlp", "otlp-file")
DEFAULT_OTLP_FILE = "beholder-events.otlp.jsonl"
DEFAULT_RECORDING = "beholder-events.jsonl"


def complete_output(_ctx: click.Context, _param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """Shell completion for `--output`: the names, then `NAME:` followed by a path."""
    name, sep, partial = incomplete.partition(":")
    if not sep:
        return [CompletionItem(n) for n in OUTPUTS if n.startswith(incomplete)]
    if name not in OUTPUTS or name == "otlp":
        return []
    folder, slash, stem = partial.rpartition("/")
    base = Path(folder or "/") if slash else Path(".")
    try:
        entries = sorted(p for p in base.iterdir() if p.name.startswith(stem) and not p.name.startswith("."))
    except OSError:
        return []
    prefix = folder + slash
    return [CompletionItem(f"{name}:{prefix}{p.name}{'/' if p.is_dir() else ''}") for p in entries[:200]]


def default_outputs(env: Mapping[str, str] = os.environ) -> tuple[str, ...]:
    if env.get("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        return ("console", "otlp")
    return ("console", f"kubearmor:{DEFAULT_RECORDING}")


def check_writable(path: str, option: str) -> None:
    """Refuse at start, naming the option, a file the agent could not write later.

    A missing directory is an error, not a tree created without a word; an existing device
    or FIFO is left to the sink. A file created by the check is removed again.
    """
    target = Path(path)
    if not target.parent.is_dir():
        raise click.BadParameter(f"{path}: directory {target.parent} does not exist", param_hint=option)
    if target.exists() and not target.is_file():
        if target.is_dir():
            raise click.BadParameter(f"{path} is a directory", param_hint=option)
        return
    existed = target.exists()
    try:
        os.close(os.open(target, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600))
    except OSError as exc:
        raise click.BadParameter(f"{path}: cannot write: {exc.strerror}", param_hint=option) from None
    if not existed:
        target.unlink()


def claim(path: str, option: str) -> int:
    """Hold an exclusive lock on `<path>.lock` for the agent's lifetime.

    Two agents appending to one file would interleave and duplicate every event without a
    word; the second refuses to start instead. The lock sits beside the file, not on it,
    so that it survives the file's rotation; the kernel drops it when the agent exits.
    """
    lock = f"{path}.lock"
    fd = os.open(lock, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise click.BadParameter(
            f"{path} is already being written by another beholder agent or output (lock {lock})",
            param_hint=option,
        ) from None
    return fd


@dataclass
class OutputContext:
    host: HostIdentity
    output_file: str | None = None
    spool_dir: str | None = None
    metrics: object | None = None  # beholder.otel.metrics.PipelineMetrics
    process_lookup: Callable[[int], object] | None = None
    spool_max_bytes: int = limits.SPOOL_MAX_BYTES
    export_queue_bytes: int = limits.EXPORT_QUEUE_BYTES
    console: str = "watched"  # formats.console.CONSOLE_MODES
    locks: list[int] = field(default_factory=list)  # fds holding the output files' locks
    losses: LossLedger = field(default_factory=LossLedger)  # every sink counts its losses here
    spans: object | None = None  # beholder.otel.traces.ProcessSpans of the enrich stage


def _target(name: str, path: str, ctx: OutputContext) -> str | None:
    """The file an output writes: its own path, else --output-file (otlp-file: else its default)."""
    target = path or ctx.output_file
    return (target or DEFAULT_OTLP_FILE) if name == "otlp-file" else target


def build_sink(spec: str, ctx: OutputContext) -> Sink:
    name, _, path = spec.partition(":")
    target = _target(name, path, ctx)
    written = path if name == "console" else target
    if name in OUTPUTS and name != "otlp" and written and written != "-":
        option = "--output" if path or name == "otlp-file" else "--output-file"
        check_writable(written, option)
        if not os.path.lexists(written) or (Path(written).is_file() and not Path(written).is_symlink()):
            ctx.locks.append(claim(written, option))  # a device, FIFO, socket or link is not ours
    losses = ctx.losses
    try:
        if name == "console":
            return ConsoleSink(path or None, ctx.console, losses=losses)
        if name == "kubearmor":
            return KubeArmorJsonSink(target, ctx.host, losses=losses)
        if name == "json":
            return NativeJsonSink(target, losses=losses)
        if name == "kubescape":
            return KubescapeAlertSink(target, ctx.host, ctx.process_lookup, losses=losses)
        if name == "otlp-file":
            from beholder.otel.file_sink import OtlpJsonFileSink
            from beholder.otel.resource import resource_attributes

            return OtlpJsonFileSink(target, resource_attributes(ctx.host), losses=losses)
    except OSError as exc:
        raise click.ClickException(f"--output {spec}: {exc.strerror or exc}") from exc
    if name == "otlp":
        from beholder.otel.otlp_sink import build_otlp_sink

        return _exporter(build_otlp_sink, ctx)
    raise click.BadParameter(
        f"unknown output {name!r} (choose from {', '.join(OUTPUTS)})", param_hint="--output"
    )


def build_sinks(specs: tuple[str, ...], ctx: OutputContext) -> list[Sink]:
    """The sinks asked for; with `otlp`, also process spans when a traces endpoint is set:
    the spans the enrich stage's `ctx.spans` finishes (it stamps every record's ids)."""
    sinks = [build_sink(spec, ctx) for spec in specs]
    if "otlp" in (spec.partition(":")[0] for spec in specs):
        from beholder.otel.trace_sink import build_trace_sink, traces_wanted

        if traces_wanted():
            trace_sink = _exporter(build_trace_sink, ctx)
            if ctx.spans is not None:
                trace_sink.attach(ctx.spans)  # type: ignore[attr-defined]
            sinks.insert(0, trace_sink)
    return sinks


def _exporter(build: Callable[..., Sink], ctx: OutputContext) -> Sink:
    """An OTLP exporter sink from `OTEL_*` settings; a bad setting is one line, not a traceback."""
    from beholder.otel.config import ConfigError

    try:
        return build(
            ctx.host,
            ctx.metrics,
            spool_dir=ctx.spool_dir,
            spool_max_bytes=ctx.spool_max_bytes,
            queue_max_bytes=ctx.export_queue_bytes,
            losses=ctx.losses,
        )
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc


def recorded_files(specs: tuple[str, ...], ctx: OutputContext) -> list[str]:
    """The files `beholder logs --file` and `summary --file` can read back (OTLP or KubeArmor JSON)."""
    out = []
    for spec in specs:
        name, _, path = spec.partition(":")
        target = _target(name, path, ctx)
        if name in ("otlp-file", "kubearmor") and target and target != "-":
            out.append(target)
    return out
