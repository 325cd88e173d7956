"""Matrix and tensor products and B-splines (dialect/ops/linalg.py) against plain numpy written
out pair by pair (np.kron, np.tensordot, a textbook Cox-de Boor), against pykeops, and their
dimension errors."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

import keir
from keir.frontend.formula import ReductionSpec, build_kernel

from conftest import AXES
from formulas import ALIASES, data

M, N = 4, 5
NAMES = [a.split("=")[0].strip() for a in ALIASES]
KINDS = [a.split("=")[1].strip()[:2] for a in ALIASES]


def _pairwise(fn, args, axis):
    """Sum over the reduced index of fn(variables at (i, j)), one pair at a time."""

    def at(i, j):
        picked = [x if k == "Pm" else x[i if k == "Vi" else j] for x, k in zip(args, KINDS)]
        return SimpleNamespace(**dict(zip(NAMES, picked)))

    F = np.array([[np.ravel(fn(at(i, j))) for j in range(N)] for i in range(M)])
    return F.sum(axis)


def cox_de_boor(t, x, i, k):
    """B_{i,k}(x), the textbook recursion; a term with a zero denominator is dropped."""
    if k == 0:
        return 1.0 if t[i] <= x < t[i + 1] else 0.0
    total = 0.0
    if t[i + k] > t[i]:
        total += (x - t[i]) / (t[i + k] - t[i]) * cox_de_boor(t, x, i, k - 1)
    if t[i + k + 1] > t[i + 1]:
        total += (t[i + k + 1] - x) / (t[i + k + 1] - t[i + 1]) * cox_de_boor(t, x, i + 1, k - 1)
    return total


def bspline(knots, x, order):
    t = np.concatenate(knots)
    return [cox_de_boor(t, x[0], i, order) for i in range(len(t) - order - 1)]


def tensordot(a, b, dims_a, dims_b, axes):
    return np.tensordot(a.reshape(dims_a), b.reshape(dims_b), axes=axes)


CASES = [
    # matrices are row-major
    ("MatVecMult(u, y)", lambda v: v.u.reshape(2, 3) @ v.y),
    ("MatVecMult(u, b)", lambda v: v.u * v.b),
    ("MatVecMult(A, x - y)", lambda v: v.A.reshape(3, 3) @ (v.x - v.y)),
    ("VecMatMult(x, v)", lambda v: v.x @ v.v.reshape(3, 2)),
    ("VecMatMult(y, u)", lambda v: v.y @ v.u.reshape(3, 2)),
    ("TensorProd(x, w)", lambda v: np.outer(v.x, v.w)),
    ("TensorProd(a, y - x)", lambda v: np.outer(v.a, v.y - v.x)),
    # TensorDot: tensordot axis k goes to output axis permute[k]
    (
        "TensorDot(u, v, (2, 3), (3, 2), (1,), (0,))",
        lambda v: v.u.reshape(2, 3) @ v.v.reshape(3, 2),
    ),
    (
        "TensorDot(u, v, [2, 3], [3, 2], [1], [0], [1, 0])",
        lambda v: (v.u.reshape(2, 3) @ v.v.reshape(3, 2)).T,
    ),
    (
        "TensorDot(z, w, (2, 2), (2, 2), (0,), (1,), (1, 0))",
        lambda v: v.w.reshape(2, 2) @ v.z.reshape(2, 2),
    ),
    (
        "TensorDot(TensorProd(u, z), v, (2, 3, 4), (3, 2), (1,), (0,), (2, 0, 1))",
        lambda v: np.einsum(
            "ijk->jki", tensordot(np.outer(v.u, v.z), v.v, (2, 3, 4), (3, 2), ([1], [0]))
        ),
    ),
    (
        "TensorDot(u, v, (3, 2), (2, 3), (0, 1), (1, 0))",
        lambda v: tensordot(v.u, v.v, (3, 2), (2, 3), ([0, 1], [1, 0])),
    ),
    ("TensorDot(x, w, (3,), (2, 2), (), ())", lambda v: np.outer(v.x, v.w)),
    ("Kron(z, v, (2, 2), (2, 3))", lambda v: np.kron(v.z.reshape(2, 2), v.v.reshape(2, 3))),
    ("Kron(x, w, (3,), (4,))", lambda v: np.kron(v.x, v.w)),
    (
        "Kron(u, w, (1, 2, 3), (2, 1, 2))",
        lambda v: np.kron(v.u.reshape(1, 2, 3), v.w.reshape(2, 1, 2)),
    ),
    (
        "BSpline(Concat(Concat(a - 2, SumT(a - 1, 2)), Concat(Concat(a, 2 * a), a + 2)), b, 2)",
        lambda v: bspline([v.a - 2, v.a - 1, v.a - 1, v.a, 2 * v.a, v.a + 2], v.b, 2),
    ),
    (
        "BSpline(Concat(Concat(a - 2, a - 1), Concat(a, a + 1)), b, 0)",
        lambda v: bspline([v.a - 2, v.a - 1, v.a, v.a + 1], v.b, 0),
    ),
    (
        "BSpline(Concat(Concat(b - 1, b), Concat(2 * b, b + 2)), a, 1)",
        lambda v: bspline([v.b - 1, v.b, 2 * v.b, v.b + 2], v.a, 1),
    ),
    (
        "BSpline(Concat(Concat(a - 2, SumT(a - 1, 3)), Concat(a, 2 * a)), b, 3)",
        lambda v: bspline([v.a - 2, v.a - 1, v.a - 1, v.a - 1, v.a, 2 * v.a], v.b, 3),
    ),
]


@pytest.mark.parametrize("axis", AXES)
@pytest.mark.parametrize("formula, fn", CASES, ids=[c[0] for c in CASES])
def test_against_numpy(formula, fn, axis):
    args = data("float64", seed=3, sizes=(M, N))
    out = keir.Genred(formula, ALIASES, reduction_op="Sum", axis=axis)(*args)
    expected = _pairwise(fn, args, axis)
    assert out.shape == expected.shape
    np.testing.assert_allclose(out, expected, rtol=1e-13, atol=1e-13)


def test_bspline_at_knots_and_outside():
    """Half-open intervals: a basis function is 1 at its left knot, 0 at its right knot."""
    t = np.array([0.0, 1.0, 1.0, 2.5, 3.0, 3.0, 4.0])
    x = np.concatenate([t, [-1.0, 4.5, 0.3, 2.7, 3.5]])[:, None]
    aliases = ["t = Pm(7)", "x = Vi(1)", "c = Vj(1)"]
    for order in range(4):
        f = keir.Genred(f"BSpline(t, x, {order})", aliases, reduction_op="Sum", axis=1)
        out = f(t, x, np.ones((1, 1)))
        expected = [bspline([t], xi, order) for xi in x]
        np.testing.assert_allclose(out, expected, rtol=1e-14, atol=1e-14)


# ---------------------------------------------------------------- pykeops
PYKEOPS_CASES = [
    # formula, aliases, dtype
    (
        "Concat(MatVecMult(u, y) + VecMatMult(y, u), TensorProd(MatVecMult(A, x - y), z))",
        ALIASES,
        "float64",
    ),
    (
        "Concat(TensorDot(TensorProd(u, z), v, (2, 3, 4), (3, 2), (1,), (0,), (2, 0, 1)), "
        "Kron(z, v, (2, 2), (2, 3)))",
        ALIASES,
        "float64",
    ),
    # KeOps generates BSpline code only in float32
    (
        "Concat(c * BSpline(t, x, 3), BSpline(t, x, 0))",
        ["t = Pm(7)", "x = Vj(1)", "c = Vi(1)"],
        "float32",
    ),
]


def _bspline_data(dtype, knots):
    x = np.concatenate([knots, [-1.0, 4.5], np.random.default_rng(5).uniform(-0.5, 4.5, 20)])
    c = np.random.default_rng(6).uniform(0.5, 1.5, (M, 1))
    return [np.asarray(knots, dtype), x[:, None].astype(dtype), c.astype(dtype)]


@pytest.mark.pykeops
@pytest.mark.parametrize("formula, aliases, dtype", PYKEOPS_CASES)
def test_same_as_pykeops(formula, aliases, dtype):
    pykeops_numpy = pytest.importorskip("pykeops.numpy")
    theirs = pykeops_numpy.Genred(formula, aliases, reduction_op="Sum", axis=1)
    ours = keir.Genred(formula, aliases, reduction_op="Sum", axis=1)
    if aliases is ALIASES:
        datasets = [data(dtype, seed=4, sizes=(M, N))]
    else:  # sorted knots with repeats, then unsorted knots (same code, other data)
        datasets = [
            _bspline_data(dtype, k) for k in ([0, 1, 1, 2.5, 3, 3, 4], [0, 2, 1, 3, 3, 1, 4])
        ]
    rtol = 1e-5 if dtype == "float32" else 1e-13
    for args in datasets:
        expected = theirs(*args, backend="CPU")
        got = ours(*args)
        assert got.shape == expected.shape and got.dtype == expected.dtype
        np.testing.assert_allclose(got, expected, rtol=rtol, atol=rtol * np.abs(expected).max())


# ---------------------------------------------------------------- dimension errors
BAD = [
    ("MatVecMult(u, w)", "MatVecMult"),
    ("VecMatMult(w, u)", "VecMatMult"),
    ("TensorDot(u, v, (2, 2), (3, 2), (1,), (0,))", "TensorDot: dimsfa"),
    ("TensorDot(u, v, (2, 3), (2, 3), (1,), (0,))", "TensorDot: contracted sizes differ"),
    ("TensorDot(u, v, (2, 3), (3, 2), (2,), (0,))", "TensorDot: contfa"),
    ("TensorDot(u, v, (2, 3), (3, 2), (1,), (0,), (0, 0))", "TensorDot: permute"),
    ("TensorDot(u, v, (2, 3), (3, 2), (1,), ())", "TensorDot: contfa"),
    ("Kron(z, v, (2, 2), (6,))", "Kron: dimsfa"),
    ("Kron(z, v, (2, 2), (2, 2))", "Kron: dimsfb"),
    ("BSpline(x, b, 2)", "BSpline: order 2 needs at least 4 knots"),
    ("BSpline(u, y, 1)", "BSpline: x must have dim 1"),
]


@pytest.mark.parametrize("formula, message", BAD)
def test_dimension_errors(formula, message):
    with pytest.raises(keir.DimensionError, match=message):
        build_kernel(formula, ALIASES, "float64", ReductionSpec("Sum", 1))
