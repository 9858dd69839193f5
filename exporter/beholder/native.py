"""The hot-path modules compiled to native code with mypyc, and the switch back to Python.

mypyc compiles these typed modules unchanged (setup.py builds them at install, beside
their sources); the `.py` files stay the reference and the fallback. Python imports an
extension module before a source file of the same name, so the compiled ones win when
present. `BEHOLDER_PURE_PYTHON=1` makes this package import the sources instead (the tests
run the fallback that way); at install it skips the build. When a source is newer than its
build (edited or checked out since), all of them are imported as sources, so an edit is
never shadowed by stale native code; `make` rebuilds. Standard library only: setup.py reads
this file before anything is installed.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

PURE_ENV = "BEHOLDER_PURE_PYTHON"
MODULES = (
    "beholder.events.model",
    "beholder.events.facts",
    "beholder.events.file_calls",
    "beholder.events.net_calls",
    "beholder.sensors.decode",
    "beholder.events.decoding",
    "beholder.otel.wire",
    "beholder.otel.jsonwire",
    "beholder.otel.arg_values",
    "beholder.otel.attr_cache",
    "beholder.otel.event_attrs",
    "beholder.otel.encode",
    "beholder.formats.arguments",
    "beholder.formats.resource",
    "beholder.enrich.enricher",
    "beholder.otel.traces",
    "beholder.policy.compile",
    "beholder.policy.evaluate",
    "beholder.selfprotect",
    "beholder.sensors.reader",
    "beholder.formats.kubearmor",
    "beholder.formats.kubearmor_lines",
)
_PACKAGE_DIR = Path(__file__).resolve().parent


def pure_requested() -> bool:
    return os.environ.get(PURE_ENV) == "1"


def source_path(module: str) -> Path:
    """The `.py` file of one of `MODULES`."""
    return _PACKAGE_DIR.joinpath(*module.split(".")[1:]).with_suffix(".py")


def compiled(module: ModuleType) -> bool:
    """Whether an imported module is native code (an extension module), not Python source."""
    return (module.__file__ or "").endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES))


def stale(module: str) -> bool:
    """The source is newer than its compiled module (edited, or checked out, since the build)."""
    source = source_path(module)
    built = [source.with_suffix(suffix) for suffix in importlib.machinery.EXTENSION_SUFFIXES]
    try:
        newest = max(p.stat().st_mtime_ns for p in built if p.exists())
    except ValueError:  # not built at all: Python finds the source by itself
        return False
    return source.stat().st_mtime_ns > newest


class _SourceFirst:
    """A meta-path finder that loads `MODULES` from their `.py` files."""

    def find_spec(self, name: str, path: Sequence[str] | None = None, target: ModuleType | None = None):
        if name not in MODULES:
            return None
        return importlib.util.spec_from_file_location(name, source_path(name))


def use_sources_where_needed() -> None:
    """Called by the package's `__init__`, before any of `MODULES` can be imported. One
    compiled group calls its own members natively, so it is all sources or none."""
    if any(isinstance(f, _SourceFirst) for f in sys.meta_path):
        return
    if pure_requested() or any(stale(m) for m in MODULES):
        sys.meta_path.insert(0, _SourceFirst())
