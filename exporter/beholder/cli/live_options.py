"""`beholder run`'s cluster-wide defaults, under KubeArmor's names and with its defaults.

Each setting answers to its KubeArmor spelling too (`--defaultFilePosture block`, config
file key `defaultFilePosture`, `BEHOLDER_RUN_DEFAULTFILEPOSTURE`), so a KubeArmor
configuration carries over unchanged. `hostVisibility` keeps KubeArmor's `default`: none
on a Kubernetes node, everything on a plain host.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from beholder.policy.evaluate import POSTURES, Posture
from beholder.policy.throttle import AlertThrottle
from beholder.sources.live import Settings
from beholder.sources.visibility import ALL, EVERYTHING, VisibilityError, parse_visibility

_CLASSES = ("file", "network", "capabilities")


def _posture_option(prefix: str, cls: str, camel: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    name = f"{prefix.replace('-', '_')}default_{cls}_posture"
    scope = "the host gets" if prefix else "containers get"
    return click.option(
        f"--{prefix}default-{cls}-posture",
        f"--{camel}",
        name,
        type=click.Choice(POSTURES, case_sensitive=False),
        default="audit",
        show_default=True,
        help=f"What {scope} for {cls} operations an Allow policy does not cover.",
    )


def live_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Postures, visibility and alert throttling (KubeArmor's settings), as keyword arguments."""
    func = click.option(
        "--throttle-sec",
        "--throttleSec",
        "throttle_sec",
        type=click.IntRange(1),
        default=30,
        show_default=True,
        help="Seconds a container's alerts are dropped once it went over --max-alert-per-sec.",
    )(func)
    func = click.option(
        "--max-alert-per-sec",
        "--maxAlertPerSec",
        "max_alert_per_sec",
        type=click.IntRange(1),
        default=10,
        show_default=True,
        help="Policy alerts a container may raise per second before throttling starts.",
    )(func)
    func = click.option(
        "--alert-throttling/--no-alert-throttling",
        "--alertThrottling/--no-alertThrottling",
        "alert_throttling",
        default=True,
        show_default=True,
        help="Throttle each container's policy alerts (KubeArmor alertThrottling); one AlertThreshold "
        "record says when, every dropped alert is counted.",
    )(func)
    func = click.option(
        "--host-visibility",
        "--hostVisibility",
        "host_visibility",
        default="default",
        show_default=True,
        metavar="OPS",
        help=f"Host telemetry: {ALL}, none, or default (none on a Kubernetes node, all elsewhere).",
    )(func)
    func = click.option(
        "--visibility",
        "visibility",
        default=ALL,
        show_default=True,
        metavar="OPS",
        help="Container telemetry unless the namespace's kubearmor-visibility annotation says otherwise.",
    )(func)
    for cls in reversed(_CLASSES):
        func = _posture_option("host-", cls, f"hostDefault{cls.capitalize()}Posture")(func)
    for cls in reversed(_CLASSES):
        func = _posture_option("", cls, f"default{cls.capitalize()}Posture")(func)
    return func


def settings_from(options: dict[str, Any], kubernetes: bool) -> Settings:
    """Settings from the options `live_options` added (popped from `options`)."""
    posture = Posture(*(options.pop(f"default_{c}_posture").lower() for c in _CLASSES))
    host_posture = Posture(*(options.pop(f"host_default_{c}_posture").lower() for c in _CLASSES))
    visibility = _visibility(options.pop("visibility"), "--visibility")
    host_text = options.pop("host_visibility")
    if host_text.strip().lower() == "default":
        host_visibility = frozenset() if kubernetes else EVERYTHING
    else:
        host_visibility = _visibility(host_text, "--host-visibility")
    return Settings(posture, host_posture, visibility, host_visibility)


def _visibility(text: str, flag: str) -> frozenset:
    try:
        return parse_visibility(text)
    except VisibilityError as exc:
        raise click.BadParameter(str(exc), param_hint=flag) from None


def throttle_from(options: dict[str, Any]) -> AlertThrottle | None:
    """The alert throttle the options ask for (popped from `options`), None when off."""
    on = options.pop("alert_throttling")
    limit, seconds = options.pop("max_alert_per_sec"), options.pop("throttle_sec")
    return AlertThrottle(limit, seconds) if on else None
