"""Settings from a YAML file and the environment, under one documented precedence.

    command-line flags  >  BEHOLDER_* variables  >  config file  >  built-in defaults

The file (`--config PATH`, else `$BEHOLDER_CONFIG`, else `/etc/beholder/config.yaml` when
it exists) has one section per command, keyed by option name, plus an `otel` section of
`OTEL_*` variables:

    run:
      cluster-name: prod-eu
      output: [console, otlp]
    logs:
      socket: /run/beholder/query.sock
    otel:
      OTEL_EXPORTER_OTLP_ENDPOINT: http://collector:4317

Environment variables name the command and the option: `BEHOLDER_RUN_CLUSTER_NAME`,
`BEHOLDER_LOGS_SOCKET`; for a subcommand, `BEHOLDER_PROFILE_LEARN_DURATION`. Repeatable
options take comma-separated values. `OTEL_*` variables already in the environment win
over the file's `otel` section. Click applies flags over the `default_map` built here, which
is what gives flags the last word. A key that names no command or option (`clustr-name`) is
an error naming the file and the key, not a setting silently ignored.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
import yaml

from beholder.policy.yamlsafe import error_line, load_documents

DEFAULT_PATH = Path("/etc/beholder/config.yaml")
ENV_CONFIG = "BEHOLDER_CONFIG"
ENV_PREFIX = "BEHOLDER_"
_SCALARS = (str, int, float, bool)


class ConfigError(click.ClickException):
    """A config file or variable that cannot be used: one line naming file and field."""


@dataclass(frozen=True)
class Config:
    path: Path | None = None
    sections: dict[str, Any] = field(default_factory=dict)  # command name -> options (nested for groups)
    otel: dict[str, str] = field(default_factory=dict)
    spelled: dict[tuple[str, ...], str] = field(default_factory=dict)  # key path -> `run.cluster-name`


def _check_section(
    where: str, section: Any, spelled: dict[tuple[str, ...], str] | None = None, at: tuple[str, ...] = ()
) -> dict[str, Any]:
    if not isinstance(section, dict):
        raise ConfigError(f"{where}: expected a mapping of option names to values")
    out: dict[str, Any] = {}
    for key, value in section.items():
        if not isinstance(key, str):
            raise ConfigError(f"{where}: option names must be strings, got {key!r}")
        name = key.replace("-", "_").lower()
        if spelled is not None:
            spelled[(*at, name)] = f"{spelled[at]}.{key}" if at else key
        if isinstance(value, dict):
            out[name] = _check_section(f"{where}.{key}", value, spelled, (*at, name))
        elif isinstance(value, list) and all(isinstance(v, _SCALARS) for v in value):
            out[name] = [str(v) for v in value]
        elif value is None or isinstance(value, _SCALARS):
            out[name] = value
        else:
            raise ConfigError(f"{where}.{key}: expected a value or a list of values")
    return out


def load_config(path: str | Path | None, environ: Mapping[str, str] = os.environ) -> Config:
    """Read the config file; no file (and none asked for) is an empty config."""
    explicit = path or environ.get(ENV_CONFIG)
    chosen = Path(explicit) if explicit else DEFAULT_PATH
    if not chosen.exists():
        if explicit:
            raise ConfigError(f"{chosen}: config file not found")
        return Config()
    try:
        docs = load_documents(chosen.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{chosen}: cannot read: {exc}") from None
    except (yaml.YAMLError, ValueError, RecursionError) as exc:
        raise ConfigError(error_line(str(chosen), exc)) from None
    docs = [d for d in docs if d is not None]
    if len(docs) > 1:
        raise ConfigError(f"{chosen}: expected one YAML document, found {len(docs)}")
    doc = docs[0] if docs else {}
    otel = doc.pop("otel", None) if isinstance(doc, dict) else None
    spelled: dict[tuple[str, ...], str] = {}
    sections = _check_section(str(chosen), doc, spelled)
    if not isinstance(otel, dict | None):
        raise ConfigError(f"{chosen}: otel: expected a mapping of OTEL_* variables")
    for key, value in (otel or {}).items():
        if not isinstance(key, str) or not key.upper().startswith("OTEL_"):
            raise ConfigError(f"{chosen}: otel.{key}: only OTEL_* variables belong here")
        if isinstance(value, dict | list):
            raise ConfigError(f"{chosen}: otel.{key}: expected a single value")
    otel_vars = {k.upper(): str(v) for k, v in (otel or {}).items() if v is not None}
    return Config(chosen, sections, otel_vars, spelled)


def unknown_keys(root: click.Command, config: Config) -> list[str]:
    """Keys of the file that no command reads: a section that is no command taking `--config`,
    or an option that command does not have."""
    return list(_unknown(root, config.sections, (), config))


def _subcommand(command: click.Command, name: str) -> click.Command | None:
    """Asked through `get_command`, so that a lazy group (the root `beholder` group imports a
    command's module only when asked) answers too, and only for the names a file uses."""
    return command.get_command(click.Context(command), name) if isinstance(command, click.Group) else None


def _subcommands(command: click.Command) -> dict[str, click.Command]:
    if not isinstance(command, click.Group):
        return {}
    found = {name: _subcommand(command, name) for name in command.list_commands(click.Context(command))}
    return {name: sub for name, sub in found.items() if sub is not None}


def _reads_config(command: click.Command) -> bool:
    return any(p.name == "config" for p in command.params) or any(
        _reads_config(c) for c in _subcommands(command).values()
    )


def _unknown(command: click.Command, section: dict[str, Any], at: tuple[str, ...], config: Config):
    options = {n for p in command.params if isinstance(p, click.Option) for n in _names(p)}
    for name, value in section.items():
        key = (*at, name)
        sub = _subcommand(command, name.replace("_", "-")) or _subcommand(command, name)
        if sub is not None and isinstance(value, dict) and _reads_config(sub):
            yield from _unknown(sub, value, key, config)
        elif at and name in options and name != "config":
            continue
        else:
            where = f"{config.path}: {config.spelled.get(key, '.'.join(key))}"
            if at:
                yield f"{where}: unknown option of `beholder {' '.join(at).replace('_', '-')}`"
            else:
                readers = sorted(n for n, c in _subcommands(command).items() if _reads_config(c))
                yield f"{where}: not a section this file can have ({', '.join([*readers, 'otel'])})"


def apply_otel_env(config: Config, environ: MutableMapping[str, str] = os.environ) -> None:
    """Export the file's OTEL_* settings unless the environment already sets them."""
    for key, value in config.otel.items():
        environ.setdefault(key, value)


def _env_value(param: click.Parameter, raw: str) -> Any:
    return [v.strip() for v in raw.split(",") if v.strip()] if param.multiple else raw


def _names(param: click.Option) -> list[str]:
    """`--file` (dest `files`) answers to `file` and `files`; `--logFilter` to `logfilter`."""
    longs = [o.lstrip("-").replace("-", "_").lower() for o in param.opts if o.startswith("--")]
    return [*longs, *([param.name] if param.name and param.name not in longs else [])]


def default_map(
    command: click.Command, section: Mapping[str, Any], path: tuple[str, ...], environ: Mapping[str, str]
) -> dict[str, Any]:
    """Defaults for `command` (and its subcommands): BEHOLDER_* variables over the file."""
    out: dict[str, Any] = {}
    prefix = ENV_PREFIX + "_".join(p.upper().replace("-", "_") for p in path) + "_"
    for param in command.params:
        if not isinstance(param, click.Option) or param.name is None:
            continue
        names = _names(param)
        raw = next((environ[prefix + n.upper()] for n in names if prefix + n.upper() in environ), None)
        from_file = next((section[n] for n in names if section.get(n) is not None), None)
        if raw is not None:
            out[param.name] = _env_value(param, raw)
        elif from_file is not None:
            out[param.name] = from_file
    if isinstance(command, click.Group):
        for name, sub in _subcommands(command).items():
            nested = section.get(name.replace("-", "_"), {})
            out[name] = default_map(sub, nested if isinstance(nested, dict) else {}, (*path, name), environ)
    return out


def _path(ctx: click.Context) -> tuple[str, ...]:
    """Command names below the root group (`profile learn`), whatever the program is called."""
    names = []
    while ctx.parent is not None:
        names.append(ctx.info_name or "")
        ctx = ctx.parent
    return tuple(reversed(names)) or (ctx.info_name or "",)


def _apply(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    if ctx.resilient_parsing:  # shell completion: never fail on a half-typed command line
        return
    config = load_config(value)
    root = ctx.find_root()
    tree = root.command  # a command run on its own (tests) stands for a group of one
    if not isinstance(tree, click.Group):
        tree = click.Group(commands={root.info_name or tree.name or "": tree})
    problems = unknown_keys(tree, config)
    if problems:
        raise ConfigError("; ".join(problems))
    apply_otel_env(config)
    names = _path(ctx)
    section: Any = config.sections
    for name in names:
        section = section.get(name.replace("-", "_"), {}) if isinstance(section, dict) else {}
    ctx.default_map = {**(ctx.default_map or {}), **default_map(ctx.command, section, names, os.environ)}


def config_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    """`--config PATH` for a command: loads the file and sets the command's defaults."""
    return click.option(
        "--config",
        type=click.Path(dir_okay=False),
        envvar=ENV_CONFIG,
        is_eager=True,
        expose_value=False,
        callback=_apply,
        help=f"YAML config file (default: ${ENV_CONFIG} or {DEFAULT_PATH}). "
        "Precedence: flags > BEHOLDER_* env > file > defaults.",
    )(fn)
