"""A mixed workload with policies and a profile active: the books balance and memory stays flat.

One run (module fixture) feeds several checks, so each requirement passes or fails on its own.
"""

from __future__ import annotations

import json

import pytest

from conftest import require
from reliability.conftest import PROFILE
from reliability.harness import RSS_LIMIT_MIB
from reliability.scenarios import SHUTDOWN_SLACK, LoadRun, run_load, unread_at_exit
from support.kernel import kernel_ready

pytestmark = pytest.mark.kernel
WARMUP_S = 5  # caches (process tree, comm names, encoder) fill first; sampled, not judged
DURATION_S = 20
RATE = 5_000


@pytest.fixture(scope="module")
def load_run(tmp_path_factory: pytest.TempPathFactory) -> LoadRun:
    ok, why = kernel_ready()
    require(ok, why)
    require(PROFILE.is_file(), f"{PROFILE} missing")
    run = run_load(tmp_path_factory.mktemp("load"), RATE, DURATION_S, WARMUP_S)
    print(json.dumps({**run.books.summary(), "rss": run.trend.__dict__}))
    return run


def test_kernel_and_user_space_books_balance_exactly(load_run: LoadRun) -> None:
    kernel, user = load_run.books.kernel, load_run.books.agent
    assert kernel["seen"] > DURATION_S * RATE / 4
    assert kernel["seen"] == kernel["emitted"] + kernel["suppressed"] + kernel["lost"]
    assert 0 <= unread_at_exit(load_run.books.stats) <= SHUTDOWN_SLACK
    assert user["decoded"] + user["decode_errors"] == user["records"]
    assert user["alerts"] > 0, "the audit policy matches the workload's execs and opens"
    assert user["evaluator_errors"] == 0 and user["sink_errors"] == 0


def test_every_record_reaches_the_collector_or_is_counted_by_stage(load_run: LoadRun) -> None:
    assert load_run.books.balanced(), load_run.books.summary()


def test_rss_has_no_upward_trend_after_warmup(load_run: LoadRun) -> None:
    assert not load_run.trend.growing(), load_run.trend


def test_rss_stays_within_the_limit(load_run: LoadRun) -> None:
    assert load_run.trend.max_mib <= RSS_LIMIT_MIB, load_run.trend
