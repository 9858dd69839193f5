"""Config precedence (flags > BEHOLDER_* env > file > defaults) and bad config files as one line."""

from __future__ import annotations

import subprocess
import sys

import click
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from beholder.config import ConfigError, apply_otel_env, config_option, load_config


@click.group()
def tool() -> None:
    """A tiny CLI shaped like beholder's: a command and a group with a subcommand."""


@tool.command("logs")
@click.option("--socket", default="/run/beholder/query.sock")
@click.option("--limit", type=int, default=0)
@click.option("--file", "files", multiple=True)
@click.option("--json", "as_json", is_flag=True)
@config_option
def logs(socket: str, limit: int, files: tuple[str, ...], as_json: bool) -> None:
    click.echo(f"{socket}|{limit}|{','.join(files)}|{as_json}")


@tool.group("profile")
def profile() -> None:
    """Group."""


@profile.command("learn")
@click.option("--duration", type=float, default=60.0)
@config_option
def learn(duration: float) -> None:
    click.echo(str(duration))


CONFIG = """
logs:
  socket: /file/q.sock
  limit: 5
  file: [a.json, b.json]
profile:
  learn:
    duration: 30
otel:
  OTEL_SERVICE_NAME: from-file
  OTEL_EXPORTER_OTLP_ENDPOINT: http://file:4317
"""


@pytest.mark.parametrize(
    ("args", "env", "use_file", "expected"),
    [
        (["logs"], {}, False, "/run/beholder/query.sock|0||False"),
        (["logs"], {}, True, "/file/q.sock|5|a.json,b.json|False"),
        (["logs"], {"BEHOLDER_LOGS_SOCKET": "/env/q.sock", "BEHOLDER_LOGS_JSON": "true"}, True,
         "/env/q.sock|5|a.json,b.json|True"),
        (["logs"], {"BEHOLDER_LOGS_FILE": "x.json, y.json"}, True, "/file/q.sock|5|x.json,y.json|False"),
        (["logs", "--socket", "/flag/q.sock", "--limit", "1"], {"BEHOLDER_LOGS_SOCKET": "/env/q.sock"}, True,
         "/flag/q.sock|1|a.json,b.json|False"),
        (["profile", "learn"], {}, True, "30.0"),
        (["profile", "learn"], {"BEHOLDER_PROFILE_LEARN_DURATION": "12"}, True, "12.0"),
        (["profile", "learn", "--duration", "3"], {"BEHOLDER_PROFILE_LEARN_DURATION": "12"}, True, "3.0"),
    ],
)  # fmt: skip
def test_flags_beat_env_beat_file_beat_defaults(tmp_path, monkeypatch, args, env, use_file, expected):
    path = tmp_path / "config.yaml"
    path.write_text(CONFIG)
    for key in ("OTEL_SERVICE_NAME", "OTEL_EXPORTER_OTLP_ENDPOINT"):
        # setenv first so teardown removes what the CLI's config file sets in os.environ
        monkeypatch.setenv(key, "unset")
        monkeypatch.delenv(key)
    env = {**env, "BEHOLDER_CONFIG": str(path) if use_file else str(tmp_path / "none.yaml")}
    if not use_file:
        path.unlink()
        env.pop("BEHOLDER_CONFIG")
    result = CliRunner().invoke(tool, args, env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == expected


def test_otel_section_fills_only_unset_variables(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(CONFIG)
    environ = {"OTEL_SERVICE_NAME": "from-env"}
    apply_otel_env(load_config(path, environ={}), environ)
    assert environ == {"OTEL_SERVICE_NAME": "from-env", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://file:4317"}


def test_no_file_anywhere_is_an_empty_config(tmp_path, monkeypatch):
    monkeypatch.setattr("beholder.config.DEFAULT_PATH", tmp_path / "absent.yaml")
    assert load_config(None, environ={}).sections == {}


BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
    f"*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n"
    for i in range(9)
)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "logs: [unclosed",
            ":1:16: expected ',' or ']', but got '<stream end>' (while parsing a flow sequence",
        ),
        ("logs:\n  socket: a\n limit: 1\n", ":3:2: expected <block end>, but found '<block mapping start>'"),
        (BOMB, "document expands to more than"),
        ("- just\n- a list\n", "expected a mapping"),
        ("logs:\n  socket: {deep: [1, {x: 2}]}\n", "logs.socket.deep: expected a value"),
        ("logs: {1: x}\n", "option names must be strings"),
        ("otel: {SERVICE: x}\n", "otel.SERVICE: only OTEL_* variables"),
        ("otel: [a]\n", "otel: expected a mapping"),
        ("a: 1\n---\nb: 2\n", "expected one YAML document"),
        ("\udcff", "cannot read"),
    ],
)
def test_bad_config_file_is_one_error_naming_file_and_field(tmp_path, text, message):
    path = tmp_path / "bad.yaml"
    path.write_bytes(b"\xff\xfe\x00" if text == "\udcff" else text.encode())
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={})
    line = caught.value.message
    assert str(path) in line and message in line and "\n" not in line


