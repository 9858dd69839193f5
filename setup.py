"""Build the hot-path modules listed in exporter/beholder/native.py with mypyc.

Everything else about the package is in pyproject.toml. `BEHOLDER_PURE_PYTHON=1` installs
pure Python (no compiler needed); the figures behind this choice are in bench/bench_native.py.
"""

import os
import runpy

from setuptools import setup

native = runpy.run_path(os.path.join("exporter", "beholder", "native.py"))


def extensions() -> list:
    if native["pure_requested"]():
        return []
    from mypyc.build import mypycify

    paths = [os.path.join("exporter", *m.split(".")) + ".py" for m in native["MODULES"]]
    return mypycify(["--ignore-missing-imports", *paths], opt_level="3")


setup(ext_modules=extensions())
