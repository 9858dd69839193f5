"""`beholder profile`: learn, merge, diff, compare and export Bills of Behaviour.

Profiles are Kubescape ApplicationProfile / ContainerProfile / NetworkNeighborhood YAML;
every command reads them unchanged and writes documents Kubescape reads back.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import click
import yaml
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from beholder.bob import seccomp
from beholder.bob.command_cgroup import CgroupError, CommandCgroup
from beholder.bob.diff import diff as diff_profiles
from beholder.bob.engine import MountProvider, ProfileEngine, expand_paths, names_container
from beholder.bob.generalize import DEFAULT_THRESHOLD
from beholder.bob.learn import ProfileLearner
from beholder.bob.merge import merge as merge_profiles
from beholder.bob.profile import Profile, ProfileError, load_file, to_document, unevaluated
from beholder.bob.recorded import ReadStats, read_events
from beholder.cli.params import CgroupId
from beholder.cli.rule_options import engine_options, rule_options
from beholder.enrich.mounts import ContainerMounts, container_mounts
from beholder.events.interfaces import HostIdentity
from beholder.events.model import Alert, ContainerInfo, Event, ProcessInfo
from beholder.formats import kubescape

if TYPE_CHECKING:
    from beholder.pipeline import Tracing

FORMATS = ("kubescape", "json", "text")


def _load_profiles(paths: tuple[str, ...]) -> list[Profile]:
    profiles: list[Profile] = []
    for path in expand_paths(Path(p) for p in paths):
        try:
            profiles += load_file(path)
        except ProfileError as exc:
            raise click.ClickException(str(exc)) from None
    if not profiles:
        raise click.ClickException("no profiles found in " + ", ".join(paths))
    return profiles


def _write_yaml(doc: dict[str, Any], output: str | None) -> None:
    text = yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=120)
    if output and output != "-":
        Path(output).write_text(text, encoding="utf-8")
        click.echo(f"beholder: wrote {output}", err=True)
    else:
        click.echo(text, nl=False)


def _syscalls(profiles: list[Profile], container: str | None) -> set[str]:
    names = {s for p in profiles for c in p.containers if container in (None, c.name) for s in c.syscalls}
    if not names:
        raise click.ClickException(
            f"no syscalls recorded{f' for container {container}' if container else ''}"
        )
    return names


def _selector(container: str | None, workload: str | None) -> Callable[[ContainerInfo], bool]:
    def accept(c: ContainerInfo) -> bool:
        if container and not names_container(container, c):
            return False
        return not workload or c.workload_name == workload

    return accept


@click.group("profile")
def command() -> None:
    """Bills of Behaviour: Kubescape profiles learned, merged, compared and exported.

    \b
    Examples:
      beholder profile learn web --from events.jsonl -o web.yaml
      beholder profile learn web --container 2b3c --duration 60 -o web.yaml
      beholder profile merge run1.yaml run2.yaml -o bob.yaml
      beholder profile check bob.yaml
      beholder profile diff old.yaml new.yaml
      beholder profile compare bob.yaml --seccomp moby-default.json
      beholder profile export bob.yaml --seccomp -o seccomp.json
      beholder profile evaluate bob.yaml --from events.jsonl --format kubescape
    """


@command.command("learn")
@click.argument("name")
@click.option(
    "--from",
    "sources",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False),
    help="Recorded events (Beholder, KubeArmor or OTLP JSON lines) instead of live tracing.",
)
@click.option("--container", help="Record only this container (name or id prefix of 4+ characters).")
@click.option("--workload", help="Record all containers of this workload.")
@click.option("--namespace", default="", help="Profile namespace (default: the container's).")
@click.option("--duration", type=float, help="Live: record this many seconds.")
@click.option(
    "--threshold",
    type=int,
    default=DEFAULT_THRESHOLD,
    show_default=True,
    help="Collapse a directory with more distinct children than this into ⋯.",
)
@click.option(
    "--syscalls",
    "stats_file",
    type=click.Path(exists=True, dir_okay=False),
    help="With --from: the `beholder run --stats-file` holding per-container syscall counts.",
)
@click.option(
    "--ready-file", type=click.Path(dir_okay=False), help="Live: touch this file once tracing has begun."
)
@click.option(
    "--cgroup-id",
    "cgroup_ids",
    type=CgroupId(),
    multiple=True,
    help="Live: trace only these cgroup v2 ids, their syscalls counted from the first one.",
)
@click.option("-o", "--output", help="ApplicationProfile file (default: stdout).")
@click.option("--network-output", help="Also write the learned NetworkNeighborhood here.")
@click.argument("cmd", nargs=-1, type=click.UNPROCESSED)
def learn_cmd(
    name: str,
    sources: tuple[str, ...],
    container: str | None,
    workload: str | None,
    namespace: str,
    duration: float | None,
    threshold: int,
    stats_file: str | None,
    ready_file: str | None,
    cgroup_ids: tuple[int, ...],
    output: str | None,
    network_output: str | None,
    cmd: tuple[str, ...],
) -> None:
    """Record behaviour into an ApplicationProfile named NAME.

    Live, it traces until --duration passes, until CMD (after `--`) exits, or until it is
    interrupted (Ctrl-C, SIGTERM); then it writes what it learned.
    """
    if not sources and not (duration or cmd):
        raise click.UsageError("give --from FILE, --duration SECONDS or a command after --")
    own = _command_cgroup() if cmd and not (sources or container or workload) else None
    selector = _selector(container, workload)
    if own is not None:  # CMD alone, in a cgroup of its own, traced alone
        selector, cgroup_ids = (lambda c: c.container_id == own.container_id), (*cgroup_ids, own.cgroup_id)
    learner = ProfileLearner(name, namespace, selector, threshold)
    if sources:
        _learn_recorded(learner, [Path(s) for s in sources])
        for container, names, _ in _recorded_syscalls(stats_file, learner.containers()):
            learner.observe_syscalls(container, names)
    else:
        try:
            _learn_live(learner, duration, cmd, ready_file, cgroup_ids, own)
        finally:
            if own is not None:
                own.remove()
    if learner.events == 0:
        raise click.ClickException("no events matched the selected containers; nothing learned")
    _write_yaml(to_document(learner.application_profile()), output)
    if network_output:
        _write_yaml(to_document(learner.network_neighborhood()), network_output)


def _command_cgroup() -> CommandCgroup:
    """CMD's own cgroup, or one line saying why it cannot have one."""
    try:
        return CommandCgroup()
    except CgroupError as exc:
        raise click.ClickException(
            f"cannot give the command a cgroup of its own ({exc}): run as root on a cgroup v2 host, "
            "or start it in a container and name that with --container"
        ) from None


