"""keir.grad: gradients of reductions (Sum, LogSumExp, SumSoftMaxWeight, Min, Max, KMin) with
respect to i-, j- and parameter arguments, and gradients of gradients, vs finite differences."""

from __future__ import annotations

import numpy as np
import pytest

import keir
from keir import ArgumentError, NotSupportedError

ALIASES = ["x = Vi(3)", "y = Vj(3)", "b = Vj(1)", "s = Pm(1)"]


def data(seed=0):
    rng = np.random.default_rng(seed)
    return [rng.random((6, 3)), rng.random((9, 3)), rng.random((9, 1)), np.array([0.7])]


def finite_difference(fun, args, pos, gradin, h=1e-6):
    v, out = args[pos], np.zeros_like(args[pos])
    for idx in np.ndindex(v.shape):
        values = []
        for sign in (1, -1):
            w = v.copy()
            w[idx] += sign * h
            values.append((gradin * np.asarray(fun(*args[:pos], w, *args[pos + 1 :]))).sum())
        out[idx] = (values[0] - values[1]) / (2 * h)
    return out


CASES = [
    ("Sum", "Exp(-s * SqDist(x, y)) * b", {}),
    ("LogSumExp", "-s * SqDist(x, y) * b", {}),
    ("LogSumExp", "-s * SqDist(x, y)", {"formula2": "Exp(b) * x"}),
    ("SumSoftMaxWeight", "-s * SqDist(x, y)", {"formula2": "b * x"}),
    ("Min", "SqDist(x, y) + s * b", {}),
    ("Max", "x * s - y", {}),
    ("KMin", "SqDist(x, y) + s * b", {"opt_arg": 3}),
    ("KMin", "x * s - y", {"opt_arg": 2}),
]


@pytest.mark.parametrize("axis", [0, 1])
@pytest.mark.parametrize("kind, formula, options", CASES)
def test_reduction_gradient(kind, formula, options, axis):
    args = data()
    f = keir.Genred(formula, ALIASES, reduction_op=kind, axis=axis, **options)
    gradin = np.random.default_rng(1).random(np.shape(f(*args)))
    for pos, name in enumerate(["x", "y", "b", "s"]):
        got = keir.grad(f, name)(*args, gradin=gradin)
        want = finite_difference(f, args, pos, gradin)
        assert got.shape == args[pos].shape
        np.testing.assert_allclose(
            got, want, rtol=1e-6, atol=1e-7 * np.abs(want).max(), err_msg=f"{kind} d/d{name}"
        )


def test_hessian_vector_product_of_a_gaussian_kernel_sum():
    """grad of grad: H v for f(x) = sum_i e_i sum_j exp(-|x_i - y_j|^2) b_j."""
    x, y, b, _ = data(2)
    f = keir.Genred("Exp(-SqDist(x, y)) * b", ALIASES[:3], reduction_op="Sum", axis=1)
    e = np.random.default_rng(3).random((6, 1))
    v = np.random.default_rng(4).random((6, 3))
    g = keir.grad(f, "x")
    hvp = keir.grad(g, "x")(x, y, b, e, gradin=v)
    h = 1e-5
    fd = (g(x + h * v, y, b, gradin=e) - g(x - h * v, y, b, gradin=e)) / (2 * h)
    np.testing.assert_allclose(hvp, fd, rtol=1e-7, atol=1e-9)
    # and with respect to y: mixed second derivatives come out of the same machinery
    mixed = keir.grad(g, "y")(x, y, b, e, gradin=v)
    fd_y = finite_difference(lambda *a: g(*a, gradin=e), [x, y, b], 1, v)
    np.testing.assert_allclose(mixed, fd_y, rtol=1e-6, atol=1e-9)


def test_default_gradin_is_ones():
    args = data()
    f = keir.Genred("SqDist(x, y) * b", ALIASES, reduction_op="Sum", axis=1)
    np.testing.assert_allclose(
        keir.grad(f, 0)(*args), keir.grad(f, "x")(*args, gradin=np.ones((6, 1)))
    )


def test_unsupported_and_bad_requests():
    f = keir.Genred("SqDist(x, y)", ALIASES, reduction_op="ArgMin", axis=1)
    with pytest.raises(NotSupportedError, match="ArgMin"):
        keir.grad(f, "x")
    g = keir.Genred("SqDist(x, y)", ALIASES, reduction_op="Sum", axis=1)
    with pytest.raises(ArgumentError, match="no argument 'z'"):
        keir.grad(g, "z")
