"""Fixtures for the OTLP export tests: a collector, its receivers, certificates, metrics."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import require
from otel_export.certs import make_tls_files, openssl_available
from otel_export.receiver import Collector, TlsFiles
from otel_export.recorded import RecordedMetrics


@pytest.fixture
def collector() -> Collector:
    return Collector()


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    require(openssl_available(), "openssl CLI not installed")
    return make_tls_files(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def recorded() -> Iterator[RecordedMetrics]:
    recorded = RecordedMetrics()
    yield recorded
    recorded.provider.shutdown()


@pytest.fixture
def spool_dir(tmp_path: Path) -> Path:
    return tmp_path / "spool"