def _progress() -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[events]} events"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    )


def _learn_recorded(learner: ProfileLearner, paths: list[Path]) -> None:
    stats = ReadStats()
    with _progress() as bar:
        task = bar.add_task("reading", total=len(paths), events=0)
        for path in paths:
            bar.update(task, description=f"reading {path.name}")
            for batch in read_events(path, stats):
                learner.observe(batch)
                bar.update(task, events=learner.events)
            bar.advance(task)
    if stats.skipped:
        click.echo(
            f"beholder: skipped {stats.skipped} non-event lines ({stats.first_error or 'alerts'})", err=True
        )


def _recorded_syscalls(
    stats_file: str | None, containers: dict[str, ContainerInfo]
) -> list[tuple[ContainerInfo, set[str], dict[str, int]]]:
    """(container, syscall names, name -> pid of its first caller) from a `beholder run`
    stats file, for known containers."""
    if not stats_file:
        return []
    try:
        doc = json.loads(Path(stats_file).read_text())
        table, callers = doc.get("syscalls", {}), doc.get("syscall_callers") or {}
    except (OSError, ValueError, AttributeError) as exc:
        raise click.ClickException(f"{stats_file}: cannot read syscall counts: {exc}") from None
    return [
        (containers[cid], set(names), {str(k): int(v) for k, v in callers.get(cid, {}).items()})
        for cid, names in table.items()
        if cid in containers
    ]


