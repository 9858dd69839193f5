"""karmor habits: case-insensitive choices, karmor's `logs` filters, `summary --type` and `-o json`."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from beholder.cli.main import cli
from beholder.events.model import ContainerInfo, Operation
from cli.builders import event, exec_of, net, open_of
from cli.recordings import kubearmor_file, otlp_file

API = ContainerInfo(
    "ab" * 32, name="api", pod_name="api-0", namespace="shop", labels={"app": "api", "tier": "be"}
)


def _events() -> list:
    return [
        exec_of("/bin/cat", parent="/bin/dash"),
        exec_of("/usr/bin/curl", parent="/bin/sh", container=API),
        exec_of("/usr/sbin/sshd", parent="/sbin/init", container=None),
        open_of("/etc/shadow", exe="/usr/bin/passwd", container=API),
        net("connect", sa_family="AF_INET", sin_addr="10.43.0.5", sin_port="3306"),
        event(Operation.PROCESS, "exit", exe="/bin/false", data={"exit_code": "1"}, container=None),
    ]


@pytest.fixture(params=["kubearmor", "otlp"])
def recording(tmp_path, request):
    write = kubearmor_file if request.param == "kubearmor" else otlp_file
    return write(tmp_path / f"rec.{request.param}", _events())


def _logs(recording, *flags: str) -> list[dict]:
    result = CliRunner().invoke(
        cli, ["logs", "--file", str(recording), "--logFilter", "all", "--json", *flags]
    )
    assert result.exit_code == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


@pytest.mark.parametrize(
    ("flags", "resources"),
    [
        (("--operation", "Process"), ["/bin/cat", "/usr/bin/curl", "/usr/sbin/sshd", ""]),
        (("--operation", "FILE"), ["/etc/shadow"]),
        (("--logFilter", "ALL", "--logType", "HostLog"), ["/usr/sbin/sshd", ""]),
        (("--logType", "containerlog", "--operation", "process"), ["/bin/cat", "/usr/bin/curl"]),
        (("--resource", "shadow"), ["/etc/shadow"]),
        (("--source", "/bin/sh"), ["/usr/bin/curl"]),
        (("-l", "app=api"), ["/usr/bin/curl", "/etc/shadow"]),
        (("--labels", "app=api,tier=fe"), []),
    ],
    ids=[
        "karmor-operation",
        "upper-case",
        "host-logs",
        "container-logs",
        "resource",
        "source",
        "labels",
        "no-match",
    ],
)
def test_karmor_logs_filters(recording, flags, resources) -> None:
    assert [r.get("Resource", "") for r in _logs(recording, *flags)] == resources


def test_bad_labels_are_a_usage_error(recording) -> None:
    result = CliRunner().invoke(cli, ["logs", "--file", str(recording), "-l", "app"])
    assert result.exit_code == 2 and "labels: 'app' is not key=value" in result.stderr


def test_exit_events_show_their_code_in_the_text_line(recording) -> None:
    result = CliRunner().invoke(cli, ["logs", "--file", str(recording), "--logFilter", "all"])
    (line,) = [line for line in result.stdout.splitlines() if "/bin/false" in line]
    assert line.rstrip().endswith("/bin/false -> exit 1 Passed")


def _summary(recording, *flags: str) -> dict:
    result = CliRunner().invoke(cli, ["summary", "--file", str(recording), "-n", "dvwa", *flags])
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)["workloads"][0]


@pytest.mark.parametrize(
    ("types", "present", "absent"),
    [
        ("process", {"process"}, {"file", "egress"}),
        ("network", {"egress"}, {"process", "file"}),
        ("Process,FILE", {"process"}, {"egress"}),
    ],
)
def test_summary_type_picks_the_tables(recording, types, present, absent) -> None:
    workload = _summary(recording, "-o", "json", "--type", types)
    assert all(workload.get(t) for t in present) and not any(t in workload for t in absent)
    assert workload["pod"] == "web-1"


def test_summary_output_json_equals_json_flag(recording) -> None:
    assert _summary(recording, "-o", "JSON") == _summary(recording, "--json")


def test_summary_unknown_type_names_it(recording) -> None:
    result = CliRunner().invoke(cli, ["summary", "--file", str(recording), "--type", "procs"])
    assert result.exit_code == 2 and "'procs' is not one of process, file, network" in result.stderr
