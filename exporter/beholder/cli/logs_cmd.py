"""`beholder logs`: follow the running agent's events and alerts, or read recorded files.

Live records come from the agent's query socket; `--file` reads KubeArmor JSON or OTLP JSON
recordings instead (from this node or another cluster). Either way the same filters apply
and the output is the same: KubeArmor JSON with `--json`, else one line per record with
every untrusted string escaped (`safe`) and nothing parsed as rich markup.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn
from rich.text import Text

from beholder.config import config_option
from beholder.formats.kubearmor_in import ReadReport
from beholder.formats.safe_text import safe
from beholder.query.client import QueryClientError, follow_logs
from beholder.query.offline import open_recordings, read_batches
from beholder.query.records import LOG_FILTERS, LOG_TYPES, OPERATIONS, Record, RecordFilter, kubearmor_dict
from beholder.query.server import DEFAULT_SOCKET

EXIT_NO_RECORDS = 3
PROGRESS_MIN_BYTES = 8 << 20
_STYLE = {"Block": "bold red", "Audit": "yellow", "Allow": "green"}


def console(stream: Any = None) -> Console:
    """Colour and terminal width on a TTY, plain text when piped; a long log line stays one line."""
    stream = stream or sys.stdout
    tty = stream.isatty()
    return Console(file=stream, highlight=False, soft_wrap=True, width=None if tty else 4096)


def read_recordings(paths: Iterable[str]) -> Iterator[list[Record]]:
    """Batches from recorded files, with a progress bar on a terminal for large inputs.

    Bad records are reported on stderr (first few, then a count); a recording with no
    readable record at all ends the command with exit code 3.
    """
    recordings = open_recordings(paths)
    total = sum(r.size for r in recordings)
    report = ReadReport()
    err = Console(stderr=True, highlight=False)
    show = err.is_terminal and total >= PROGRESS_MIN_BYTES
    columns = (TextColumn("replaying"), BarColumn(), DownloadColumn(), TimeRemainingColumn())
    with Progress(*columns, console=err, transient=True, disable=not show) as progress:
        task = progress.add_task("replay", total=total)
        yield from read_batches(recordings, report, lambda n: progress.advance(task, n))
    for line in report.errors:
        click.echo(f"beholder: skipped {safe(line)}", err=True)
    if report.bad > len(report.errors):
        click.echo(f"beholder: skipped {report.bad - len(report.errors)} more bad records", err=True)
    if report.agent_losses:
        stages = ", ".join(f"{stage} {n}" for stage, n in sorted(report.agent_losses.items()))
        total = sum(report.agent_losses.values())
        click.echo(f"beholder: the recording has gaps: the agent lost {total} records ({stages})", err=True)
    if not report.records and report.bad:
        click.echo(f"beholder: error: no readable records in {', '.join(paths)}", err=True)
        sys.exit(EXIT_NO_RECORDS)


def _what(record: dict[str, Any]) -> str:
    """The Resource, or `exit <code>` for a process exit (whose Resource is empty)."""
    data = record.get("EventData")
    if not record.get("Resource") and isinstance(data, dict) and data.get("syscall") == "exit":
        return f"exit {data.get('exit_code', 'unknown')}"
    return str(record.get("Resource", ""))


def log_text(record: dict[str, Any]) -> Text:
    """One KubeArmor record as a line: time, kind, where, operation, who → what, result."""
    where = "/".join(
        safe(str(record.get(k, ""))) for k in ("NamespaceName", "PodName", "ContainerName") if record.get(k)
    )
    alert = "PolicyName" in record
    line = Text()
    line.append(str(record.get("UpdatedTime", ""))[:23] + " ", style="dim")
    line.append("ALERT " if alert else "LOG   ", style="bold magenta" if alert else "cyan")
    line.append(f"{where or 'host:' + safe(str(record.get('HostName', '')))} ", style="blue")
    line.append(f"{safe(str(record.get('Operation', ''))):<12} ")
    line.append(safe(str(record.get("ProcessName") or record.get("Source", ""))))
    line.append(" -> ")
    line.append(safe(_what(record)), style="bold")
    line.append(f" {safe(str(record.get('Result', '')))}")
    if alert:
        action = safe(str(record.get("Action", "")))
        line.append(f" [{safe(str(record.get('PolicyName', '')))} {action}]", style=_STYLE.get(action, "red"))
    return line


def _offline(files: tuple[str, ...], wanted: RecordFilter, limit: int) -> Iterator[dict[str, Any]]:
    matching = (kubearmor_dict(r) for batch in read_recordings(files) for r in batch if wanted.matches(r))
    return islice(matching, limit or None)


def workload_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """-n/--namespace, --pod, --container: which workloads `logs` and `summary` show."""
    for option in reversed(
        (
            click.option("-n", "--namespace", default="", help="Only this Kubernetes namespace."),
            click.option("--pod", default="", help="Only this pod."),
            click.option("--container", default="", help="Only this container (name or id)."),
        )
    ):
        fn = option(fn)
    return fn


def source_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """--socket (the live agent) or --file (recordings): where `logs` and `summary` read from."""
    fn = click.option(
        "--file",
        "files",
        multiple=True,
        type=click.Path(exists=True, dir_okay=False),
        help="Read recorded KubeArmor JSON or OTLP JSON instead of the live agent; repeatable.",
    )(fn)
    return click.option(
        "--socket", "socket_path", default=DEFAULT_SOCKET, show_default=True, help="Agent query socket."
    )(fn)


@click.command("logs")
@workload_options
@click.option(
    "--logFilter",
    "log_filter",
    type=click.Choice(LOG_FILTERS, case_sensitive=False),
    default="policy",
    show_default=True,
    help="policy: alerts; system: telemetry; all: both.",
)
@click.option(
    "--operation",
    type=click.Choice(tuple(OPERATIONS), case_sensitive=False),
    help="Only this kind of operation (karmor's `Process` works too).",
)
@click.option(
    "--logType",
    "log_type",
    type=click.Choice(LOG_TYPES, case_sensitive=False),
    help="Only container records (ContainerLog) or only host records (HostLog).",
)
@click.option("--resource", default="", help="Only records whose Resource contains this text.")
@click.option(
    "--source", default="", help="Only records whose Source (the acting process) contains this text."
)
@click.option(
    "-l", "--labels", default="", metavar="K=V[,K=V]", help="Only containers with all these labels."
)
@click.option("--json", "as_json", is_flag=True, help="KubeArmor JSON, one record per line.")
@click.option("--limit", type=click.IntRange(min=0), default=0, help="Stop after N records (0: no limit).")
@click.option(
    "--backlog",
    type=click.IntRange(min=0),
    default=0,
    help="Live: first show up to N recent matching records the agent still holds.",
)
@source_options
@config_option
def command(
    namespace: str,
    pod: str,
    container: str,
    log_filter: str,
    operation: str | None,
    log_type: str | None,
    resource: str,
    source: str,
    labels: str,
    as_json: bool,
    limit: int,
    backlog: int,
    socket_path: str,
    files: tuple[str, ...],
) -> None:
    """Show events and alerts as they happen, filtered like `karmor logs`.

    \b
    Examples:
      beholder logs                                   alerts, live
      beholder logs -n default --logFilter all --operation process --json
      beholder logs --logFilter system --limit 20     twenty telemetry records
      beholder logs --file kubearmor.json --pod nginx-8f458dc5b-fl42t
      beholder logs --logFilter all --logType ContainerLog -l app=web --source /bin/sh

    \b
    Exit codes: 0 done, 1 agent unreachable or error, 2 bad usage,
    3 the recordings held no readable record, 130 interrupted.
    """
    try:
        wanted = RecordFilter(
            namespace, pod, container, log_filter, operation or "", log_type or "", resource, source, labels
        )
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    if files:
        records = _offline(files, wanted, limit)
    else:
        records = follow_logs(socket_path, wanted, backlog=backlog, limit=limit)
    out = console()
    try:
        for record in records:
            if "notice" in record:
                click.echo(f"beholder: {safe(str(record['notice']))}", err=True)
            elif as_json:
                out.file.write(json.dumps(record) + "\n")
                out.file.flush()
            else:
                out.print(log_text(record))
    except QueryClientError as exc:
        raise click.ClickException(str(exc)) from None
    except BrokenPipeError:  # `beholder logs | head`: the reader has seen enough
        sys.stderr.close()