def _learn_live(
    learner: ProfileLearner,
    duration: float | None,
    cmd: tuple[str, ...],
    ready_file: str | None,
    cgroup_ids: tuple[int, ...],
    own: CommandCgroup | None = None,
) -> None:
    from beholder.pipeline import Pipeline  # loads the sensors: only for live learning

    # The kernel skips the agent's own descendants, so the command is forked *before* the
    # agent exists and held at a `read` until tracing runs; then it execs, visible.
    gate = ("/bin/sh", "-c", 'read _ && exec "$@"', "sh")
    child = subprocess.Popen([*gate, *cmd], stdin=subprocess.PIPE) if cmd else None
    if own is not None and child is not None:
        try:
            own.add(child.pid)
        except CgroupError as exc:
            child.kill()
            raise click.ClickException(f"cannot give the command a cgroup of its own ({exc})") from None
    pipeline = Pipeline(learning_tracing(cgroup_ids))
    agent = pipeline.open(
        syscall_observers=[learner], on_batch=lambda events, alerts: learner.observe(events)
    )
    worker = threading.Thread(target=agent.run, name="beholder-learn", daemon=True)
    worker.start()
    if child is not None and child.stdin is not None:
        child.stdin.write(b"go\n")
        child.stdin.close()
    if ready_file:
        Path(ready_file).touch()
    deadline = time.monotonic() + duration if duration else None
    interrupted = threading.Event()
    previous = {
        sig: signal.signal(sig, lambda *_: interrupted.set()) for sig in (signal.SIGINT, signal.SIGTERM)
    }
    with _progress() as bar:
        task = bar.add_task("learning", total=duration, events=0)
        while worker.is_alive() and not interrupted.is_set():
            if child is not None and child.poll() is not None:
                break
            if deadline is not None and time.monotonic() >= deadline:
                break
            time.sleep(0.2)
            bar.update(
                task,
                completed=(duration - (deadline - time.monotonic())) if deadline else None,
                events=learner.events,
            )
    for sig, handler in previous.items():
        signal.signal(sig, handler)
    agent.stop()
    worker.join(timeout=10)  # the agent's last step hands the kernel's syscall sets to the learner
    pipeline.close()


def learning_tracing(cgroup_ids: tuple[int, ...] = ()) -> Tracing:
    """Live learning traces as `run` does, with the kernel's per-container syscall counts on
    (a profile's syscall list comes from them) and secrets masked before they are learned;
    `cgroup_ids` limits tracing to those cgroups, counted from their first syscall."""
    from beholder.pipeline import Tracing
    from beholder.sensors.program import ProgramOptions

    return Tracing(ProgramOptions(syscall_counts=True, cgroup_filter=cgroup_ids))


@command.command("check")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
def check_cmd(paths: tuple[str, ...]) -> None:
    """Validate profile files and say what each holds and what of it Beholder evaluates.

    Exit 1 when a file does not load (one line naming file and field).
    """
    failed = 0
    for path in expand_paths(Path(p) for p in paths):
        try:
            loaded = load_file(path)
        except ProfileError as exc:
            click.echo(f"error: {exc}", err=True)
            failed += 1
            continue
        for p in loaded:
            for c in p.containers:
                egress = sum(len(n.dns_names) + len(n.ip_addresses) for n in c.egress)
                click.echo(
                    f"{p.source}: {p.kind} {p.name}{f' container {c.name}' if c.name else ''}: "
                    f"{len(c.execs)} execs, {len(c.opens)} opens, {len(c.syscalls)} syscalls, "
                    f"{len(c.capabilities)} capabilities, {egress} egress names/addresses"
                )
            for note in unevaluated(p):
                click.echo(f"note: {note}", err=True)
    if failed:
        raise SystemExit(1)


