"""Compile, load and attach the BPF program in a short-lived child process.

bcc compiles with LLVM/clang inside whatever process calls it, and that memory never goes
back: ≈160 MiB of the agent's resident set was the compiler. So the agent runs
`python -m beholder.sensors.loader` once at start. The child compiles the program, which
loads it and attaches its tracepoints, then passes the map fds and the attachment fds
back over a unix socket (SCM_RIGHTS) and exits with `os._exit`, skipping bcc's cleanup so
nothing is detached. The agent holds the attachments from then on; closing them (or the
agent dying) detaches the program as before.

A cold compile takes seconds to tens of seconds; the child therefore also records the
compiled object in the compile cache (`bpfcache`), and the next start with the same
program, kernel and headers loads that in this process instead, without spawning anything.

The same child answers "can this kernel attach a kprobe / a BPF-LSM program?" for
`beholder probe` and `beholder run`, for the same reason.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from beholder.sensors import bpfcache
from beholder.sensors.kernel_headers import HeadersMissing, ensure_bcc_kernel_source

log = logging.getLogger("beholder.sensors.loader")
LOAD_TIMEOUT_S = 180.0  # a cold compile on a loaded 2-CPU node takes tens of seconds
_MAX_REPLY = 1 << 16
_MAX_FDS = 253  # SCM_MAX_FD: what one message can carry (maps + one fd per tracepoint)


class LoadError(RuntimeError):
    """The child could not compile, load or attach the program; the message is one line."""


@dataclass(frozen=True, slots=True)
class MapInfo:
    fd: int
    key_size: int
    value_size: int


@dataclass(frozen=True, slots=True)
class LoadedProgram:
    """What the agent keeps: map fds by name and the fds that hold the attachments."""

    maps: dict[str, MapInfo]
    attachments: dict[str, int]  # tracepoint -> perf event fd


def _first_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[0] if lines else ""


def _spawn(args: list[str], request: dict[str, object]) -> tuple[dict[str, object], list[int]]:
    """Run the child with `request` on stdin; its reply and fds come back on a socket pair."""
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    with ours, tempfile.TemporaryFile() as errors:
        try:
            child = subprocess.Popen(
                [sys.executable, "-m", "beholder.sensors.loader", str(theirs.fileno()), *args],
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=errors,
                pass_fds=[theirs.fileno()],
            )
        finally:
            theirs.close()
        assert child.stdin is not None
        child.stdin.write(json.dumps(request).encode())
        child.stdin.close()
        ours.settimeout(LOAD_TIMEOUT_S)
        try:
            data, fds, _flags, _addr = socket.recv_fds(ours, _MAX_REPLY, _MAX_FDS)
        except TimeoutError:
            child.kill()
            data, fds = b"", []
        child.wait()
        errors.seek(0)
        stderr = errors.read().decode(errors="replace")
    if not data:
        why = _first_line(stderr) or f"exit code {child.returncode}"
        raise LoadError(f"BPF loader process failed: {why}")
    reply = json.loads(data)
    if "error" in reply:
        for fd in fds:
            os.close(fd)
        raise LoadError(str(reply["error"]))
    return reply, fds


def load_program(
    source: str, cflags: Sequence[str], map_names: Sequence[str], cache_dir: Path | None = bpfcache.CACHE_DIR
) -> LoadedProgram:
    """Attach `source` from the compile cache, or compile it in a child (which fills the
    cache); the maps in `map_names` that exist come back. `cache_dir` None: always compile."""
    try:
        key = bpfcache.cache_key(source, list(cflags), ensure_bcc_kernel_source())
    except HeadersMissing as exc:
        raise LoadError(str(exc)) from exc
    cached = bpfcache.read(cache_dir, key) if cache_dir is not None else None
    if cached is not None:
        try:
            maps, attachments = bpfcache.load(cached, list(map_names))
            return LoadedProgram(
                {name: MapInfo(fd, spec.key_size, spec.value_size) for name, (fd, spec) in maps.items()},
                attachments,
            )
        except bpfcache.CacheStale as exc:
            log.warning("compiled BPF cache not usable (%s); compiling", exc)
    request = {"source": source, "cflags": list(cflags), "maps": list(map_names)}
    if cache_dir is not None:
        request["cache"] = [str(cache_dir), key]
    reply, fds = _spawn(["load"], request)
    if "cache_error" in reply:
        log.warning("%s", reply["cache_error"])
    maps = {
        name: MapInfo(fds[spec["fd"]], spec["key_size"], spec["value_size"])
        for name, spec in reply["maps"].items()
    }
    attachments = {name: fds[index] for name, index in reply["attachments"].items()}
    return LoadedProgram(maps, attachments)


def attach_check(kind: str) -> tuple[bool, str]:
    """Try a real, tiny kprobe or BPF-LSM attach (in the child): some machines list
    them yet refuse the attach."""
    try:
        reply, _fds = _spawn(["attach-check"], {"kind": kind})
    except LoadError as exc:
        return False, f"attach refused: {exc}"
    return bool(reply["available"]), str(reply["detail"])


def verify_lsm(source: str, cflags: Sequence[str], functions: Sequence[str]) -> dict[str, str]:
    """Load each BPF-LSM function of `source` through the verifier without attaching it (in
    the child); function -> "verified", or why the kernel refused it (one line)."""
    request = {"source": source, "cflags": list(cflags), "functions": list(functions)}
    reply, _fds = _spawn(["lsm-check"], request)
    return {str(k): str(v) for k, v in reply["results"].items()}


# --- the child ---------------------------------------------------------------------------
def _compile_and_attach(request: dict) -> tuple[dict[str, object], list[int]]:
    import ctypes

    ensure_bcc_kernel_source()
    try:
        from bcc import BPF
    except ImportError:
        return {"error": "bcc's Python module is missing: install Debian's python3-bpfcc"}, []
    try:
        bpf = BPF(text=request["source"], cflags=request["cflags"])
    except Exception as exc:
        return {"error": f"BPF program failed to load: {_first_line(str(exc)) or type(exc).__name__}"}, []
    fds: list[int] = []
    maps: dict[str, dict[str, int]] = {}
    for name in request["maps"]:
        try:
            table = bpf.get_table(name)
        except KeyError:
            continue  # a map only some sensor sets define (syscall_counts)
        key = getattr(table, "Key", None)
        leaf = getattr(table, "sLeaf", getattr(table, "Leaf", None))  # per-CPU maps: one CPU's value
        maps[name] = {
            "fd": len(fds),
            "key_size": ctypes.sizeof(key) if key is not None else 0,
            "value_size": ctypes.sizeof(leaf) if leaf is not None else 0,
        }
        fds.append(table.map_fd)
    attachments: dict[str, int] = {}
    for tp, fd in [*bpf.tracepoint_fds.items(), *bpf.raw_tracepoint_fds.items()]:
        attachments[tp.decode() if isinstance(tp, bytes) else str(tp)] = len(fds)
        fds.append(fd)
    reply: dict[str, object] = {"maps": maps, "attachments": attachments}
    if "cache" in request and not bpf.raw_tracepoint_fds:  # the cache replays tracepoints only
        directory, key = request["cache"]
        try:
            bpfcache.write(Path(directory), key, bpfcache.capture(bpf))
        except OSError as exc:  # a read-only /var/lib: the next start compiles again, that is all
            reply["cache_error"] = f"BPF compile cache not written: {exc}"
    return reply, fds


def _attach_check_here(kind: str) -> dict[str, object]:
    try:
        ensure_bcc_kernel_source()
        from bcc import BPF

        if kind == "kprobe":
            b = BPF(text="int probe_fn(void *ctx) { return 0; }")
            b.attach_kprobe(event=b.get_syscall_fnname("getpid"), fn_name="probe_fn")
        else:
            b = BPF(text="LSM_PROBE(file_open, struct file *file) { return 0; }")
        b.cleanup()
        return {"available": True, "detail": "attach succeeded"}
    except Exception as exc:  # the refusal itself is the information
        first = _first_line(str(exc)) or type(exc).__name__
        return {"available": False, "detail": f"attach refused: {first}"}


def _lsm_check_here(request: dict) -> dict[str, object]:
    """Compile without bcc's autoload (which would attach), then load function by function;
    the verifier's log goes to a file so a refusal says whether verification even ran."""
    ensure_bcc_kernel_source()
    from bcc import BPF

    BPF._trace_autoload = lambda self: None  # this child only loads; it never attaches
    try:
        bpf = BPF(text=request["source"], cflags=request["cflags"])
    except Exception as exc:
        return {"error": f"BPF-LSM programs failed to compile: {_first_line(str(exc)) or type(exc).__name__}"}
    results: dict[str, str] = {}
    for name in request["functions"]:
        with tempfile.TemporaryFile() as log:
            saved = os.dup(2)
            os.dup2(log.fileno(), 2)
            try:
                bpf.load_func(name, BPF.LSM)
                results[name] = "verified"
            except Exception as exc:
                why = "Operation not permitted" if "super-user" in str(exc) else _first_line(str(exc))
                log.seek(0)
                verifier = [ln for ln in log.read().decode(errors="replace").splitlines() if ln.strip()]
                verifier = [ln for ln in verifier if not ln.startswith("bpf: Failed to load program")]
                results[name] = f"refused: {why}" + (
                    f"; verifier: {verifier[-1].strip()}" if verifier else " (before the verifier ran)"
                )
            finally:
                os.dup2(saved, 2)
                os.close(saved)
    return {"results": results}


def _child_main(argv: list[str]) -> None:
    sock = socket.socket(fileno=int(argv[0]))
    request = json.loads(sys.stdin.buffer.read())
    try:
        if argv[1] == "load":
            reply, fds = _compile_and_attach(request)
        elif argv[1] == "lsm-check":
            reply, fds = _lsm_check_here(request), []
        else:
            reply, fds = _attach_check_here(str(request["kind"])), []
    except Exception as exc:  # anything else still reaches the agent as one line
        reply, fds = {"error": f"BPF loader: {type(exc).__name__}: {_first_line(str(exc))}"}, []
    if len(fds) > _MAX_FDS:
        reply, fds = {"error": f"BPF loader: {len(fds)} map and attachment fds, more than {_MAX_FDS}"}, []
    socket.send_fds(sock, [json.dumps(reply).encode()], fds)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)  # not sys.exit: bcc's atexit cleanup would detach what the agent now holds


if __name__ == "__main__":
    _child_main(sys.argv[1:])
