"""keir-tile-cpu's micro-kernel for long sums over the components (passes/wide_dot.py).

It must give the unrolled lowering's numbers (same terms, same order of summation; only which
product LLVM fuses into a multiply-add may differ, a rounding apart) on every pattern it
matches, on both axes, with a remainder of components after its loop, and on data far from
the origin (where the GEMM form |x|^2 + |y|^2 - 2 x.y would cancel)."""

from __future__ import annotations

import numpy as np
import pytest

from keir.compiler import compile_module
from keir.frontend.formula import ReductionSpec, build_kernel
from keir.passes import tile_cpu
from keir.passes.lowering.wide_dot import find_wide_sums

from conftest import assert_close

PATTERNS = {  # formula: its value in numpy (x: (M, 1, D), y: (1, N, D))
    "SqDist(x, y)": lambda x, y: ((x - y) ** 2).sum(-1),
    "SqNorm2(y - x)": lambda x, y: ((y - x) ** 2).sum(-1),
    "Sum(Square(x - y))": lambda x, y: ((x - y) ** 2).sum(-1),
    "Norm2(x - y)": lambda x, y: np.sqrt(((x - y) ** 2).sum(-1)),
    "(x | y)": lambda x, y: (x * y).sum(-1),
    "Sum(y * x)": lambda x, y: (x * y).sum(-1),
}


def _module(formula, D, dtype, axis):
    rows, cols = ("Vi", "Vj") if axis == 1 else ("Vj", "Vi")
    aliases = [f"x = {rows}({D})", f"y = {cols}({D})", f"b = {cols}(1)"]
    return build_kernel(f"({formula}) * b", aliases, dtype, ReductionSpec("Sum", axis, 0))[0]


def _run(formula, D, dtype, axis, data):
    kernel, _ = compile_module(_module(formula, D, dtype, axis), ["x", "y", "b"])
    return kernel(*data)


def _data(D, dtype, offset):
    rng = np.random.default_rng(D)
    M, N = 13, 77  # a partial block of rows; two column vectors and a scalar tail
    x = (offset + rng.random((M, D))).astype(dtype)
    y = (offset + rng.random((N, D))).astype(dtype)
    b = rng.standard_normal((N, 1)).astype(dtype)
    return x, y, b  # x indexed by the output rows, y and b by the reduced index


@pytest.mark.parametrize("formula", list(PATTERNS))
@pytest.mark.parametrize(
    "D, dtype, axis, offset",
    [
        (16, "float32", 1, 0.0),
        (19, "float32", 1, 100.0),
        (64, "float32", 1, 0.0),
        (19, "float64", 0, 1000.0),
    ],
)
def test_micro_kernel_matches_the_unrolled_lowering(
    formula, D, dtype, axis, offset, tmp_path, monkeypatch
):
    data = _data(D, dtype, offset)
    module = _module(formula, D, dtype, axis)  # (kept alive: func points into it)
    func = next(iter(module.body.operations))
    assert len(find_wide_sums(func, 1 - axis)) == 1, "the pattern must reach the micro-kernel"
    monkeypatch.setenv("KEIR_CACHE_DIR", str(tmp_path / "micro"))
    fast = _run(formula, D, dtype, axis, data)
    monkeypatch.setenv("KEIR_CACHE_DIR", str(tmp_path / "unrolled"))
    monkeypatch.setattr(tile_cpu, "find_wide_sums", lambda *_: [])
    unrolled = _run(formula, D, dtype, axis, data)
    # a product fused or not: one rounding of a term (~D^2 eps relative to the row's sum)
    assert_close(fast, unrolled, dtype, scale_rtol=2)
    x, y, b = (d.astype(np.float64) for d in data)
    want = PATTERNS[formula](x[:, None], y[None]) @ b
    assert_close(fast, want, dtype, scale_rtol=20)


@pytest.mark.parametrize(
    "formula, aliases",
    [
        ("SqDist(x, y)", ["x = Vi(15)", "y = Vj(15)"]),  # short: unrolled is fine
        ("SqDist(x, y)", ["x = Vj(16)", "y = Vj(16)"]),  # no row variable
        ("SqDist(x, p)", ["x = Vi(16)", "p = Pm(16)"]),  # a parameter
        ("Sum(Square(x - y) * x)", ["x = Vi(16)", "y = Vj(16)"]),  # not a plain square
    ],
)
def test_other_shapes_stay_unrolled(formula, aliases):
    module, _ = build_kernel(formula, aliases, "float32", ReductionSpec("Sum", 1, 0))
    func = next(iter(module.body.operations))
    assert find_wide_sums(func, 0) == []
