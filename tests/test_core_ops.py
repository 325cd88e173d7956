"""Every core op, compiled, on both dtypes and both axes: against hand-written numpy and the
reference interpreter."""

from __future__ import annotations

import numpy as np
import pytest

from keir import Genred
from keir.dialect.interpreter import evaluate
from keir.frontend.formula import ReductionSpec, build_kernel

from conftest import AXES, DTYPES, assert_close

ALIASES = ["x = Vi(3)", "y = Vj(3)", "b = Vj(1)", "s = Pm(1)"]
M, N = 37, 53


def sq(d):
    return (d * d).sum(-1, keepdims=True)


# formula -> numpy of (x (M,1,3), y (1,N,3), b (1,N,1), s (1,1,1)); data lies in [0.5, 1.5).
CASES = {
    "x + y": lambda x, y, b, s: x + y,
    "x - y": lambda x, y, b, s: x - y,
    "x * y": lambda x, y, b, s: x * y,
    "x / (y + 2)": lambda x, y, b, s: x / (y + 2),
    "-x + y": lambda x, y, b, s: -x + y,
    "Minus(x) * y": lambda x, y, b, s: -x * y,
    "Square(x - y)": lambda x, y, b, s: (x - y) ** 2,
    "Inv(x + y)": lambda x, y, b, s: 1 / (x + y),
    "(x - y) ^ 3": lambda x, y, b, s: (x - y) ** 3,
    "Pow(x + y, -2)": lambda x, y, b, s: (x + y) ** -2.0,
    "(x - y) ** 2": lambda x, y, b, s: (x - y) ** 2,
    "Pow(x, 0) + y": lambda x, y, b, s: 1 + y,
    "(x + y) ^ s": lambda x, y, b, s: (x + y) ** s,
    "Powf(x + y, 0.5)": lambda x, y, b, s: np.sqrt(x + y),
    "Exp(x - y)": lambda x, y, b, s: np.exp(x - y),
    "Log(x + y)": lambda x, y, b, s: np.log(x + y),
    "Sqrt(x * y)": lambda x, y, b, s: np.sqrt(x * y),
    "Rsqrt(x + y)": lambda x, y, b, s: 1 / np.sqrt(x + y),
    "Abs(x - y)": lambda x, y, b, s: np.abs(x - y),
    "Sum(x * y)": lambda x, y, b, s: (x * y).sum(-1, keepdims=True),
    "SqNorm2(x - y)": lambda x, y, b, s: sq(x - y),
    "SqDist(x, y)": lambda x, y, b, s: sq(x - y),
    "Norm2(x - y)": lambda x, y, b, s: np.sqrt(sq(x - y)),
    "(x | y)": lambda x, y, b, s: (x * y).sum(-1, keepdims=True),
    "IntCst(3) * x - y": lambda x, y, b, s: 3 * x - y,
    "2 * x + 1": lambda x, y, b, s: 2 * x + 1 + 0 * y,
    "0.25 * x - y / 1.5e0": lambda x, y, b, s: 0.25 * x - y / 1.5,
    "s * x + y": lambda x, y, b, s: s * x + y,
    "b * x - y": lambda x, y, b, s: b * x - y,
    "x * SqDist(x, y)": lambda x, y, b, s: x * sq(x - y),
    "Exp(-s * SqNorm2(x - y)) * b": lambda x, y, b, s: np.exp(-s * sq(x - y)) * b,
}


def data(rng, dtype):
    x = rng.uniform(0.5, 1.5, (M, 3)).astype(dtype)
    y = rng.uniform(0.5, 1.5, (N, 3)).astype(dtype)
    b = rng.uniform(0.5, 1.5, (N, 1)).astype(dtype)
    s = np.array([0.7], dtype=dtype)
    return x, y, b, s


@pytest.mark.parametrize("axis", AXES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("formula", list(CASES))
def test_op_sum(formula, dtype, axis, rng):
    x, y, b, s = data(rng, dtype)
    out = Genred(formula, ALIASES, reduction_op="Sum", axis=axis, dtype=dtype)(x, y, b, s)
    f = CASES[formula](
        *(a.astype(np.float64) for a in (x[:, None], y[None], b[None], s.reshape(1, 1, 1)))
    )
    expected = np.broadcast_to(f, (M, N, f.shape[-1])).sum(axis=axis)
    assert out.dtype == np.dtype(dtype)
    assert out.shape == expected.shape
    assert_close(out, expected, dtype, scale_rtol=10)
    module, _ = build_kernel(formula, ALIASES, dtype, ReductionSpec("Sum", axis))
    assert_close(out, evaluate(module, [x, y, b, s]), dtype, scale_rtol=10)


def test_rsqrt_is_zero_at_zero():
    x = np.array([[0.0], [4.0]])
    y = np.array([[0.0]])
    out = Genred("Rsqrt(x + y)", ["x = Vi(1)", "y = Vj(1)"], axis=1)(x, y)
    np.testing.assert_array_equal(out, [[0.0], [0.5]])


def test_vector_formula_output_dim(rng):
    x, y, b, s = data(rng, "float64")
    out = Genred("x * b", ["x = Vi(3)", "b = Vj(1)"], axis=1)(x, b)
    np.testing.assert_allclose(out, x * b.sum(), rtol=1e-12)
