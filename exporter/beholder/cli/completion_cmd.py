"""`beholder completion SHELL`: print the shell's completion script for `beholder`."""

from __future__ import annotations

import click
from click.shell_completion import get_completion_class

SHELLS = ("bash", "zsh", "fish")


@click.command("completion")
@click.argument("shell", type=click.Choice(SHELLS, case_sensitive=False))
def command(shell: str) -> None:
    """Print a completion script; commands, options and choices then complete with TAB.

    \b
    Examples:
      eval "$(beholder completion bash)"              this bash session
      beholder completion zsh > "${fpath[1]}/_beholder"
      beholder completion fish > ~/.config/fish/completions/beholder.fish
    """
    from beholder.cli.main import cli  # the group this command is part of

    completion = get_completion_class(shell)
    if completion is None:  # unreachable with click's own shells; kept for type narrowing
        raise click.ClickException(f"click offers no completion for {shell}")
    click.echo(completion(cli, {}, "beholder", "_BEHOLDER_COMPLETE").source())
