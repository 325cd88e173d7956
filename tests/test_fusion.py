"""keir.fuse and the keir-fuse / keir-cse passes: fused kernels give the separate results."""

from __future__ import annotations

import numpy as np
import pytest

import keir
from keir import ArgumentError

ALIASES = ["x = Vi(3)", "y = Vj(3)", "b = Vj(1)"]


def data(dtype="float64"):
    rng = np.random.default_rng(0)
    return [
        rng.random((40, 3)).astype(dtype),
        rng.random((30, 3)).astype(dtype),
        rng.random((30, 1)).astype(dtype),
    ]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_value_and_gradient_together(dtype):
    x, y, b = data(dtype)
    e = np.random.default_rng(1).random((40, 1)).astype(dtype)
    f = keir.Genred("Exp(-SqDist(x, y)) * b", ALIASES, reduction_op="Sum", axis=1)
    g = keir.grad(f, "x")
    value, dx = keir.fuse(f, g)(x, y, b, e)
    # fused code may contract a multiply-add differently: 1 ulp apart in float32
    rtol = 1e-6 if dtype == "float32" else 1e-15
    np.testing.assert_allclose(value, f(x, y, b), rtol=rtol)
    np.testing.assert_allclose(dx, g(x, y, b, gradin=e), rtol=rtol)


@pytest.mark.parametrize("axis", [0, 1])
def test_different_reductions_of_one_kernel(axis):
    args = data()
    parts = [
        keir.Genred("-SqDist(x, y)", ALIASES, reduction_op="LogSumExp", axis=axis),
        keir.Genred("SqDist(x, y)", ALIASES, reduction_op="Min_ArgMin", axis=axis),
        keir.Genred("Exp(-SqDist(x, y)) * b", ALIASES, reduction_op="Sum", axis=axis),
        keir.Genred("SqDist(x, y) + b", ALIASES, reduction_op="KMin", axis=axis, opt_arg=3),
    ]
    fused = keir.fuse(*parts)(*args)
    assert len(fused) == len(parts)
    for part, got in zip(parts, fused):
        want = part(*args)
        for a, w in zip(
            got if isinstance(got, tuple) else (got,), want if isinstance(want, tuple) else (want,)
        ):
            assert a.dtype == w.dtype
            np.testing.assert_allclose(a, w, rtol=1e-13)


def test_fused_kernel_is_cached_with_its_signature(tmp_path, monkeypatch):
    monkeypatch.setenv("KEIR_CACHE_DIR", str(tmp_path))
    args = data()
    parts = [keir.Genred("SqDist(x, y)", ALIASES, reduction_op=r, axis=1) for r in ("Min", "Max")]
    first = keir.fuse(*parts)(*args)
    again = keir.fuse(*parts)(*args)  # a new object: loaded from the disk cache
    assert len(list(tmp_path.glob("*.so"))) == 1
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)


def test_fusion_needs_one_axis_and_compatible_arguments():
    f = keir.Genred("SqDist(x, y)", ALIASES, axis=1)
    with pytest.raises(ArgumentError, match="axis"):
        keir.fuse(f, keir.Genred("SqDist(x, y)", ALIASES, axis=0))
    with pytest.raises(ArgumentError, match="prefixes"):
        keir.fuse(f, keir.Genred("SqDist(x, y)", ["y = Vj(3)", "x = Vi(3)"], axis=1))
    with pytest.raises(ArgumentError, match="two"):
        keir.fuse(f)


def test_cse_removes_the_recomputed_forward_in_a_gradient():
    from keir.frontend.formula import ReductionSpec, build_kernel
    from keir.passes import pipeline

    formula = "Grad(Exp(-SqDist(x, y)) * b, x, Exp(-SqDist(x, y)))"
    module, _ = build_kernel(formula, ALIASES, "float32", ReductionSpec("Sum", 1))
    pipeline.lower(module, "autodiff")
    before = str(module).count('"keir.exp"')
    from keir.passes.registry import run_pipeline

    run_pipeline(module, ["keir-cse"])
    assert before == 2 and str(module).count('"keir.exp"') == 1
