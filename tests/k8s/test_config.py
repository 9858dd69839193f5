"""Where the watcher's cluster and node come from, and silence when Kubernetes was not asked for."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from beholder.enrich.k8s.config import resolve_node_name
from beholder.enrich.k8s.watcher import PodWatcher
from tests.k8s.fakeapi import NODE, FakeKubeApi, eventually

SERVICE_ACCOUNT_TOKEN = Path("/var/run/secrets/kubernetes.io/serviceaccount/token")
NGINX = "c842e7e9efb61e3cc052505d39c50d0e0ae82d6b04405ac03322df3549cdf6e0"


@pytest.fixture(autouse=True)
def plain_host(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test starts from a host with no Kubernetes configuration at all."""
    for name in ("KUBECONFIG", "KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT", "NODE_NAME"):
        monkeypatch.delenv(name, raising=False)


def _kubeconfig(path: Path, server: str) -> Path:
    path.write_text(
        f"""apiVersion: v1
kind: Config
clusters:
- name: test
  cluster: {{server: "{server}"}}
users:
- name: agent
  user: {{token: "not-a-real-token"}}
contexts:
- name: test
  context: {{cluster: test, user: agent}}
current-context: test
"""
    )
    return path


@pytest.mark.parametrize(
    ("flag", "env", "expected"),
    [("from-flag", "from-env", "from-flag"), (None, "from-env", "from-env"), (None, None, "this-host")],
)
def test_node_name_comes_from_flag_then_downward_api_then_hostname(
    monkeypatch: pytest.MonkeyPatch, flag: str | None, env: str | None, expected: str
) -> None:
    if env:
        monkeypatch.setenv("NODE_NAME", env)
    monkeypatch.setattr("socket.gethostname", lambda: "this-host")
    assert resolve_node_name(flag) == expected


def test_plain_host_gets_a_silent_disabled_watcher(
    capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    watcher = PodWatcher.from_environment(None, None, None)
    watcher.start()
    assert (watcher.enabled, watcher.running) == (False, False)
    assert watcher.cache.lookup(NGINX) is None
    watcher.stop()
    assert capsys.readouterr() == ("", "")
    assert [r for r in caplog.records if r.name.startswith("beholder")] == []


@pytest.mark.parametrize("via", ["flag", "env"])
def test_kubeconfig_from_flag_or_env_reaches_the_cluster(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, api: FakeKubeApi, via: str
) -> None:
    path = _kubeconfig(tmp_path / "config", api.url)
    if via == "env":
        monkeypatch.setenv("KUBECONFIG", str(path))
    watcher = PodWatcher.from_environment(NODE, str(path) if via == "flag" else None, None)
    assert watcher.source == f"kubeconfig {path}"
    watcher.start()
    try:
        eventually(lambda: watcher.cache.lookup(NGINX) is not None, "pods listed through kubeconfig")
    finally:
        watcher.stop()


def test_api_url_wins_over_kubeconfig(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "missing"))
    watcher = PodWatcher.from_environment(NODE, None, "http://127.0.0.1:1/")
    assert (watcher.enabled, watcher.source) == (True, "api-url http://127.0.0.1:1")


BAD_KUBECONFIGS = {
    "missing": None,
    "not-yaml": "clusters: [unclosed\n",
    "wrong-shape": "- just\n- a list\n",
    "no-context": "apiVersion: v1\nkind: Config\nclusters: []\n",
    "yaml-bomb": "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
    "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
    "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]\n",
}


@pytest.mark.parametrize("case", sorted(BAD_KUBECONFIGS))
def test_unusable_kubeconfig_is_one_line_naming_the_file(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, case: str
) -> None:
    caplog.set_level(logging.WARNING, logger="beholder.k8s")
    path = tmp_path / case
    if BAD_KUBECONFIGS[case] is not None:
        path.write_text(BAD_KUBECONFIGS[case])
    watcher = PodWatcher.from_environment(NODE, str(path), None)
    assert watcher.enabled is False
    (record,) = caplog.records
    message = record.getMessage()
    assert str(path) in message
    assert "\n" not in message
    assert str(path) in watcher.stats().last_error


def test_in_cluster_without_service_account_is_one_line(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    if SERVICE_ACCOUNT_TOKEN.exists():
        pytest.skip("this test runs inside a pod: the service account is really there")
    caplog.set_level(logging.WARNING, logger="beholder.k8s")
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "443")
    watcher = PodWatcher.from_environment(NODE, None, None)
    assert watcher.enabled is False
    (record,) = caplog.records
    assert "in-cluster service account" in record.getMessage()
