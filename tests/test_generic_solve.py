"""keir.generic_sum/_logsumexp/_argmin/_argkmin and keir.KernelSolve: pykeops.numpy's
signatures, checked against numpy here and against pykeops 2.3 itself in the `pykeops` tests
(three formulas: pykeops compiles each for 5-7 s)."""

from __future__ import annotations

import numpy as np
import pytest

import keir
from keir import (
    ArgumentError,
    DimensionError,
    KernelSolve,
    generic_argkmin,
    generic_argmin,
    generic_logsumexp,
    generic_sum,
)

XY = ("x = Vi(3)", "y = Vj(3)")


def _d2(x, y):
    return ((x[:, None] - y[None]) ** 2).sum(-1)


@pytest.mark.parametrize("cat", ("Vi", "Vj"))
def test_generic_reductions_match_numpy(rng, cat):
    x, y = rng.random((40, 3)), rng.random((30, 3))
    b = rng.random((30, 2))
    axis = 1 if cat == "Vi" else 0  # the reduced axis of the (i, j) matrix
    K = np.exp(-_d2(x, y))
    s = generic_sum("Exp(-SqDist(x,y)) * b", f"a = {cat}(2)", *XY, "b = Vj(2)")(x, y, b)
    if cat == "Vi":
        np.testing.assert_allclose(s, K @ b, rtol=1e-12)
    else:
        s = generic_sum("Exp(-SqDist(x,y))", f"a = {cat}(1)", *XY)(x, y)
        np.testing.assert_allclose(s[:, 0], K.sum(0), rtol=1e-12)
    lse = generic_logsumexp("-SqDist(x,y)", f"a = {cat}(1)", *XY)(x, y)
    np.testing.assert_allclose(lse[:, 0], np.log(K.sum(axis)), rtol=1e-12)
    amin = generic_argmin("SqDist(x,y)", f"a = {cat}(1)", *XY)(x, y)
    assert amin.dtype == np.int64
    np.testing.assert_array_equal(amin[:, 0], _d2(x, y).argmin(axis))
    knn = generic_argkmin("SqDist(x,y)", f"a = {cat}(3)", *XY)(x, y)
    expected = np.argsort(_d2(x, y), axis=axis, kind="stable")
    expected = expected[:, :3] if cat == "Vi" else expected[:3].T
    np.testing.assert_array_equal(knn, expected)


def test_generic_passes_genred_options(rng):
    x, y = rng.random((20, 3)), rng.random((10, 3))
    out = generic_sum("SqDist(x,y)", "a = Vi(1)", *XY, dtype="float32")(x, y)
    assert out.dtype == np.float32


@pytest.mark.parametrize(
    "make, error, match",
    [
        (lambda: generic_sum("SqDist(x,y)", "a = Pm(1)", *XY), ArgumentError, "not Pm"),
        (lambda: generic_sum("x - y", "a = Vi(1)", *XY), DimensionError, "3 component"),
        (lambda: generic_argmin("SqDist(x,y)", 3, *XY), ArgumentError, "output must be"),
        (lambda: KernelSolve("SqDist(x,y)", list(XY), "z"), ArgumentError, "not among"),
    ],
)
def test_generic_and_solve_refuse_bad_specs(make, error, match):
    with pytest.raises(error, match=match):
        make()


GAUSS = ("Exp(-SqDist(x, y)) * a", ["x = Vi(2)", "y = Vj(2)", "a = Vj(2)"])


@pytest.mark.parametrize("var", ("a", "Var(2, 2, 1)"))
def test_kernel_solve_solves_the_system(rng, var):
    x, b = rng.random((60, 2)), rng.random((60, 2))
    solve = KernelSolve(*GAUSS, var, axis=1)
    a = solve(x, x, b, alpha=0.5, eps=1e-10)
    K = np.exp(-_d2(x, x))
    np.testing.assert_allclose(0.5 * a + K @ a, b, atol=1e-8)
    np.testing.assert_allclose(a, np.linalg.solve(0.5 * np.eye(60) + K, b), atol=1e-7)


def test_kernel_solve_refuses_a_non_square_system(rng):
    solve = KernelSolve(*GAUSS, "a", axis=1)
    with pytest.raises(ArgumentError, match="square"):
        solve(rng.random((50, 2)), rng.random((40, 2)), rng.random((40, 2)))


def test_names_are_exported_lazily():
    for name in ("KernelSolve", "generic_sum", "generic_argkmin"):
        assert name in keir.__all__ and getattr(keir, name) is not None


# ------------------------------------------------------------------ against pykeops itself
@pytest.mark.pykeops
def test_kernel_solve_like_pykeops(rng):
    pk = pytest.importorskip("pykeops.numpy")
    formula, aliases = "Exp(-Norm2(x - y)) * a", ["x = Vi(3)", "y = Vj(3)", "a = Vj(2)"]
    x, b = rng.standard_normal((300, 3)), rng.standard_normal((300, 2))
    ours = KernelSolve(formula, aliases, "a", axis=1)(x, x, b, alpha=0.1, eps=1e-10)
    theirs = pk.KernelSolve(formula, aliases, "a", axis=1)(x, x, b, alpha=0.1, eps=1e-10)
    np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-8)


@pytest.mark.pykeops
def test_generic_logsumexp_and_argkmin_like_pykeops(rng):
    pk = pytest.importorskip("pykeops.numpy")
    x, y = rng.standard_normal((50, 3)), rng.standard_normal((70, 3))
    g, w = np.array([0.5]), rng.random((70, 1))
    lse = ("(-(g * SqNorm2(x - y))) + b", "a = Vi(1)", *XY, "g = Pm(1)", "b = Vj(1)")
    np.testing.assert_allclose(
        generic_logsumexp(*lse)(x, y, g, np.log(w)),
        pk.generic_logsumexp(*lse)(x, y, g, np.log(w)),
        rtol=1e-12,
    )
    knn = ("SqDist(x, y)", "a = Vj(4)", *XY)
    ours, theirs = generic_argkmin(*knn)(x, y), pk.generic_argkmin(*knn)(x, y)
    assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
    np.testing.assert_array_equal(ours, theirs)
