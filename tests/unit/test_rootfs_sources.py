"""The rootfs builder finds its mirror in this machine's apt sources, in either format."""

from __future__ import annotations

from pathlib import Path

import pytest

from support import rootfs


@pytest.fixture
def sources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(rootfs, "_SOURCES_DIR", tmp_path / "sources.list.d")
    monkeypatch.setattr(rootfs, "_SOURCES_LIST", tmp_path / "sources.list")
    (tmp_path / "sources.list.d").mkdir()
    return tmp_path


def test_deb822_stanzas_give_one_entry_per_uri_and_matching_suite(sources: Path) -> None:
    (sources / "sources.list.d" / "debian.sources").write_text(
        "Types: deb\n# a comment\nURIs: http://mirror.invalid/debian\nSuites: bookworm bookworm-updates\n"
        "Components: main contrib\n\n"
        "Types: deb-src\nURIs: http://mirror.invalid/debian\nSuites: bookworm\nComponents: main\n\n"
        "Types: deb\nURIs: http://other.invalid/debian\nSuites: trixie\nComponents: main\n\n"
        "Types: deb\nEnabled: no\nURIs: http://off.invalid/debian\nSuites: bookworm\nComponents: main\n"
    )
    assert rootfs.apt_mirrors("bookworm") == [
        "deb http://mirror.invalid/debian bookworm main contrib",
        "deb http://mirror.invalid/debian bookworm-updates main contrib",
    ]


def test_one_line_sources_are_read_without_comments(sources: Path) -> None:
    (sources / "sources.list").write_text(
        "# deb http://commented.invalid/debian bookworm main\n"
        "deb http://mirror.invalid/debian-security bookworm-security main # trailing\n"
        "deb-src http://mirror.invalid/debian bookworm main\n"
    )
    assert rootfs.apt_mirrors("bookworm") == [
        "deb http://mirror.invalid/debian-security bookworm-security main"
    ]


def test_no_source_for_the_suite_is_a_clear_error(sources: Path) -> None:
    with pytest.raises(rootfs.RootfsError, match="no enabled apt source for bookworm"):
        rootfs.apt_mirrors("bookworm")
