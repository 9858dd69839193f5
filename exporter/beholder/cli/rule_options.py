"""Options that shape the profile rule engine, shared by `run` and `profile evaluate`:
which rules run (`--enable`/`--disable`) and node-agent's alert cooldown."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from beholder.bob.cooldown import DEFAULT_AFTER, DEFAULT_DURATION_S, CooldownSettings
from beholder.bob.rules import ALL_SPECS, default_enabled
from beholder.enrich.mounts import container_mounts


def rule_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Add --enable, --disable, --rule-cooldown and --rule-cooldown-after to a command."""
    for option in reversed(
        (
            click.option(
                "--enable", "enable_rules", multiple=True, metavar="RULE", help="Also run this rule."
            ),
            click.option(
                "--disable", "disable_rules", multiple=True, metavar="RULE", help="Do not run this rule."
            ),
            click.option(
                "--rule-cooldown",
                type=click.FloatRange(0),
                default=DEFAULT_DURATION_S,
                show_default=True,
                help="Seconds an alert key (container, rule, uniqueId) stays quiet after alerting, "
                "as node-agent; 0 turns the cooldown off so every attempt alerts (security testing).",
            ),
            click.option(
                "--rule-cooldown-after",
                type=click.IntRange(1),
                default=DEFAULT_AFTER,
                show_default=True,
                help="Alerts a key may raise before its cooldown starts.",
            ),
        )
    ):
        command = option(command)
    return command


def enabled_rules(enable: tuple[str, ...], disable: tuple[str, ...]) -> set[str]:
    """The default rule set with --enable added and --disable taken away; unknown ids refused."""
    known = {s.id for s in ALL_SPECS}
    for flag, ids in (("--enable", enable), ("--disable", disable)):
        unknown = sorted(set(ids) - known)
        if unknown:
            raise click.BadParameter(f"unknown rule {', '.join(unknown)}", param_hint=flag)
    return (default_enabled() | set(enable)) - set(disable)


def engine_options(
    enable: tuple[str, ...], disable: tuple[str, ...], cooldown_s: float, cooldown_after: int
) -> dict[str, Any]:
    """Keyword arguments for `ProfileEngine` from the options above; R1001 and R1004 read
    each container's mounts through its processes."""
    return {
        "enabled": enabled_rules(enable, disable),
        "cooldown": CooldownSettings(duration_s=cooldown_s, after=cooldown_after),
        "mounts": container_mounts,
    }