@command.command("merge")
@click.argument("profiles", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--name", default="", help="Name of the merged profile (default: the first one's).")
@click.option("--threshold", type=int, default=DEFAULT_THRESHOLD, show_default=True)
@click.option("-o", "--output", help="Merged profile file (default: stdout).")
def merge_cmd(profiles: tuple[str, ...], name: str, threshold: int, output: str | None) -> None:
    """Union profiles from several runs into one superset BoB."""
    loaded = _load_profiles(profiles)
    kinds = {p.kind for p in loaded}
    if len(kinds) > 1:
        raise click.ClickException(f"cannot merge different kinds: {', '.join(sorted(kinds))}")
    _write_yaml(to_document(merge_profiles(loaded, name, threshold)), output)


@command.command("diff")
@click.argument("old", type=click.Path(exists=True, dir_okay=False))
@click.argument("new", type=click.Path(exists=True, dir_okay=False))
def diff_cmd(old: str, new: str) -> None:
    """What NEW allows that OLD does not (+) and the reverse (-). Exit 1 when they differ."""
    changes = diff_profiles(_load_profiles((old,))[0], _load_profiles((new,))[0])
    for ch in changes:
        where = f"{ch.container or '*'} {ch.category}"
        for item in ch.added:
            click.echo(f"+ {where}: {item}")
        for item in ch.removed:
            click.echo(f"- {where}: {item}")
    if changes:
        sys.exit(1)


@command.command("compare")
@click.argument("profiles", nargs=-1, required=True, type=click.Path(exists=True))
@click.option(
    "--seccomp",
    "runtime_default",
    required=True,
    type=click.Path(exists=True, dir_okay=False),
    help="RuntimeDefault seccomp profile: moby JSON or a YAML allowedSyscalls list.",
)
@click.option("--container", help="Only this container of the profile.")
@click.option("--list", "show_list", is_flag=True, help="Also list the syscalls in each difference.")
def compare_cmd(
    profiles: tuple[str, ...], runtime_default: str, container: str | None, show_list: bool
) -> None:
    """The seed's table: BoB syscalls against a RuntimeDefault seccomp profile."""
    loaded = _load_profiles(profiles)
    try:
        default = seccomp.load_runtime_default(Path(runtime_default))
    except ProfileError as exc:
        raise click.ClickException(str(exc)) from None
    result = seccomp.compare(_syscalls(loaded, container), default)
    table = Table(title="Syscalls: Bill of Behaviour vs RuntimeDefault")
    for header in (
        "Profile",
        "Total Syscalls",
        "In BoB Not in RuntimeDefault",
        "In RuntimeDefault, Not in BoB",
    ):
        table.add_column(header)
    names = ", ".join(p.name for p in loaded)
    table.add_row(names, str(result.profile_total), str(len(result.only_in_profile)), "N/A")
    table.add_row(
        Path(runtime_default).name, str(result.default_total), "N/A", str(len(result.only_in_default))
    )
    Console().print(table)
    if show_list:
        click.echo("in BoB, not in RuntimeDefault: " + " ".join(result.only_in_profile))
        click.echo("in RuntimeDefault, not in BoB: " + " ".join(result.only_in_default))


@command.command("export")
@click.argument("profiles", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--seccomp", "as_seccomp", is_flag=True, required=True, help="Export a seccomp JSON profile.")
@click.option("--container", help="Only this container of the profile.")
@click.option("-o", "--output", help="Output file (default: stdout).")
def export_cmd(
    profiles: tuple[str, ...], as_seccomp: bool, container: str | None, output: str | None
) -> None:
    """A seccomp profile allowing exactly the learned syscalls."""
    loaded = _load_profiles(profiles)
    partial = [p.name for p in loaded if p.kind != "NetworkNeighborhood" and p.completion != "complete"]
    if partial:
        raise click.ClickException(
            f"profile {', '.join(partial)} is incomplete (kubescape.io/completion: partial): its syscall "
            "list came from events, not the kernel, and as an allow-list would stop the container; "
            "learn it live or with --syscalls"
        )
    text = json.dumps(seccomp.export(_syscalls(loaded, container)), indent=2) + "\n"
    if output and output != "-":
        Path(output).write_text(text)
        click.echo(f"beholder: wrote {output}", err=True)
    else:
        click.echo(text, nl=False)


@command.command("evaluate")
@click.argument("profiles", nargs=-1, required=True, type=click.Path(exists=True))
@click.option(
    "--from",
    "sources",
    multiple=True,
    required=True,
    type=click.Path(exists=True, dir_okay=False),
    help="Recorded events (Beholder, KubeArmor or OTLP JSON lines).",
)
@click.option(
    "--bind",
    "binds",
    multiple=True,
    metavar="CONTAINER=PROFILE",
    help="Bind a container (id, name, pod or workload) to a profile by name; repeatable.",
)
@click.option(
    "--syscalls",
    "stats_file",
    type=click.Path(exists=True, dir_okay=False),
    help="The `beholder run --stats-file` whose per-container syscall counts feed R0003.",
)
@click.option(
    "--mount",
    "mounts",
    multiple=True,
    metavar="CONTAINER=PATH",
    help="A volume mount point of a recorded container (as --bind names it), for R1004; repeatable. "
    "A container still running has its own mounts read.",
)
@rule_options
@click.option(
    "--format", "fmt", type=click.Choice(FORMATS, case_sensitive=False), default="text", show_default=True
)
@click.option("--cluster-name", default="default", show_default=True)
def evaluate_cmd(
    profiles: tuple[str, ...],
    sources: tuple[str, ...],
    binds: tuple[str, ...],
    stats_file: str | None,
    mounts: tuple[str, ...],
    enable_rules: tuple[str, ...],
    disable_rules: tuple[str, ...],
    rule_cooldown: float,
    rule_cooldown_after: int,
    fmt: str,
    cluster_name: str,
) -> None:
    """Replay recorded events against profiles and print the alerts."""
    bindings = dict(b.split("=", 1) for b in binds if "=" in b)
    options = engine_options(enable_rules, disable_rules, rule_cooldown, rule_cooldown_after)
    options["mounts"] = _recorded_mounts(mounts)
    loaded = _load_profiles(profiles)
    for note in (n for p in loaded for n in unevaluated(p)):
        click.echo(f"beholder: note: {note}", err=True)
    engine = ProfileEngine(loaded, bindings, **options)
    host = HostIdentity(host_name="replay", cluster_name=cluster_name)
    alerts: list[Alert] = []
    containers: dict[str, ContainerInfo] = {}
    processes: dict[int, ProcessInfo] = {}  # the recording's processes, for R0003's first callers
    for batch in _batches(sources):
        alerts += engine.evaluate(batch)
        containers.update((e.container.container_id, e.container) for e in batch if e.container is not None)
        processes.update((e.process.pid, e.process) for e in batch if e.process is not None)
    for container, names, pids in _recorded_syscalls(stats_file, containers):
        callers = {name: processes.get(pid) or ProcessInfo(pid=pid) for name, pid in pids.items()}
        alerts += engine.observe_syscalls(container, names, callers)
    for alert in alerts:
        _print_alert(alert, fmt, host, sys.stdout)
    for line in engine.unmatched_bindings():
        click.echo(f"beholder: warning: {line}", err=True)
    click.echo(f"beholder: {len(alerts)} alerts", err=True)


def _recorded_mounts(specs: tuple[str, ...]) -> MountProvider:
    """Mounts for recorded containers: `--mount CONTAINER=PATH` where given, added to what a
    container still running has mounted (a recording holds no mount table)."""
    given: dict[str, list[str]] = {}
    for spec in specs:
        key, sep, path = spec.partition("=")
        if not sep or not key or not path.startswith("/"):
            raise click.BadParameter(f"{spec!r} is not CONTAINER=/PATH", param_hint="--mount")
        given.setdefault(key, []).append(path)

    def provider(c: ContainerInfo, pid: int) -> ContainerMounts:
        live = container_mounts(c, pid)
        keys = (c.container_id, c.name, c.pod_name, c.workload_name)
        extra = [p for key, paths in given.items() if key in keys or names_container(key, c) for p in paths]
        return replace(live, mount_points=(*live.mount_points, *extra)) if extra else live

    return provider


def _batches(sources: tuple[str, ...]) -> Iterator[list[Event]]:
    for source in sources:
        yield from read_events(Path(source))


def _print_alert(alert: Alert, fmt: str, host: HostIdentity, out: IO[str]) -> None:
    if fmt == "kubescape":
        out.write(kubescape.dumps(alert, host) + "\n")
    elif fmt == "json":
        out.write(
            json.dumps(
                {
                    "rule_id": alert.rule_id,
                    "rule_name": alert.rule_name,
                    "message": alert.message,
                    "severity": alert.severity,
                    **alert.extra,
                }
            )
            + "\n"
        )
    else:
        out.write(f"{alert.rule_id} {alert.rule_name}: {alert.message}\n")
