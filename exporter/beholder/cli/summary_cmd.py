"""`beholder summary`: what each pod did, in `karmor summary`'s layout (seed 001).

Per workload: a header (pod, namespace, cluster, container, labels), then the Process,
File, Ingress, Egress and Bind tables. Live it asks the agent's query socket; with `--file`
it builds the same tables from recordings. Cells are escaped with `safe` and passed to rich
as `Text`, so neither escape sequences nor `[markup]` in a path can take over the terminal.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import click
from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from beholder.cli.logs_cmd import console, read_recordings, source_options, workload_options
from beholder.config import config_option
from beholder.formats.safe_text import safe
from beholder.query.client import QueryClientError, fetch_summary
from beholder.summary.aggregate import Summary
from beholder.summary.peers import StaticPeers

_HEADER = (("Pod Name", "pod"), ("Namespace Name", "namespace"), ("Cluster Name", "cluster"),
           ("Container Name", "container"), ("Labels", "labels"))  # fmt: skip
_PEER = ("protocol", "command", "peer", "port", "namespace", "labels")
_PEER_HEADS = ("PROTOCOL", "COMMAND", "POD/SVC/IP", "PORT", "NAMESPACE", "LABELS")
_FLOW = ("source", "destination")
_BIND = ("protocol", "command", "port", "address")
_SECTIONS = (  # title, table, column titles, row keys
    ("Process Data", "process", ("SRC PROCESS", "DESTINATION PROCESS PATH"), _FLOW),
    ("File Data", "file", ("SRC PROCESS", "DESTINATION FILE PATH"), _FLOW),
    ("Ingress connections", "ingress", _PEER_HEADS, _PEER),
    ("Egress connections", "egress", _PEER_HEADS, _PEER),
    ("Bind Points", "bind", ("PROTOCOL", "COMMAND", "BIND PORT", "BIND ADDRESS"), _BIND),
)  # fmt: skip
# `--type` (karmor's spelling) picks tables; `network` stands for ingress, egress and bind.
TYPES = {"process": ("process",), "file": ("file",), "network": ("ingress", "egress", "bind")}
_STATUS_STYLE = {"Allow": "green", "Audit": "yellow", "Block": "bold red", "Deny": "bold red"}


def clock(ts_ns: int) -> str:
    """`Wed Jan  4 12:35:38 UTC 2023`, the seed's LAST UPDATED TIME."""
    return time.strftime("%a %b %e %H:%M:%S UTC %Y", time.gmtime(ts_ns // 1_000_000_000))


def _cell(value: Any, style: str = "") -> Text:
    return Text(safe(str(value)), style=style)


def _tables(value: str) -> tuple[str, ...]:
    """`process,file` into table keys; an unknown type is a usage error naming it."""
    names = [v.strip().lower() for v in value.split(",") if v.strip()]
    unknown = [n for n in names if n not in TYPES]
    if unknown:
        raise click.BadParameter(
            f"{unknown[0]!r} is not one of {', '.join(TYPES)} (comma-separated)", param_hint="--type"
        )
    return tuple(table for name in names for table in TYPES[name])


def only_tables(workloads: list[dict[str, Any]], tables: tuple[str, ...]) -> list[dict[str, Any]]:
    """Each workload with the tables not asked for removed (the header stays)."""
    dropped = {key for _, key, _, _ in _SECTIONS} - set(tables)
    return [{k: v for k, v in w.items() if k not in dropped} for w in workloads]


def render(workloads: list[dict[str, Any]], out: Console) -> None:
    """The seed's layout; ASCII boxes and no colour when the output is not a terminal."""
    frame = box.ROUNDED if out.is_terminal else box.ASCII2
    for workload in workloads:
        header = Table.grid(padding=(0, 2))
        host = not workload.get("pod") and not workload.get("container")
        for title, key in _HEADER:
            header.add_row(
                Text(title, style="bold"),
                _cell(workload.get(key) or ("(host)" if key == "pod" and host else "")),
            )
        out.print(header)
        for title, key, heads, columns in _SECTIONS:
            rows = workload.get(key) or []
            if not rows:
                continue
            table = Table(*heads, "COUNT", "LAST UPDATED TIME", box=frame, header_style="bold")
            if key in ("process", "file"):
                table.add_column("STATUS")
            for row in rows:
                cells = [_cell(row.get(c, "")) for c in columns]
                cells += [_cell(row.get("count", 0)), _cell(clock(int(row.get("last_updated_ns", 0))))]
                if key in ("process", "file"):
                    status = str(row.get("status", ""))
                    cells.append(_cell(status, _STATUS_STYLE.get(status, "")))
                table.add_row(*cells)
            out.print()
            out.print(Text(title, style="bold"))
            out.print(table)
        if workload.get("evicted_rows"):
            out.print(
                Text(f"({workload['evicted_rows']} least recent rows dropped to bound memory)", style="dim")
            )
        out.print()


def load_peers(path: str | None) -> StaticPeers | None:
    """Pods and services to name connection peers with, from a kubectl JSON dump."""
    if path is None:
        return None
    try:
        return StaticPeers.from_list(json.loads(Path(path).read_text(encoding="utf-8")))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise click.ClickException(f"{path}: {str(exc)[:200]}") from None


def offline_summary(
    files: tuple[str, ...], namespace: str, pod: str, container: str, peers: StaticPeers | None = None
) -> list[dict[str, Any]]:
    summary: Summary | None = None
    for batch in read_recordings(files):
        if summary is None:
            summary = Summary(cluster=batch[0].host.cluster_label, resolver=peers)
        events = [r.event for r in batch if r.alert is None]
        summary.add(events, [r.alert for r in batch if r.alert is not None])
    return summary.snapshot(namespace, pod, container) if summary else []


@click.command("summary")
@workload_options
@click.option("--json", "as_json", is_flag=True, help="The tables as JSON (same as -o json).")
@click.option(
    "-o",
    "--output",
    "output",
    type=click.Choice(("table", "json"), case_sensitive=False),
    default="table",
    show_default=True,
    help="Output format, as karmor's `-o json`.",
)
@click.option(
    "--type",
    "types",
    default=",".join(TYPES),
    show_default=True,
    metavar="TYPE[,TYPE]",
    help="Tables to show: process, file, network (ingress, egress and bind).",
)
@source_options
@click.option(
    "--peers",
    type=click.Path(exists=True, dir_okay=False),
    help="With --file: name peers from `kubectl get pods,services -A -o json` output.",
)
@config_option
def command(
    namespace: str,
    pod: str,
    container: str,
    as_json: bool,
    output: str,
    types: str,
    socket_path: str,
    files: tuple[str, ...],
    peers: str | None,
) -> None:
    """Per-pod process, file, ingress, egress and bind tables, like `karmor summary`.

    \b
    Examples:
      beholder summary -n dvwa
      beholder summary --pod nginx-8f458dc5b-fl42t -o json
      beholder summary --type process,network
      beholder summary --file beholder-events.jsonl
      beholder summary --file events.json --peers <(kubectl get pods,services -A -o json)

    \b
    Exit codes: 0 done, 1 agent unreachable or error, 2 bad usage,
    3 the recordings held no readable record, 4 nothing matched the filters.
    """
    tables = _tables(types)
    try:
        if files:
            workloads = offline_summary(files, namespace, pod, container, load_peers(peers))
        else:
            workloads = fetch_summary(socket_path, namespace, pod, container)
    except QueryClientError as exc:
        raise click.ClickException(str(exc)) from None
    workloads = only_tables(workloads, tables)
    if as_json or output == "json":
        click.echo(json.dumps({"workloads": workloads}, indent=2))
    else:
        render(workloads, console())
    if not workloads:
        click.echo("beholder: no workload matched the filters", err=True)
        raise SystemExit(4)
