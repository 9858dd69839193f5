"""The BPF-LSM programs (bpf/lsm.c) go to the kernel's verifier without being attached.

Where the kernel loads BPF-LSM programs each hook must be verified. This kernel refuses to
load any BPF-LSM program before its verifier runs (EPERM, like kprobes): that refusal is
the only other answer accepted, and the agent must say it at start. A refusal that carries
a verifier message means our program is wrong, and fails.
"""

from __future__ import annotations

import pytest

from beholder.cli.enforce import bpf_lsm_line
from beholder.sensors import lsm
from beholder.sensors.kernel import probe_features
from conftest import require
from support.kernel import kernel_ready

pytestmark = pytest.mark.kernel
REFUSED_UNVERIFIED = "refused: Operation not permitted (before the verifier ran)"


def test_every_hook_is_verified_or_refused_before_verification() -> None:
    ok, why = kernel_ready()
    require(ok, why)
    results = lsm.verify()
    assert set(results) == set(lsm.HOOKS)
    for hook, result in results.items():
        assert result in ("verified", REFUSED_UNVERIFIED), f"{hook}: {result}"


def test_the_start_line_says_what_the_bpf_lsm_attach_found() -> None:
    ok, why = kernel_ready()
    require(ok, why)
    features = probe_features(try_attach=True)
    line = bpf_lsm_line(features)
    lsm_feature = next(f for f in features if f.name == "bpf-lsm")
    assert lsm_feature.available is not None, lsm_feature.detail  # the attach was really tried
    assert line.startswith("BPF-LSM: ") and line.endswith(
        "no Block is denied with -EPERM (docs/enforcement.md)"
    )
    if not lsm_feature.available:
        assert lsm_feature.detail in line and "refused" in line
