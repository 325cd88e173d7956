"""LazyTensor.solve: conjugate gradients on (alpha Id + K) x = b, as pykeops' KernelSolve."""

from __future__ import annotations

import numpy as np
import pytest

from keir import ArgumentError, NotSupportedError
from keir.lazytensor import LazyTensor, Vi, Vj, conjugate_gradient


def _gaussian(x, sigma):
    return np.exp(-((x[:, None] - x[None]) ** 2).sum(-1) / (2 * sigma**2))


def test_solve_matches_the_dense_solution_on_2000_points():
    rng = np.random.default_rng(0)
    x = rng.random((2000, 2))
    b = rng.standard_normal((2000, 3))
    sigma, alpha = 0.1, 0.1
    x_i, x_j = LazyTensor(x[:, None, :]), LazyTensor(x[None, :, :])
    K = (-((x_i - x_j) ** 2).sum(-1) / (2 * sigma**2)).exp()
    a = K.solve(b, alpha=alpha)
    ref = np.linalg.solve(_gaussian(x, sigma) + alpha * np.eye(2000), b)
    assert a.shape == (2000, 3)
    np.testing.assert_allclose(a, ref, atol=1e-5 * np.abs(ref).max())
    # the residual of the linear system itself
    residual = alpha * a + K @ a - b
    assert np.abs(residual).max() < 1e-5


def test_solve_shapes_variables_and_float32():
    rng = np.random.default_rng(1)
    x = rng.random((150, 2)).astype(np.float32)
    K = (-Vi(x).sqdist(Vj(x)) * 20).exp()
    dense = _gaussian(x.astype(float), 1 / np.sqrt(40))
    b = rng.standard_normal(150).astype(np.float32)
    a = K.solve(b, alpha=1.0, eps=1e-4)
    assert a.shape == (150,) and a.dtype == np.float32
    np.testing.assert_allclose(a, np.linalg.solve(dense + np.eye(150), b), atol=1e-3)
    a = K.solve(Vi(b[:, None]), alpha=1.0, eps=1e-4)  # a variable LazyTensor as right side
    np.testing.assert_allclose(a[:, 0], np.linalg.solve(dense + np.eye(150), b), atol=1e-3)


def test_batched_solve():
    rng = np.random.default_rng(2)
    x = rng.random((2, 60, 2))
    K = (-(LazyTensor(x[:, :, None]) - LazyTensor(x[:, None])).sqnorm2() * 10).exp()
    b = rng.standard_normal((2, 60, 1))
    a = K.solve(b, alpha=0.5)
    for k in range(2):
        ref = np.linalg.solve(_gaussian(x[k], 1 / np.sqrt(20)) + 0.5 * np.eye(60), b[k])
        np.testing.assert_allclose(a[k], ref, atol=1e-5)


def test_conjugate_gradient_stops_after_maxiter_with_a_warning():
    matrix = np.diag([1.0, 2.0, 3.0])  # three distinct eigenvalues: CG needs 3 steps
    with pytest.warns(RuntimeWarning, match="conjugate gradient stopped"):
        conjugate_gradient(lambda p: matrix @ p, np.ones((3, 1)), maxiter=2)
    np.testing.assert_allclose(
        conjugate_gradient(lambda p: matrix @ p, np.ones((3, 1))), [[1], [0.5], [1 / 3]]
    )
    assert np.all(conjugate_gradient(lambda p: p, np.zeros((3, 1))) == 0)


def test_solve_refuses_what_it_does_not_support():
    x = np.random.default_rng(3).random((20, 2))
    K = (-Vi(x).sqdist(Vj(x))).exp()
    with pytest.raises(NotSupportedError, match="var"):
        K.solve(x[:, :1], var=Vj(x))
    with pytest.raises(NotSupportedError, match="symbolic"):
        (-Vi(0, 2).sqdist(Vj(x))).exp().solve(x[:, :1])
    with pytest.raises(ArgumentError, match="right-hand side"):
        K.solve(Vi(x) * 2)
