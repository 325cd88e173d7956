"""keir-tile-cpu's screened search (passes/lowering/screen.py): a Min-like reduction of a long
SqDist skips column vectors on a lower bound, so its results must be those of the unscreened
kernel bit for bit (and of the reference interpreter), on data where the bound is loose (a
cluster far from the origin: the matrix-product form cancels), tight (integer ties), or
undefined (NaN, inf, norms that would overflow, subnormals)."""

from __future__ import annotations

import numpy as np
import pytest

from keir.compiler import compile_module
from keir.dialect.interpreter import evaluate
from keir.frontend.formula import ReductionSpec, build_kernel
from keir.passes.lowering import screen

REDUCTIONS = [("ArgKMin", 3), ("KMin_ArgKMin", 5), ("Min_ArgMin", 0)]


def _data(kind: str, dtype, D: int, rng):
    # enough columns for the screen to start (screen.WARM per selected value) and to run
    # over several column tiles
    M, N = 45, 2600
    if kind == "far":  # distances ~1e-5 against norms ~2e7: every bound is a candidate
        X = 1000 + 1e-3 * rng.standard_normal((M, D))
        Y = 1000 + 1e-3 * rng.standard_normal((N, D))
    elif kind == "ties":  # exact integer distances: the bound meets the threshold exactly
        X, Y = rng.integers(0, 3, (M, D)), rng.integers(0, 3, (N, D))
    else:
        X, Y = rng.random((M, D)), rng.random((N, D))
        if kind == "edge":
            X[3, 2], Y[7, 1], Y[13, 0] = np.nan, np.inf, -np.inf
            Y[9], X[5] = 1e20, 3e19  # |y|^2 overflows float32; |x|^2 is past 2^100...
            Y[2000] = X[5]  # ...and its one neighbour at distance 0 comes late
            Y[11], X[7], Y[12] = 1e-30, 1e-30, 2e-30  # squares underflow
            Y[1500:1510] = X[0] + 1e-4  # near neighbours of row 0 deep in the columns
    return X.astype(dtype), Y.astype(dtype)


def _run(red, k, D, X, Y, axis, screened: bool, monkeypatch, tmp_path):
    monkeypatch.setattr(
        screen, "screened_sum", screen.screened_sum if screened else lambda kernel, on: None
    )
    monkeypatch.setenv("KEIR_CACHE_DIR", str(tmp_path / ("screened" if screened else "plain")))
    aliases = [f"x = Vi({D})", f"y = Vj({D})"]
    spec = ReductionSpec(red, axis, k)
    module, args = build_kernel("SqDist(x,y)", aliases, str(X.dtype), spec)
    kernel, _ = compile_module(module, [a.name for a in args])
    return kernel.run_prepared(*kernel.prepare([X, Y]))[0]


@pytest.mark.parametrize("red, k", REDUCTIONS)
@pytest.mark.parametrize("kind", ["random", "far", "ties", "edge"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_screened_equals_unscreened_bit_for_bit(red, k, kind, dtype, monkeypatch, tmp_path):
    rng = np.random.default_rng(abs(hash((red, kind, dtype.__name__))) % 2**32)
    D = 33 if dtype == np.float32 else 16  # odd D: the norms' last component
    X, Y = _data(kind, dtype, D, rng)
    for axis, (A, B) in ((1, (X, Y)), (0, (Y, X))):
        args = (red, k, D, A, B, axis)
        screened = _run(*args, True, monkeypatch, tmp_path)
        plain = _run(*args, False, monkeypatch, tmp_path)
        np.testing.assert_array_equal(screened, plain)


def test_screened_equals_the_interpreter(monkeypatch, tmp_path):
    rng = np.random.default_rng(5)
    D = 20
    X, Y = _data("random", np.float32, D, rng)
    got = _run("KMin_ArgKMin", 4, D, X, Y, 1, True, monkeypatch, tmp_path)
    aliases = [f"x = Vi({D})", f"y = Vj({D})"]
    module, args = build_kernel(
        "SqDist(x,y)", aliases, "float32", ReductionSpec("KMin_ArgKMin", 1, 4)
    )
    want = evaluate(module, [X, Y])
    np.testing.assert_array_equal(got[:, 1::2], want[:, 1::2])  # indices
    np.testing.assert_allclose(got[:, ::2], want[:, ::2], rtol=1e-5)
