"""Hostile command lines and file names: recorded faithfully, bounded, and safe in every output.

10,000 arguments, a multi-megabyte argv, non-UTF-8 bytes, newlines and terminal escape
sequences in paths go through the real kernel sensors and out through OTLP (decoded at a
receiver), KubeArmor JSON (json.loads) and the console (no raw control characters).
"""

from __future__ import annotations

import json
import os
import re
import resource
import shutil
import subprocess
from typing import Any

import pytest
from otel_export.receiver import Collector, GrpcReceiver

from reliability.scenarios import agent_running

pytestmark = pytest.mark.kernel
KERNEL_ARGV_BYTES = 8192  # ARGV_SIZE in bpf/common.h
KERNEL_MAX_ARGS = 32  # MAX_ARGS in bpf/common.h
NAMES = [b"bad-\xff\xfe-bytes", b"new\nline", b"esc-\x1b[31mred\x1b[0m-\x07", b"tab\tand\rcr"]
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\x80-\x9f]")


def text(name: bytes) -> str:
    """How the decoder renders raw bytes: valid UTF-8 as is, the rest as \\xNN escapes."""
    return name.decode("utf-8", "backslashreplace")


def big_stack() -> None:
    """ARG_MAX is a quarter of the stack limit: raise it so a multi-megabyte argv can exec."""
    resource.setrlimit(resource.RLIMIT_STACK, (64 << 20, 64 << 20))


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from conftest import require
    from support.kernel import kernel_ready

    ok, why = kernel_ready()
    require(ok, why)
    tmp = tmp_path_factory.mktemp("hostile")
    weird = tmp / "weird"
    weird.mkdir()
    collector = Collector()
    # not JSON: AgentProcess must not parse it; `all`: the file names reach the console too
    console = ["--console", "all", "--output", f"console:{tmp / 'console.txt'}"]
    with (
        GrpcReceiver(collector) as receiver,
        agent_running(tmp, receiver, console, outputs=("otlp", "kubearmor", "json")) as agent,
    ):
        subprocess.run(
            ["/bin/echo", *(f"a{i}" for i in range(10_000))], stdout=subprocess.DEVNULL, check=True
        )
        subprocess.run(
            ["/bin/echo", "many-megabytes", *["m" * 100_000] * 30],
            stdout=subprocess.DEVNULL,
            check=True,
            preexec_fn=big_stack,
        )
        for name in NAMES:
            path = os.path.join(bytes(weird), name)
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
        program = os.path.join(bytes(weird), b"run-\x1b[2J-\xff")
        shutil.copy(b"/bin/true", program)
        subprocess.run([program, b"arg-\x1b]0;title\x07", b"\xc3\x28"], check=True)
        agent.wait_for(lambda r: "run-" in r.get("resource", ""), timeout=30, output="json")
        stats = agent.stop()
        records = collector.records()
    return {"stats": stats, "otlp": records, "dir": weird, "agent": agent, "console": tmp / "console.txt"}


def native(outputs: dict[str, Any], predicate) -> list[dict[str, Any]]:
    return [r for r in outputs["agent"].by_output["json"] if predicate(r)]


def test_ten_thousand_arguments_are_bounded_and_marked_truncated(outputs: dict[str, Any]) -> None:
    (event,) = native(outputs, lambda r: r["syscall"] == "execve" and r["argv"][1:2] == ["a0"])
    assert event["truncated"] is True
    assert len(event["argv"]) <= KERNEL_MAX_ARGS
    assert event["argv"][:4] == ["/bin/echo", "a0", "a1", "a2"]


def test_multi_megabyte_argv_is_bounded_and_marked_truncated(outputs: dict[str, Any]) -> None:
    (event,) = native(outputs, lambda r: r["syscall"] == "execve" and r["argv"][1:2] == ["many-megabytes"])
    assert event["truncated"] is True
    assert sum(len(a) + 1 for a in event["argv"]) <= KERNEL_ARGV_BYTES


@pytest.mark.parametrize("name", NAMES, ids=["non-utf8", "newline", "escapes", "tab-cr"])
def test_hostile_file_name_is_recorded_faithfully(outputs: dict[str, Any], name: bytes) -> None:
    expected = f"{outputs['dir']}/{text(name)}"
    assert native(outputs, lambda r: r["syscall"] == "openat" and r["resource"] == expected)


def test_hostile_exec_path_and_arguments_are_recorded_faithfully(outputs: dict[str, Any]) -> None:
    (event,) = native(outputs, lambda r: r["syscall"] == "execve" and "run-" in r["resource"])
    assert event["resource"] == f"{outputs['dir']}/run-\x1b[2J-\\xff"
    assert event["argv"][1:] == ["arg-\x1b]0;title\x07", "\\xc3("]


def test_otlp_records_decode_and_carry_the_names(outputs: dict[str, Any]) -> None:
    resources = {a.value.string_value for r in outputs["otlp"] for a in r.attributes}
    for name in NAMES:
        assert f"{outputs['dir']}/{text(name)}" in resources


def test_kubearmor_json_lines_all_parse_and_keep_the_names(outputs: dict[str, Any]) -> None:
    path = outputs["agent"].paths["kubearmor"]
    lines = path.read_bytes().split(b"\n")
    parsed = [json.loads(line) for line in lines if line]
    assert len(parsed) >= outputs["stats"]["agent"]["decoded"]
    assert any(text(NAMES[1]) in r.get("Resource", "") for r in parsed)


def test_console_output_has_no_raw_control_characters(outputs: dict[str, Any]) -> None:
    console = outputs["console"].read_text(errors="strict")
    assert "run-" in console and "new\\nline" in console
    bad = [(i, ch) for i, ch in enumerate(console) if CONTROL.match(ch)]
    assert bad == []


def test_output_and_spool_files_are_private(outputs: dict[str, Any]) -> None:
    agent = outputs["agent"]
    files = [*agent.paths.values(), outputs["console"]]
    modes = {path.name: oct(path.stat().st_mode & 0o777) for path in files if path.exists()}
    assert set(modes.values()) == {"0o600"}, modes
    assert oct((agent.workdir / "spool").stat().st_mode & 0o777) == "0o700"
