"""`beholder run --config FILE`, with the usual precedence: flags > BEHOLDER_RUN_* > file > defaults.

`make_context` parses the arguments and applies the config callback without starting the
agent, so no kernel is needed.
"""

from __future__ import annotations

from pathlib import Path

import click
import pytest

from beholder.cli import run_cmd

CONFIG = """
run:
  cluster-name: from-file
  output: [console, json:/tmp/events.json]
  duration: 30
"""


@pytest.fixture
def config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr("beholder.config.DEFAULT_PATH", tmp_path / "absent.yaml")
    for name in ("BEHOLDER_CONFIG", "BEHOLDER_RUN_CLUSTER_NAME", "BEHOLDER_RUN_DURATION"):
        monkeypatch.delenv(name, raising=False)
    path = tmp_path / "config.yaml"
    path.write_text(CONFIG)
    return path


def _params(args: list[str]) -> dict:
    with run_cmd.command.make_context("run", args) as ctx:
        return dict(ctx.params)


@pytest.mark.parametrize(
    ("args", "env", "expected"),
    [
        ([], {}, ("", None, ())),
        (["--config", "{file}"], {}, ("from-file", 30.0, ("console", "json:/tmp/events.json"))),
        (["--config", "{file}"], {"BEHOLDER_RUN_CLUSTER_NAME": "from-env"}, ("from-env", 30.0, None)),
        ([], {"BEHOLDER_CONFIG": "{file}", "BEHOLDER_RUN_DURATION": "5"}, ("from-file", 5.0, None)),
        (
            ["--config", "{file}", "--cluster-name", "from-flag", "--output", "kubearmor"],
            {"BEHOLDER_RUN_CLUSTER_NAME": "from-env"},
            ("from-flag", 30.0, ("kubearmor",)),
        ),
    ],
    ids=["defaults", "file", "env-over-file", "file-from-env", "flags-over-all"],
)
def test_run_takes_its_settings_from_flags_env_file_defaults_in_that_order(
    config_file: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], env: dict[str, str], expected: tuple
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value.format(file=config_file))
    params = _params([a.format(file=config_file) for a in args])
    cluster, duration, outputs = expected
    assert params["cluster_name"] == cluster and params["duration"] == duration
    if outputs is not None:
        assert params["outputs"] == outputs


def test_run_with_a_missing_config_file_is_one_click_error(config_file: Path) -> None:
    with pytest.raises(click.ClickException, match="config file not found"):
        _params(["--config", str(config_file.with_name("nope.yaml"))])


def test_enforce_comes_from_the_flag_the_environment_or_the_file(
    config_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Kill mode is off unless asked for, by `--enforce kill`, BEHOLDER_RUN_ENFORCE or `run.enforce`."""
    monkeypatch.delenv("BEHOLDER_RUN_ENFORCE", raising=False)
    assert _params([])["enforce"] == "off"
    assert _params(["--enforce", "kill"])["enforce"] == "kill"
    config_file.write_text("run:\n  enforce: kill\n")
    assert _params(["--config", str(config_file)])["enforce"] == "kill"
    monkeypatch.setenv("BEHOLDER_RUN_ENFORCE", "off")
    assert _params(["--config", str(config_file)])["enforce"] == "off"
    with pytest.raises(click.BadParameter):
        _params(["--enforce", "lsm"])
