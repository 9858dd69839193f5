"""`beholder semconv generate|check`: keep the generated docs and constants in step with the registry."""

from __future__ import annotations

from pathlib import Path

import click

from beholder.otel.semconv_gen import (
    PROJECT_ROOT,
    SemconvError,
    load_registry,
    schema_errors,
    stale_files,
    write,
)

_ROOT = click.option(
    "--root",
    type=click.Path(file_okay=False, path_type=Path),
    default=PROJECT_ROOT,
    show_default=True,
    help="Project checkout holding semconv/ and exporter/.",
)


@click.group("semconv")
def command() -> None:
    """Semantic convention: generate docs and constants from semconv/registry, or check them.

    \b
    Examples:
      beholder semconv generate
      beholder semconv check --schema ../shared/reference/weaver/semconv.schema.json
    """


@command.command("generate")
@_ROOT
def generate(root: Path) -> None:
    """Rewrite semconv/docs/*.md and exporter/beholder/otel/semconv.py."""
    try:
        changed = write(root)
    except SemconvError as exc:
        raise click.ClickException(str(exc)) from None
    for rel in changed:
        click.echo(f"wrote {rel}")
    if not changed:
        click.echo("generated files are up to date")


@command.command("check")
@_ROOT
@click.option(
    "--schema",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="Also validate the registry YAML against this Weaver JSON schema.",
)
def check(root: Path, schema: Path | None) -> None:
    """Fail (exit 1) when the registry is invalid or a generated file is stale."""
    try:
        problems = [f"stale: {rel} (run `beholder semconv generate`)" for rel in stale_files(root)]
        if schema is not None:
            problems += schema_errors(load_registry(root), schema)
    except SemconvError as exc:
        raise click.ClickException(str(exc)) from None
    for line in problems:
        click.echo(line, err=True)
    if problems:
        raise click.ClickException(f"{len(problems)} semconv problem(s)")
    click.echo("semconv registry valid; generated files up to date")
