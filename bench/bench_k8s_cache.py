"""Pod cache costs as the node fills up: lookups, watch events and relists stay flat.

The pipeline calls `PodCache.lookup` once per new container and the watcher applies one
watch event at a time; neither may grow with the number of pods cached. For caches of
110 pods (kubelet's default limit) and 2,048 pods (the cache's bound) this prints, measured
in the same run:

- lookup: cost per call, and its ratio to a plain `dict.get` on the same keys;
- watch event: cost of one MODIFIED upsert, and its ratio to the 110-pod case;
- relist: cost per pod of `replace(all pods)`, and its ratio to the 110-pod case.

    .venv/bin/python bench/bench_k8s_cache.py [--repeats 7]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

from beholder.enrich.k8s.cache import PodCache

SIZES = (110, 2048)
LOOKUPS = 20_000


def _median_s(repeats: int, run: Callable[[], None]) -> float:
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def _pod(i: int) -> dict:
    """A Deployment pod with one container, shaped like the API's JSON."""
    return {
        "metadata": {
            "name": f"web-7d9c6b5f8d-{i:05d}",
            "namespace": "shop",
            "uid": f"pod-{i}",
            "labels": {"app": "web", "pod-template-hash": "7d9c6b5f8d"},
            "ownerReferences": [{"kind": "ReplicaSet", "name": "web-7d9c6b5f8d", "controller": True}],
        },
        "spec": {
            "nodeName": "node-a",
            "serviceAccountName": "web",
            "containers": [{"name": "nginx", "image": "nginx"}],
        },
        "status": {
            "containerStatuses": [
                {
                    "name": "nginx",
                    "image": "docker.io/library/nginx:1.27",
                    "imageID": "docker.io/library/nginx@sha256:" + "ab" * 32,
                    "containerID": f"containerd://{i:064x}",
                }
            ]
        },
    }


def _pods(count: int) -> list[dict]:
    return [_pod(i) for i in range(count)]


def measure(size: int, repeats: int) -> dict[str, float]:
    pods = _pods(size)
    cache = PodCache(max_pods=max(SIZES))
    cache.replace(pods)
    keys = [f"{i % size:064x}" for i in range(LOOKUPS)]
    plain = {f"{i:064x}": i for i in range(size)}
    lookup = _median_s(repeats, lambda: [cache.lookup(k) for k in keys]) / LOOKUPS
    baseline = _median_s(repeats, lambda: [plain.get(k) for k in keys]) / LOOKUPS
    modified = pods[size // 2]
    event = _median_s(repeats, lambda: [cache.upsert(modified) for _ in range(200)]) / 200
    relist = _median_s(repeats, lambda: cache.replace(pods)) / size
    return {"lookup": lookup, "dict_get": baseline, "event": event, "relist": relist}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    measure(SIZES[0], 1)  # warm-up: imports, allocator and caches
    results = {size: measure(size, args.repeats) for size in SIZES}
    small = results[SIZES[0]]
    header = ("pods", "lookup µs", "x dict.get", "event µs", "x 110", "relist µs/pod", "x 110")
    print(" ".join(f"{h:>{w}}" for h, w in zip(header, (6, 10, 10, 9, 6, 14, 6), strict=True)))
    for size, r in results.items():
        print(
            f"{size:>6} {r['lookup'] * 1e6:>10.2f} {r['lookup'] / r['dict_get']:>10.1f}"
            f" {r['event'] * 1e6:>9.1f} {r['event'] / small['event']:>6.2f}"
            f" {r['relist'] * 1e6:>14.1f} {r['relist'] / small['relist']:>6.2f}"
        )


if __name__ == "__main__":
    main()
