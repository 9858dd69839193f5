"""Policy evaluation cost per event as the rule count grows (issue 5's flatness target).

Builds KubeArmorPolicies with 10, 1,000 and 10,000 rules (exact paths, directories with
and without `recursive`, `fromSource` rules, exec paths and a few globs, all selecting one
container), evaluates the same mixed batch of events against each, and prints the median
cost per event and its ratio to the 10-rule case measured in the same run.

    .venv/bin/python bench/bench_policy.py [--repeats 15] [--batch 2000]
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from pathlib import Path

from beholder.events.interfaces import HostIdentity
from beholder.events.model import ContainerInfo, Event, Operation, ProcessInfo
from beholder.formats.kubearmor_in import with_facts
from beholder.policy import PolicyEngine

RULE_COUNTS = (10, 1_000, 10_000)
RULES_PER_POLICY = 100
CONTAINER = ContainerInfo("bench", name="app", namespace="bench", labels={"app": "bench"})


def _rule(i: int) -> tuple[str, str]:
    """(section, YAML list item) for rule number i: a realistic mix of rule kinds."""
    kind = i % 10
    if kind < 5:
        return "file.matchPaths", f"- {{path: /srv/data/d{i % 97}/file{i}.conf}}"
    if kind < 7:
        return "file.matchDirectories", f"- {{dir: /var/lib/app{i}/, recursive: {str(kind == 6).lower()}}}"
    if kind == 7:
        return "file.matchPaths", f"- {{path: /etc/secret{i}, fromSource: [{{path: /usr/bin/tool{i}}}]}}"
    if kind == 8:
        return "process.matchPaths", f"- {{path: /opt/bin/prog{i}}}"
    if i % 500 == 9:
        return "file.matchPatterns", f"- {{pattern: /tmp/p{i}/*.log}}"
    return "process.matchDirectories", f"- {{dir: /opt/tools{i}/}}"


def write_policies(directory: Path, count: int) -> None:
    for start in range(0, count, RULES_PER_POLICY):
        sections: dict[str, list[str]] = {}
        for i in range(start, min(start + RULES_PER_POLICY, count)):
            section, item = _rule(i)
            sections.setdefault(section, []).append(item)
        body = []
        for top in ("process", "file"):
            lists = {k.split(".")[1]: v for k, v in sections.items() if k.startswith(top)}
            if lists:
                body.append(f"  {top}:")
                for name, items in lists.items():
                    body.append(f"    {name}:")
                    body.extend(f"    {item}" for item in items)
        text = (
            "apiVersion: security.kubearmor.com/v1\nkind: KubeArmorPolicy\n"
            f"metadata: {{name: bench-{start}, namespace: bench}}\n"
            "spec:\n  selector: {matchLabels: {app: bench}}\n  action: Audit\n" + "\n".join(body) + "\n"
        )
        (directory / f"bench-{start}.yaml").write_text(text)


def _event(op: Operation, resource: str, exe: str, flags: str = "O_RDONLY|O_CLOEXEC") -> Event:
    proc = ProcessInfo(pid=100, exe=exe, parent_exe="/bin/sh")
    data = {"fd": "-100", "flags": flags} if op is Operation.FILE else {}
    return with_facts(
        Event(
            1,
            op,
            "openat" if op is Operation.FILE else "execve",
            3,
            100,
            100,
            0,
            0,
            "x",
            1,
            resource=resource,
            process=proc,
            container=CONTAINER,
        ),
        data,
    )


def workload(size: int, seed: int = 7) -> list[Event]:
    """Mostly ordinary activity (no rule matches), some hits on rules present at every size."""
    rng = random.Random(seed)
    ordinary = [
        "/etc/ld.so.cache",
        "/usr/lib/x86_64-linux-gnu/libc.so.6",
        "/proc/self/status",
        "/var/lib/app3/state/db",
        "/srv/data/d1/file0.conf",
        "/tmp/p9/x.log",
        "/etc/secret7",
    ]
    events = []
    for _ in range(size):
        roll = rng.random()
        if roll < 0.8:
            events.append(
                _event(
                    Operation.FILE,
                    rng.choice(ordinary) if roll < 0.4 else f"/home/u/{rng.randrange(10**6)}/f.txt",
                    "/usr/bin/tool7",
                )
            )
        else:
            events.append(_event(Operation.PROCESS, rng.choice(["/usr/bin/ls", "/opt/bin/prog8"]), "/bin/sh"))
    return events


def median_ns_per_event(engines: list[PolicyEngine], batch: list[Event], repeats: int) -> list[float]:
    """Round-robin over the engines, so load from other processes hits every size alike."""
    samples: list[list[float]] = [[] for _ in engines]
    for engine in engines:
        engine.evaluate(batch)  # warm the selection and compile caches
    for _ in range(repeats):
        for engine, bucket in zip(engines, samples, strict=True):
            start = time.perf_counter_ns()
            engine.evaluate(batch)
            bucket.append((time.perf_counter_ns() - start) / len(batch))
    return [statistics.median(bucket) for bucket in samples]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--batch", type=int, default=2000)
    args = parser.parse_args()
    batch = workload(args.batch)
    engines, load_seconds = [], []
    for count in RULE_COUNTS:
        with tempfile.TemporaryDirectory() as tmp:
            write_policies(Path(tmp), count)
            start = time.perf_counter()
            engine, errors = PolicyEngine.load([Path(tmp)], HostIdentity("bench"))
            load_seconds.append(time.perf_counter() - start)
        if errors:
            raise SystemExit(f"bench policies did not load: {errors[0]}")
        engines.append(engine)
    costs = median_ns_per_event(engines, batch, args.repeats)
    print(f"policy evaluation, batch of {args.batch} events, median of {args.repeats} interleaved runs")
    print(f"{'rules':>8} {'us/event':>9} {'ratio':>6} {'load+compile s':>15} {'alerts/batch':>13}")
    for count, engine, ns, load_s in zip(RULE_COUNTS, engines, costs, load_seconds, strict=True):
        alerts = len(engine.evaluate(batch))
        print(f"{count:>8} {ns / 1000:>9.3f} {ns / costs[0]:>6.2f} {load_s:>15.2f} {alerts:>13}")


if __name__ == "__main__":
    main()
