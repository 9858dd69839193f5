"""The hot-path modules run as native code when built, and as Python when asked or stale."""

from __future__ import annotations

import dataclasses
import inspect
import json
import os
import runpy
import subprocess
import sys
from pathlib import Path

import pytest

from beholder import native
from beholder.events.facts import FileAccess
from beholder.events.model import Event, Operation

PROBE = (
    "import importlib, json, beholder.native as n;"
    "print(json.dumps({m: n.compiled(importlib.import_module(m)) for m in n.MODULES}))"
)


def imported_as(env: dict[str, str]) -> dict[str, bool]:
    """Module -> compiled?, as a fresh interpreter imports them under `env`."""
    out = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, env={**os.environ, **env}
    )
    return json.loads(out.stdout)


def test_the_installed_build_is_native_unless_pure_python_was_asked_for() -> None:
    """`make setup` builds them; under BEHOLDER_PURE_PYTHON=1 (the fallback run) they are sources."""
    expected = not native.pure_requested()
    assert imported_as({}) == dict.fromkeys(native.MODULES, expected)


def test_pure_python_is_one_switch() -> None:
    assert imported_as({native.PURE_ENV: "1"}) == dict.fromkeys(native.MODULES, False)


def test_every_listed_module_has_its_source() -> None:
    assert all(native.source_path(m).is_file() for m in native.MODULES)


@pytest.mark.parametrize(("source_age", "built_age", "is_stale"), [(10, 20, True), (20, 10, False)])
def test_a_source_newer_than_its_build_is_stale(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source_age: int, built_age: int, is_stale: bool
) -> None:
    monkeypatch.setattr(native, "_PACKAGE_DIR", tmp_path / "beholder")
    source = native.source_path("beholder.otel.wire")
    source.parent.mkdir(parents=True)
    source.write_text("")
    built = source.with_suffix(native.importlib.machinery.EXTENSION_SUFFIXES[0])
    built.write_bytes(b"")
    now = 1_800_000_000
    os.utime(source, (now - source_age, now - source_age))
    os.utime(built, (now - built_age, now - built_age))
    assert native.stale("beholder.otel.wire") is is_stale


def test_a_module_never_built_is_not_stale(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(native, "_PACKAGE_DIR", tmp_path / "beholder")
    source = native.source_path("beholder.otel.wire")
    source.parent.mkdir(parents=True)
    source.write_text("")
    assert native.stale("beholder.otel.wire") is False


@pytest.mark.parametrize(
    ("module", "name"), [("beholder.events.model", "Event"), ("beholder.events.facts", "FileAccess")]
)
def test_a_written_out_constructor_takes_the_fields_in_order_with_their_defaults(
    module: str, name: str
) -> None:
    """`Event` and `FileAccess` write their `__init__` out (a native constructor once
    compiled); it must stay the one dataclasses would generate: a new field, a reordering or
    a changed default fails here instead of shifting positional arguments. Read from the
    source (a native `__init__` has no signature to inspect)."""
    cls = runpy.run_path(str(native.source_path(module)))[name]
    params = list(inspect.signature(cls.__init__).parameters.values())[1:]
    assert [p.name for p in params] == [f.name for f in dataclasses.fields(cls)]
    for param, field in zip(params, dataclasses.fields(cls), strict=True):
        if field.default is not dataclasses.MISSING:
            assert param.default == field.default, field.name
        elif field.default_factory is not dataclasses.MISSING:  # None stands for a fresh value
            assert param.default is None, field.name
            assert getattr(_minimal(Event), field.name) == field.default_factory(), field.name
        else:
            assert param.default is inspect.Parameter.empty, field.name


def _minimal(cls: type) -> object:
    if cls is FileAccess:
        return FileAccess("/etc/passwd")
    return Event(1, Operation.FILE, "openat", 0, 1, 1, 0, 0, "cat", 1)
