"""`make soak`: the long reliability runs that `make test` only samples.

1. idle: the agent with policies and a profile and no workload; its median RSS is the
   baseline the load phase is compared with.
2. load: ~50k kernel events/s of exec, open, connect and DNS for 10 minutes, exporting
   to a loopback OTLP receiver: RSS per minute, max RSS, trend, where the memory is (smaps
   by component: heap, ring buffer, grpcio, libraries), and the exact books
   (kernel seen = emitted + suppressed + lost; user records; exported + counted losses).
3. outage: the collector down for 5 minutes at 10k events/s, then up: markers must all
   arrive, in order, and nothing may be counted lost.
4. fuzz: the hypothesis targets of tests/reliability/test_fuzz.py with 10,000 examples each.

Knobs (environment): SOAK_DURATION_S, SOAK_RATE, OUTAGE_S, OUTAGE_RATE, FUZZ_EXAMPLES,
SOAK_PHASES (comma list of idle,load,outage,fuzz). Exit status 1 when a check fails.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from otel_export.receiver import Collector, GrpcReceiver  # noqa: E402
from reliability.harness import RSS_LIMIT_MIB, RssSampler  # noqa: E402
from reliability.scenarios import agent_running, run_load, run_outage  # noqa: E402

PHASES = os.environ.get("SOAK_PHASES", "idle,load,outage,fuzz").split(",")
DURATION_S = float(os.environ.get("SOAK_DURATION_S", "600"))
RATE = int(os.environ.get("SOAK_RATE", "50000"))
OUTAGE_S = float(os.environ.get("OUTAGE_S", "300"))
OUTAGE_RATE = int(os.environ.get("OUTAGE_RATE", "10000"))
FUZZ_EXAMPLES = os.environ.get("FUZZ_EXAMPLES", "10000")
IDLE_S = 30.0
WARMUP_S = 30.0


def loadavg() -> str:
    """How busy the machine was (shared with other work): /proc/loadavg's three averages."""
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def show(name: str, figures: dict[str, object]) -> None:
    print(f"{name}: {json.dumps(figures, default=str)}", flush=True)


def idle_rss(tmp: Path) -> float:
    with GrpcReceiver(Collector()) as receiver, agent_running(tmp, receiver) as agent:
        sampler = RssSampler(agent.pid).start()
        time.sleep(IDLE_S)
        samples = sampler.stop()
        agent.stop()
    median = statistics.median(samples)
    show("idle", {"rss_median_mib": round(median, 1), "rss_max_mib": round(max(samples), 1),
                  "memory_mib": sampler.last_breakdown, "loadavg": loadavg()})  # fmt: skip
    return median


def load(tmp: Path, baseline_mib: float | None) -> bool:
    run = run_load(tmp, RATE, DURATION_S, WARMUP_S)
    per_minute = [
        round(statistics.median(run.samples_mib[i : i + 120]), 1) for i in range(0, len(run.samples_mib), 120)
    ]
    seen = run.books.kernel["seen"]
    figures = {
        **run.books.summary(),
        "kernel_events_per_s": round(seen / (DURATION_S + WARMUP_S)),
        "target_events_per_s": RATE,
        "rss_median_per_minute_mib": per_minute,
        "rss_first_third_mib": round(run.trend.first_third_mib, 1),
        "rss_last_third_mib": round(run.trend.last_third_mib, 1),
        "rss_max_mib": round(run.trend.max_mib, 1),
        "rss_growing": run.trend.growing(),
        "rss_limit_mib": RSS_LIMIT_MIB,
        "memory_largest_mib": run.memory_largest,  # smaps every 5 s: the largest total seen
        "memory_last_mib": run.memory_last,
        "loadavg": loadavg(),
    }
    if baseline_mib:
        figures["rss_max_over_idle"] = round(run.trend.max_mib / baseline_mib, 2)
    figures["balanced_within_shutdown_window"] = run.books.balanced(slack=RATE // 10)
    show("load", figures)
    return (
        figures["balanced_within_shutdown_window"]
        and not run.trend.growing()
        and run.trend.max_mib <= RSS_LIMIT_MIB
    )


def outage(tmp: Path) -> bool:
    run = run_outage(tmp, OUTAGE_RATE, down_s=OUTAGE_S, up_s=30, drain_timeout_s=OUTAGE_S * 2)
    in_order = run.markers_received == list(range(run.markers_sent))
    sent = run.books.agent["decoded"] + run.books.agent["alerts"]
    figures = {
        **run.books.summary(),
        "markers_sent": run.markers_sent,
        "markers_received": len(run.markers_received),
        "in_order": in_order,
        "exported_over_sent": round(run.books.exported / max(sent, 1), 4),
    }
    show("outage", figures)
    balanced = run.books.balanced(slack=OUTAGE_RATE // 10)
    return balanced and in_order and not run.books.lost and run.books.spooled == 0


def fuzz() -> bool:
    env = {**os.environ, "BEHOLDER_FUZZ_EXAMPLES": FUZZ_EXAMPLES}
    started = time.monotonic()
    test = ROOT / "tests" / "reliability" / "test_fuzz.py"
    ok = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(test)], env=env
    ).returncode
    show("fuzz", {"examples_per_target": int(FUZZ_EXAMPLES), "seconds": round(time.monotonic() - started)})
    return ok == 0


def main() -> int:
    results: dict[str, bool] = {}
    with tempfile.TemporaryDirectory(prefix="beholder-soak-") as tmp_dir:
        tmp = Path(tmp_dir)
        for phase in ("idle", "load", "outage"):
            (tmp / phase).mkdir()
        baseline = idle_rss(tmp / "idle") if "idle" in PHASES else None
        if "load" in PHASES:
            results["load"] = load(tmp / "load", baseline)
        if "outage" in PHASES:
            results["outage"] = outage(tmp / "outage")
    if "fuzz" in PHASES:
        results["fuzz"] = fuzz()
    show("soak", {phase: "pass" if ok else "FAIL" for phase, ok in results.items()})
    return 0 if all(results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
