"""`beholder policy check PATH...`: validate KubeArmor policies and explain them.

Uses the agent's own loader, so a policy that passes here is one the agent will enforce.
Exit code 1 when any policy or file is invalid; notes about parts Beholder does not
evaluate (raw AppArmor, KubeArmorNetworkPolicy…) do not fail the check.
"""

from __future__ import annotations

from pathlib import Path

import click

from beholder.policy.explain import describe
from beholder.policy.loader import load_file, policy_files


@click.group(name="policy")
def command() -> None:
    """Work with KubeArmor policies (KubeArmorPolicy, HostPolicy, ClusterPolicy)."""


@command.command(name="check")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--quiet", "-q", is_flag=True, help="Only print problems.")
def check(paths: tuple[Path, ...], quiet: bool) -> None:
    """Validate policy files or directories and explain what each policy matches.

    \b
    Examples:
      beholder policy check deploy/policies/
      beholder policy check -q ksp.yaml hsp.yaml
    """
    files, errors = policy_files(list(paths))
    count = 0
    for path in files:
        result = load_file(path)
        errors.extend(result.errors)
        for note in result.skipped:
            click.echo(f"note: {note}", err=True)
        for policy in result.policies:
            count += 1
            if not quiet:
                click.echo(f"{path}:")
                click.echo("\n".join(f"  {line}" for line in describe(policy)))
    for line in errors:
        click.echo(f"error: {line}", err=True)
    click.echo(f"{count} valid, {len(errors)} invalid", err=True)
    if errors:
        raise SystemExit(1)
