"""Native hot path: decode and OTLP encoding as pure Python, mypyc-compiled and Cython-compiled.

`.venv/bin/python bench/bench_native.py`. The same unchanged typed modules
(exporter/beholder/native.py lists them) are measured three ways, each in a fresh
interpreter, in this run, the builds' rounds interleaved so that a busy moment of the
machine hits each of them (best of three): the Python sources (`BEHOLDER_PURE_PYTHON=1`),
the mypyc build that `make setup` installs, and a Cython build of the same files made here
in a temporary copy (when Cython is installed: `pip install cython`). Printed: records/s
for decoding ring-buffer records into Events and for encoding enriched Events as OTLP
protobuf and as OTLP/JSON, and each build's ratio to pure Python. A hand-written C
extension is not measured: it would be a second implementation of the same code, to keep
in step by hand.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ROUNDS = 3


def measure() -> dict[str, float]:
    """One round of rates in this interpreter, whichever build it imported."""
    sys.path.insert(0, str(ROOT / "tests"))
    from bench_encode import make_events, run_ours
    from unit.test_decoder import record

    from beholder import native
    from beholder.events.abi import RecordKind
    from beholder.events.decoding import SYSCALL_NUMBERS
    from beholder.events.interfaces import HostIdentity
    from beholder.otel import jsonwire, wire
    from beholder.otel.resource import resource_attributes
    from beholder.sensors.decode import Decoder

    addr = struct.pack("<H", 2) + struct.pack(">H", 53) + bytes([10, 0, 0, 10]) + bytes(8)
    raw = []
    for i in range(30_000):  # the bench_pipeline mix: distinct opens, some execs and connects
        path = b"/nonexistent/beholder-bench-%d\0" % i
        raw.append(record(RecordKind.FILE, SYSCALL_NUMBERS["openat"], -2, (2**64 - 100, 0, 0, 0, 0, 0), path))
        if i % 10 == 0:
            raw.append(record(RecordKind.EXEC, SYSCALL_NUMBERS["execve"], 0, (2**64 - 100, 0, 0, 0, 0, 0),
                              b"/bin/ls\0", b"ls\0-l\0/tmp\0"))  # fmt: skip
            raw.append(record(RecordKind.NET, SYSCALL_NUMBERS["connect"], 0, (10, 0, 16, 0, 0, 0), addr))

    def decode_rate() -> float:
        decode = Decoder().decode
        start = time.perf_counter()
        for r in raw:
            decode(r)
        return len(raw) / (time.perf_counter() - start)

    events = make_events(20_000)
    resource = resource_attributes(HostIdentity("bench-host", "bench-node", "bench"))
    from beholder.sensors import decode as decode_module

    return {
        "native": native.compiled(decode_module),
        "decode": decode_rate(),
        "otlp protobuf": run_ours(events, 512, resource, wire),
        "otlp json": run_ours(events, 512, resource, jsonwire),
    }


def run_measure(env: dict[str, str]) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--measure"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **env},
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def cython_copy(tmp: Path) -> Path | None:
    """The package copied to `tmp` with the native modules compiled by Cython, or None."""
    try:
        import Cython  # noqa: F401
    except ImportError:
        return None
    from beholder import native

    shutil.copytree(
        ROOT / "exporter" / "beholder", tmp / "beholder", ignore=shutil.ignore_patterns("*.so", "__pycache__")
    )
    files = [str(Path(*m.split(".")).with_suffix(".py")) for m in native.MODULES]
    script = (
        "import sys; from setuptools import setup; from Cython.Build import cythonize;"
        "setup(script_args=['build_ext', '--inplace'],"
        " ext_modules=cythonize(sys.argv[1:], compiler_directives={'language_level': 3}, quiet=True))"
    )
    subprocess.run([sys.executable, "-c", script, *files], cwd=tmp, check=True, capture_output=True)
    return tmp


def _best(results: list[dict[str, float]]) -> dict[str, float]:
    return {key: max(r[key] for r in results) for key in results[0]}


def main() -> None:
    if "--measure" in sys.argv:
        print(json.dumps(measure()))
        return
    uptime = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    print(f"== native hot path: decode and OTLP encoding, records/s (best of {ROUNDS}); {uptime}")
    with tempfile.TemporaryDirectory() as tmpdir:
        copy = cython_copy(Path(tmpdir))
        envs = {"pure Python": {"BEHOLDER_PURE_PYTHON": "1"}, "mypyc (installed)": {}}
        if copy:
            envs["Cython"] = {"PYTHONPATH": str(copy)}
        rounds: dict[str, list[dict[str, float]]] = {name: [] for name in envs}
        for _ in range(ROUNDS):  # interleaved, so a busy moment of the machine hits every build
            for name, env in envs.items():
                rounds[name].append(run_measure(env))
    builds = {name: _best(results) for name, results in rounds.items()}
    if not builds["mypyc (installed)"]["native"]:
        builds["mypyc (installed)"] = {}
    builds.setdefault("Cython", {})
    base = builds["pure Python"]
    stages = ("decode", "otlp protobuf", "otlp json")
    print(f"   {'build':<20}" + "".join(f"{stage:>24}" for stage in stages))
    for name, rates in builds.items():
        if not rates:
            print(f"   {name:<20}   not built here")
            continue
        cells = "".join(f"{rates[s]:>14,.0f} ({rates[s] / base[s]:4.2f}x)" for s in stages)
        print(f"   {name:<20}{cells}")


if __name__ == "__main__":
    main()
