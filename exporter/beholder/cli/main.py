"""`beholder` entry point: a click group that collects the subcommands.

Each subcommand lives in its own module under `beholder.cli` and exposes `command`; list
it in `COMMAND_MODULES` to register it. A module is imported only when its command runs
(or help, completion or a test asks for it), so the long-running agent does not keep the
other commands' imports (rich, the Kubernetes helpers, ...) resident for its lifetime.
Errors surface as one line on stderr with a meaningful exit code; `--debug` shows the traceback.
"""

from __future__ import annotations

import importlib
import sys

import click

from beholder import __version__

COMMAND_MODULES = {
    "probe": "beholder.cli.probe_cmd",
    "run": "beholder.cli.run_cmd",
    "profile": "beholder.cli.profile_cmd",
    "semconv": "beholder.cli.semconv_cmd",
    "policy": "beholder.cli.policy_cmd",
    "k8s": "beholder.cli.k8s_cmd",
    "logs": "beholder.cli.logs_cmd",
    "summary": "beholder.cli.summary_cmd",
    "completion": "beholder.cli.completion_cmd",
}


class LazyGroup(click.Group):
    """Subcommands by name from `COMMAND_MODULES`, each module imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMAND_MODULES)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        module = COMMAND_MODULES.get(cmd_name)
        return importlib.import_module(module).command if module else None


class BeholderError(click.ClickException):
    """A user-facing failure: printed as one line, exit code 1."""


@click.group(
    cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100}
)
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
