"""`beholder probe`: what this kernel offers and which sensors will run (like `karmor probe`)."""

from __future__ import annotations

import json

import click

from beholder.sensors.catalog import SENSORS
from beholder.sensors.kernel import missing_tracepoints, probe_features, tracefs_unreadable
from beholder.sensors.syscall_hooks import choose_hooks, syscall_roles


@click.command("probe")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--no-attach", is_flag=True, help="Skip the trial kprobe and BPF-LSM attaches.")
def command(as_json: bool, no_attach: bool) -> None:
    """Report kernel features (BTF, tracefs, ring buffer, cap_capable, kprobes, BPF-LSM) and sensors.

    \b
    Examples:
      beholder probe
      beholder probe --json | jq .sensors
    """
    features = probe_features(try_attach=not no_attach)
    sensors = {}
    for sensor in SENSORS:
        missing = missing_tracepoints(sensor)
        if tracefs_unreadable():
            status = "unknown: tracefs is not readable without root"
        else:
            status = "will run" if not missing else f"cannot run: {missing[0]} missing"
        sensors[sensor.name] = {
            "status": status,
            "tracepoints": list(sensor.tracepoints),
            "syscalls": sorted(sensor.roles()),
        }
    hooks = (
        "unknown: tracefs is not readable without root"
        if tracefs_unreadable()
        else choose_hooks(syscall_roles(SENSORS), counting=False).describe()
        + " (raw_syscalls while profiles count syscalls)"
    )
    lsm = next(f for f in features if f.name == "bpf-lsm") if not no_attach else None
    enforcement = (
        "BPF-LSM attach works here, but Beholder does not attach its BPF-LSM programs yet; "
        if lsm and lsm.available
        else "BPF-LSM refused; "
    ) + "`beholder run --enforce kill` SIGKILLs Block-rule callers at syscall entry (docs/enforcement.md)"
    if as_json:
        payload = {
            "features": {f.name: {"available": f.available, "detail": f.detail} for f in features},
            "sensors": sensors,
            "syscall_hooks": hooks,
            "enforcement": enforcement,
        }
        click.echo(json.dumps(payload, indent=2))
        return
    click.echo("Kernel features:")
    for f in features:
        mark = "unknown" if f.available is None else "yes" if f.available else "no"
        click.echo(f"  {f.name:<24} {mark:<7}  {f.detail}")
    click.echo("Sensors:")
    for name, info in sensors.items():
        syscalls = f", {len(info['syscalls'])} syscalls" if info["syscalls"] else ""
        click.echo(f"  {name:<24} {info['status']} ({len(info['tracepoints'])} tracepoints{syscalls})")
    click.echo(f"Syscall hooks: {hooks}")
    click.echo(f"Enforcement: {enforcement}")
