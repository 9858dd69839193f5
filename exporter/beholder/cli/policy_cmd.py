"""`beholder policy check PATH...`: validate KubeArmor policies and explain them.

Uses the agent's own loader, so a policy that passes here is one the agent will enforce.
Exit code 1 when any policy or file is invalid, when a file holds no policy at all, or when a
document is of a kind Beholder does not evaluate (KubeArmorNetworkPolicy): a CI gate must not
pass a file that enforces nothing. `--allow-unevaluated` lets the last case through; notes
about parts of a valid policy Beholder does not evaluate (raw AppArmor) never fail the check.
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
@click.option(
    "--allow-unevaluated",
    is_flag=True,
    help="Pass documents of a kind Beholder does not evaluate (KubeArmorNetworkPolicy) with a note.",
)
def check(paths: tuple[Path, ...], quiet: bool, allow_unevaluated: bool) -> None:
    """Validate policy files or directories and explain what each policy matches.

    \b
    Examples:
      beholder policy check deploy/policies/
      beholder policy check -q ksp.yaml hsp.yaml
    """
    files, errors = policy_files(list(paths))
    count, invalid = 0, len(errors)
    for path in files:
        result = load_file(path)
        errors.extend(result.errors)
        invalid += result.invalid
        if not allow_unevaluated:
            errors.extend(result.unevaluated)
            invalid += len(result.unevaluated)
        if result.readable and not (result.policies or result.errors or result.unevaluated):
            errors.append(f"{path}: no KubeArmor policy in this file")
            invalid += 1
        for note in result.skipped:
            if allow_unevaluated or note not in result.unevaluated:
                click.echo(f"note: {note}", err=True)
        for policy in result.policies:
            count += 1
            if not quiet:
                click.echo(f"{path}:")
                click.echo("\n".join(f"  {line}" for line in describe(policy)))
    for line in errors:
        click.echo(f"error: {line}", err=True)
    click.echo(f"{count} valid, {invalid} invalid", err=True)
    if errors:
        raise SystemExit(1)
