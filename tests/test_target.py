"""keir.target: one description of the machine a binary is for, used by passes, tools and cache.

A bundle for a baseline CPU level gets that level's vector width (it got the host's before);
the same kernel built for two targets gets two cache entries, both correct here.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

import keir
from keir.cli import main
from keir.compiler import compile_module
from keir.frontend.formula import ReductionSpec, build_kernel
from keir.target import CPU_LEVELS, CpuTarget, host

FORMULA, ALIASES = "Exp(-SqDist(x, y)) * b", ["x = Vi(3)", "y = Vj(3)", "b = Vj(1)"]
RNG = np.random.default_rng(5)
X, Y, B = (RNG.random((41, 3)), RNG.random((37, 3)), RNG.random((37, 1)))
EXPECTED = np.exp(-((X[:, None] - Y[None]) ** 2).sum(-1)) @ B


def test_vector_width_follows_the_instruction_sets():
    assert CpuTarget.level("x86-64").lanes("float32") == 4
    assert CpuTarget.level("x86-64-v3").lanes("float32") == 8
    assert CpuTarget.level("x86-64-v3").lanes("float64") == 4
    assert CpuTarget.level("x86-64-v4").lanes("float32") == 16
    assert host() is host()  # detected once


@pytest.mark.parametrize("level", ["x86-64-v2", "x86-64-v3"])
def test_bundle_for_a_cpu_level_uses_its_lane_width(level, tmp_path):
    if not set(CPU_LEVELS[level]) <= host().features:
        pytest.skip(f"this CPU cannot run {level} code")
    spec = tmp_path / "spec.json"
    kernel = {"name": "gauss", "formula": FORMULA, "aliases": ALIASES, "reduction": "Sum"}
    spec.write_text(json.dumps({"kernels": [{**kernel, "dtype": "float64"}], "cpu": level}))
    out = tmp_path / "bundle"
    assert main(["bundle", str(spec), "-o", str(out)]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    lanes = manifest["kernels"][0]["signature"]["lanes"]
    assert lanes == CpuTarget.level(level).lanes("float64")
    np.testing.assert_allclose(keir.load_bundle(out)["gauss"](X, Y, B), EXPECTED, rtol=1e-12)


def test_cache_key_and_binary_follow_the_target():
    def build(target):
        module, args = build_kernel(FORMULA, ALIASES, "float64", ReductionSpec("Sum", 1))
        return compile_module(module, [a.name for a in args], target)

    narrow = (
        CpuTarget.level("x86-64-v3") if "avx2" in host().features else CpuTarget.level("x86-64")
    )
    (k1, i1), (k2, i2) = build(host()), build(narrow)
    assert i1.path != i2.path
    assert k2.sig.lanes == narrow.lanes("float64")
    for k in (k1, k2):
        np.testing.assert_allclose(k.run_prepared(*k.prepare([X, Y, B]))[0], EXPECTED, rtol=1e-12)
