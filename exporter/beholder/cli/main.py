"""`beholder` entry point: a click group that collects the subcommands.

Each subcommand lives in its own module under `beholder.cli` and exposes `command`; list
it in `COMMAND_MODULES` to register it. Errors surface as one line on stderr with a
meaningful exit code; `--debug` shows the traceback.
"""

from __future__ import annotations

import importlib
import sys

import click

from beholder import __version__

COMMAND_MODULES = (
    "beholder.cli.probe_cmd",
    "beholder.cli.run_cmd",
    "beholder.cli.profile_cmd",
    "beholder.cli.semconv_cmd",
    "beholder.cli.policy_cmd",
    "beholder.cli.k8s_cmd",
    "beholder.cli.logs_cmd",
    "beholder.cli.summary_cmd",
    "beholder.cli.completion_cmd",
)


class BeholderError(click.ClickException):
    """A user-facing failure: printed as one line, exit code 1."""


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="beholder")
@click.option("--debug", is_flag=True, help="Show tracebacks and debug logs.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Beholder: eBPF runtime security, exported the OpenTelemetry way.

    \b
    Examples:
      beholder probe                 what this kernel offers
      beholder run --duration 10     trace this host for ten seconds
    """
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug


for _module in COMMAND_MODULES:
    cli.add_command(importlib.import_module(_module).command)


def main() -> None:
    debug = "--debug" in sys.argv[1:]
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:  # one line unless --debug: users see what failed, not our stack
        if debug:
            raise
        click.echo(f"beholder: error: {type(exc).__name__}: {exc}", err=True)
        sys.exit(1)
