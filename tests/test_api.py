"""Genred and keops_kernel as users call them: the seed example, shapes, argument checks."""

from __future__ import annotations

import numpy as np
import pytest

from keir import ArgumentError, Genred, NotSupportedError, keops_kernel

SEED_FORMULA = "Sum_Reduction(Exp(-s * SqNorm2(x - y)) * b, 0)"
SEED_ARGS = ["x = Vi(3)", "y = Vj(3)", "b = Vj(6)", "s = Pm(1)"]


def test_seed_example_runs_as_written():
    """The RKeOps vignette's example, with R's runif data replaced by numpy's."""
    op = keops_kernel(SEED_FORMULA, SEED_ARGS)
    rng = np.random.default_rng(0)
    X, Y, B = rng.random((100, 3)), rng.random((150, 3)), rng.random((150, 6))
    s = 0.2
    res = op([X, Y, B, s])
    expected = np.exp(-s * ((X[:, None, :] - Y[None, :, :]) ** 2).sum(-1)) @ B
    assert res.shape == (100, 6)
    np.testing.assert_allclose(res, expected, rtol=1e-12)


def test_seed_example_float32():
    op = keops_kernel(SEED_FORMULA, SEED_ARGS)
    rng = np.random.default_rng(1)
    X, Y, B = (rng.random(s, dtype=np.float32) for s in ((100, 3), (150, 3), (150, 6)))
    res = op([X, Y, B, np.float32(0.2)])
    expected = np.exp(-0.2 * ((X[:, None, :] - Y[None, :, :]) ** 2).sum(-1)) @ B
    assert res.dtype == np.float32
    np.testing.assert_allclose(res, expected, rtol=2e-5)


def test_genred_default_axis_is_zero():
    x, y = np.ones((4, 2)), np.ones((7, 2))
    assert Genred("SqDist(x,y)", ["x = Vi(2)", "y = Vj(2)"])(x, y).shape == (7, 1)


def test_dtype_is_inferred_from_the_first_array():
    x, y = np.ones((4, 2), np.float32), np.ones((7, 2))
    out = Genred("x - y", ["x = Vi(2)", "y = Vj(2)"], axis=1)(x, y)
    assert out.dtype == np.float32


def test_out_argument():
    x, y = np.ones((4, 2)), np.ones((7, 2))
    out = np.empty((4, 2))
    res = Genred("x + y", ["x = Vi(2)", "y = Vj(2)"], axis=1)(x, y, out=out)
    assert res is out
    np.testing.assert_array_equal(out, 14.0)


def test_non_contiguous_and_fortran_inputs_are_handled():
    rng = np.random.default_rng(2)
    big = rng.random((10, 6))
    x, y = big[:, ::2], np.asfortranarray(rng.random((5, 3)))
    out = Genred("SqDist(x, y)", ["x = Vi(3)", "y = Vj(3)"], axis=1)(x, y)
    expected = ((x[:, None] - y[None]) ** 2).sum(-1).sum(1, keepdims=True)
    np.testing.assert_allclose(out, expected, rtol=1e-12)


@pytest.mark.parametrize(
    "args, message",
    [
        ((np.ones((4, 3)),), "expected 2 arrays"),
        ((np.ones((4, 3)), np.ones((5, 2))), "y: expected inner dimension 3"),
        ((np.ones((4, 3, 1)), np.ones((5, 3))), "2-D array"),
        ((np.array([["a"] * 3] * 4), np.ones((5, 3))), "x: expected a real numeric array"),
        ((np.ones((4, 3)), np.ones((5, 3), complex)), "y: .* interleaved real, imaginary pairs"),
    ],
)
def test_bad_arrays_name_the_argument(args, message):
    f = Genred("SqDist(x, y)", ["x = Vi(3)", "y = Vj(3)"], axis=1)
    with pytest.raises(ArgumentError, match=message):
        f(*args)


def test_mismatched_row_counts():
    f = Genred("x * b", ["x = Vi(3)", "y = Vj(3)", "b = Vj(1)"], axis=1)
    with pytest.raises(ArgumentError, match="b: has 4 rows but y has 5"):
        f(np.ones((2, 3)), np.ones((5, 3)), np.ones((4, 1)))


def test_unsupported_options_fail_clearly():
    with pytest.raises(NotSupportedError, match="Zero"):
        Genred("x", ["x = Vi(1)"], reduction_op="Zero")
    f = Genred("x", ["x = Vi(1)", "y = Vj(1)"])
    with pytest.raises(NotSupportedError, match="backend"):
        f(np.ones((2, 1)), np.ones((2, 1)), backend="TPU")


def test_bad_axis():
    with pytest.raises(ArgumentError, match="axis"):
        Genred("x", ["x = Vi(1)"], axis=2)
