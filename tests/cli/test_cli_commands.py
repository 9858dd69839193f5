"""`beholder logs`, `summary` and `completion` driven through click's runner and a real subprocess."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys

import pytest
from click.testing import CliRunner

from beholder.cli.main import cli
from beholder.events.model import Action
from cli.builders import DB, alert_on, exec_of, net, open_of
from cli.recordings import kubearmor_file, otlp_file
from conftest import SEEDS, require

SEED_LOGS = SEEDS / "000_6ec8f1a93d15e2aa.txt"


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def recording(tmp_path, request):
    cat = exec_of("/bin/cat", parent="/bin/dash", retval=-errno.EPERM)  # blocked by the enforcer
    events = [
        cat,
        exec_of("/bin/ls", parent="/bin/bash"),
        open_of("/etc/passwd"),
        open_of("/etc/group"),
        net("connect", sa_family="AF_INET", sin_addr="10.43.0.5", sin_port="3306"),
        exec_of("/usr/bin/psql", container=DB),
    ]
    write = kubearmor_file if request.param == "kubearmor" else otlp_file
    return write(tmp_path / f"rec.{request.param}", events, [alert_on(cat, Action.BLOCK, "block-cat")])


@pytest.mark.parametrize("command", ["logs", "summary", "completion"])
def test_every_command_has_help_with_examples(command):
    code, out, _ = _run(command, "--help")
    assert code == 0 and "Examples:" in out


def test_version_is_printed():
    code, out, _ = _run("--version")
    assert code == 0 and out.startswith("beholder, version ")


def test_seed_logs_read_offline_as_kubearmor_json():
    require(SEED_LOGS.exists(), "seed 000 missing")
    code, out, err = _run("logs", "--file", str(SEED_LOGS), "--logFilter", "all", "--json")
    records = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and [r["ProcessName"] for r in records] == ["/bin/sh", "/bin/cat"]
    assert records[1]["Resource"] == "/bin/cat /run/secrets/kubernetes.io/serviceaccount/token"
    assert "skipped" in err  # the seed's prose around the JSON is reported, not fatal


@pytest.mark.parametrize("recording", ["kubearmor", "otlp"], indirect=True)
@pytest.mark.parametrize(
    ("flags", "resources"),
    [
        ((), ["/bin/cat"]),
        (("--logFilter", "all", "--operation", "file"), ["/etc/passwd", "/etc/group"]),
        (("--logFilter", "system", "-n", "data"), ["/usr/bin/psql"]),
        (("--logFilter", "all", "--pod", "web-1", "--limit", "2"), ["/bin/cat", "/bin/ls"]),
        (
            ("--logFilter", "system", "--operation", "network"),
            ["sa_family=AF_INET sin_port=3306 sin_addr=10.43.0.5"],
        ),
    ],
)
def test_logs_filters_recordings(recording, flags, resources):
    code, out, _ = _run("logs", "--file", str(recording), "--json", *flags)
    assert code == 0
    assert [json.loads(line)["Resource"].split(" /")[0] for line in out.splitlines()] == resources


@pytest.mark.parametrize("recording", ["kubearmor", "otlp"], indirect=True)
def test_logs_text_line_names_alert_policy_and_action(recording):
    code, out, _ = _run("logs", "--file", str(recording))
    (line,) = out.splitlines()
    assert code == 0 and "ALERT" in line and "dvwa/web-1/web" in line and "[block-cat Block]" in line


@pytest.mark.parametrize("recording", ["kubearmor", "otlp"], indirect=True)
def test_summary_of_a_recording_shows_the_seed_tables(recording):
    code, out, _ = _run("summary", "--file", str(recording), "-n", "dvwa")
    assert code == 0
    header = ("Pod Name        web-1", "Cluster Name    pandora", "Labels          app=web")
    for expected in (*header, "Process Data", "File Data", "Egress connections", "| /etc/ ", "| 10.43.0.5 "):
        assert expected in out
    assert "db-0" not in out and "Ingress connections" not in out
    rows = [line for line in out.splitlines() if "/bin/cat" in line]
    assert len(rows) == 1 and "| Block " in rows[0] and "| /bin/dash " in rows[0]


@pytest.mark.parametrize("recording", ["kubearmor", "otlp"], indirect=True)
def test_summary_json_has_one_workload_per_container(recording):
    code, out, _ = _run("summary", "--file", str(recording), "--json")
    workloads = json.loads(out)["workloads"]
    assert code == 0 and [(w["pod"], w["container"]) for w in workloads] == [("db-0", "db"), ("web-1", "web")]
    web = workloads[1]
    assert {(r["source"], r["destination"], r["status"]) for r in web["process"]} == {
        ("/bin/dash", "/bin/cat", "Block"), ("/bin/bash", "/bin/ls", "Allow")
    }  # fmt: skip


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (
            ("summary", "--socket", "/nonexistent/q.sock"),
            1,
            "no agent is serving queries at /nonexistent/q.sock",
        ),
        (("logs", "--socket", "/nonexistent/q.sock"), 1, "no agent is serving queries"),
        (("logs", "--logFilter", "everything"), 2, "Invalid value for '--logFilter'"),
        (("logs", "--operation", "teleport"), 2, "Invalid value for '--operation'"),
        (("logs", "--limit", "-1"), 2, "Invalid value for '--limit'"),
        (("summary", "--file", "/nonexistent.json"), 2, "does not exist"),
    ],
)
def test_errors_are_one_line_with_a_meaningful_exit_code(args, code, message):
    proc = subprocess.run(
        [sys.executable, "-m", "beholder.cli", *args], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == code
    assert message in proc.stderr and "Traceback" not in proc.stderr


def test_recording_without_any_record_exits_3(tmp_path):
    garbage = tmp_path / "garbage.json"
    garbage.write_text("hello\n{broken\n")
    code, _, err = _run("summary", "--file", str(garbage))
    assert code == 3 and "no readable records" in err and "garbage.json:1: not a JSON object" in err


@pytest.mark.parametrize("recording", ["kubearmor"], indirect=True)
def test_summary_with_no_match_exits_4(recording):
    code, _, err = _run("summary", "--file", str(recording), "--pod", "nope")
    assert code == 4 and "no workload matched" in err


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_script_is_printed_for_each_shell(shell):
    code, out, _ = _run("completion", shell)
    assert code == 0 and "_BEHOLDER_COMPLETE" in out


def _complete(words: str, cword: int) -> str:
    """What bash completion would offer, from the real console entry point."""
    env = {**os.environ, "_BEHOLDER_COMPLETE": "bash_complete", "COMP_WORDS": words, "COMP_CWORD": str(cword)}
    code = "import sys; sys.argv[0] = 'beholder'; from beholder.cli.main import main; main()"
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env
    ).stdout


def test_completion_offers_subcommands_and_choices():
    choices = _complete("beholder logs --operation ", 3)
    assert "plain,process" in choices and "plain,capability" in choices
    assert "plain,summary" in _complete("beholder su", 1)


@pytest.mark.parametrize("recording", ["kubearmor", "otlp"], indirect=True)
def test_summary_names_peers_from_a_kubectl_dump(recording, tmp_path):
    dump = tmp_path / "cluster.json"
    dump.write_text(json.dumps({"kind": "List", "items": [
        {"kind": "Service", "spec": {"clusterIP": "10.43.0.5"},
         "metadata": {"name": "dvwa-mysql-service", "namespace": "dvwa", "labels": {"app": "db"}}},
        {"kind": "Pod", "metadata": {"name": "other"}, "status": {"podIP": "10.42.0.9"}},
    ]}))  # fmt: skip
    code, out, _ = _run("summary", "--file", str(recording), "--peers", str(dump), "--json")
    (egress,) = json.loads(out)["workloads"][1]["egress"]
    assert code == 0
    assert (egress["peer"], egress["port"], egress["namespace"], egress["labels"]) == (
        "svc/dvwa-mysql-service", "3306", "dvwa", "app=db"
    )  # fmt: skip


@pytest.mark.parametrize("recording", ["kubearmor"], indirect=True)
@pytest.mark.parametrize(
    ("content", "reason"), [("{oops", "Expecting property name"), ("[]", "Kubernetes List")]
)
def test_unusable_peers_file_is_one_line(recording, tmp_path, content, reason):
    dump = tmp_path / "cluster.json"
    dump.write_text(content)
    code, _, err = _run("summary", "--file", str(recording), "--peers", str(dump))
    assert code == 1 and reason in err and str(dump) in err and len(err.strip().splitlines()) == 1


def test_completion_offers_output_names_then_paths(tmp_path):
    (tmp_path / "events.jsonl").touch()
    (tmp_path / "logs").mkdir()
    assert _complete("beholder run --output otl", 3).split() == ["plain,otlp", "plain,otlp-file"]
    paths = _complete(f"beholder run --output otlp-file:{tmp_path}/", 3).split()
    assert paths == [f"plain,otlp-file:{tmp_path}/events.jsonl", f"plain,otlp-file:{tmp_path}/logs/"]
    assert _complete(f"beholder run --output json:{tmp_path}/ev", 3).split() == [
        f"plain,json:{tmp_path}/events.jsonl"
    ]
    assert _complete("beholder run --output otlp:x", 3).strip() == ""