def test_missing_explicit_config_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.yaml", environ={})


def test_real_cli_reports_a_bad_config_in_one_line_without_traceback(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("logs: [unclosed")
    proc = subprocess.run(
        [sys.executable, "-m", "beholder.cli", "logs", "--config", str(path)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 1
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith(f"Error: {path}:1:16: expected ',' or ']'")


def test_real_cli_takes_its_socket_from_the_config_file(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(f"summary:\n  socket: {tmp_path}/from-config.sock\n")
    proc = subprocess.run(
        [sys.executable, "-m", "beholder.cli", "summary"], capture_output=True, text=True, timeout=60,
        env={**__import__("os").environ, "BEHOLDER_CONFIG": str(path)},
    )  # fmt: skip
    assert proc.returncode == 1 and f"{tmp_path}/from-config.sock" in proc.stderr


_YAMLISH = st.text(alphabet=st.sampled_from("logs:summary- \n\t[]{}&*!|>'\",#%@`0x1.otel_OTEL"), max_size=300)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=_YAMLISH)
def test_any_config_text_loads_or_fails_with_one_line(tmp_path, text):
    path = tmp_path / "fuzz.yaml"
    path.write_text(text)
    try:
        config = load_config(path, environ={})
    except ConfigError as exc:
        assert str(path) in exc.message and "\n" not in exc.message
    else:
        assert isinstance(config.sections, dict) and all(k.startswith("OTEL_") for k in config.otel)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("logs:\n  sokcet: /q.sock\n", "{path}: logs.sokcet: unknown option of `beholder logs`"),
        (
            "logz:\n  socket: /q.sock\n",
            "{path}: logz: not a section this file can have (logs, profile, otel)",
        ),
        (
            "profile:\n  learn:\n    duraton: 3\n",
            "{path}: profile.learn.duraton: unknown option of `beholder profile learn`",
        ),
        (
            "logs:\n  a: 1\n  b: 2\n",
            "{path}: logs.a: unknown option of `beholder logs`; {path}: logs.b: unknown",
        ),
    ],
    ids=["misspelled option", "misspelled section", "nested command", "every stray key listed"],
)
def test_misspelled_keys_are_errors_naming_file_and_key(tmp_path, text, message):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    result = CliRunner().invoke(tool, ["logs", "--config", str(path)])
    assert result.exit_code == 1
    assert message.format(path=path) in result.stderr


def test_real_cli_refuses_a_misspelled_run_option_before_tracing(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("run:\n  clustr-name: prod\n")
    from beholder.cli.main import cli

    result = CliRunner().invoke(cli, ["run", "--config", str(path)])
    assert result.exit_code == 1
    assert result.stderr.strip() == f"Error: {path}: run.clustr-name: unknown option of `beholder run`"


def test_every_documented_key_spelling_is_accepted(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("run:\n  cluster-name: prod\n  output: [console]\nlogs:\n  logFilter: all\nsummary: {}\n")
    from beholder.cli.main import cli

    result = CliRunner().invoke(cli, ["logs", "--config", str(path), "--help"])
    assert result.exit_code == 0, result.stderr
