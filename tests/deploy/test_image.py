"""The image definition: what it copies exists, and it builds what the agent needs at run time.

No image is built here (no container builder on the project's machines); the checks read
the Dockerfile the way the builder does (continuation lines joined, one instruction a line).
"""

from __future__ import annotations

import fnmatch
import json
import re
import shlex

import click
import pytest

from beholder.cli.main import cli
from beholder.sensors import kernel_headers
from beholder.sensors.program import BPF_DIR
from conftest import ROOT

DOCKERFILE = ROOT / "deploy" / "image" / "Dockerfile"
DOCKERIGNORE = ROOT / "deploy" / "image" / "Dockerfile.dockerignore"


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    logical, current = [], ""
    for line in text.splitlines():
        stripped = line.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            current += stripped[:-1].rstrip() + " "
            continue
        logical.append(current + stripped)
        current = ""
    return [(head.upper(), rest.strip()) for head, _, rest in (entry.partition(" ") for entry in logical)]


def copies() -> list[tuple[list[str], str]]:
    """(sources, destination) of every COPY, relative to the build context (the repo root)."""
    found = []
    for name, args in instructions(DOCKERFILE.read_text()):
        if name == "COPY":
            words = [w for w in shlex.split(args) if not w.startswith("--")]
            found.append((words[:-1], words[-1]))
    return found


def run_lines() -> str:
    return "\n".join(args for name, args in instructions(DOCKERFILE.read_text()) if name == "RUN")


def ignored(path: str) -> bool:
    """Docker's rule: the last matching pattern wins; `!` re-includes."""
    verdict = False
    for raw in DOCKERIGNORE.read_text().splitlines():
        pattern = raw.strip()
        if not pattern or pattern.startswith("#"):
            continue
        negate = pattern.startswith("!")
        pattern = pattern.lstrip("!").rstrip("/")
        if fnmatch.fnmatch(path, pattern) or path.startswith(pattern + "/"):
            verdict = not negate
    return verdict


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("FROM a\nRUN x \\\n    && y\n", [("FROM", "a"), ("RUN", "x && y")]),
        ("# c\nCOPY a b\n", [("COPY", "a b")]),
        ("RUN a \\\n    # note\n    b\n", [("RUN", "a b")]),
    ],
)
def test_instruction_reader_joins_continuations_and_drops_comments(text: str, expected: list) -> None:
    assert instructions(text) == expected


def test_every_copied_path_exists_in_the_repository() -> None:
    sources = [src for srcs, _ in copies() for src in srcs]
    assert sources
    assert [src for src in sources if not (ROOT / src).exists()] == []


def test_nothing_is_added_from_a_url() -> None:
    assert [args for name, args in instructions(DOCKERFILE.read_text()) if name == "ADD"] == []


def test_every_copied_path_survives_the_dockerignore() -> None:
    assert [src for srcs, _ in copies() for src in srcs if ignored(src.rstrip("/"))] == []
    assert ignored(".venv") and ignored(".git")


def test_bpf_sources_land_where_the_loader_looks() -> None:
    # program.BPF_DIR is <checkout>/bpf beside exporter/; the image must keep that layout.
    destinations = {src.rstrip("/"): dest.rstrip("/") for srcs, dest in copies() for src in srcs}
    bpf = str(BPF_DIR.relative_to(ROOT))
    assert destinations[bpf] == bpf
    assert destinations["exporter"] == "exporter"
    assert "pip install --no-cache-dir -e ." in run_lines()


def test_base_is_debian_bookworm_with_bcc_and_generic_headers_from_debian() -> None:
    steps = instructions(DOCKERFILE.read_text())
    assert steps[0][0] == "FROM" and steps[0][1].startswith("debian:bookworm")
    packages = set(re.search(r"apt-get install (.*?)(?:&&|$)", run_lines()).group(1).split())
    assert {"python3-bpfcc", "linux-headers-amd64"} <= packages


def test_kernel_header_tree_is_merged_at_build_time() -> None:
    assert "from beholder.sensors.kernel_headers import prepare" in run_lines()
    assert callable(kernel_headers.prepare)


def test_entrypoint_runs_the_agent() -> None:
    (entrypoint,) = [args for name, args in instructions(DOCKERFILE.read_text()) if name == "ENTRYPOINT"]
    program, *command = json.loads(entrypoint)
    assert program == "beholder" and command == ["run"]
    assert cli.get_command(click.Context(cli), "run") is not None
