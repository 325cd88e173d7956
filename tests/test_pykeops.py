"""keir against pykeops 2.3 itself on the same Genred calls: values, shapes, dtypes, argmin
conventions. pykeops compiles C++ on first use of each formula (5-7 s), so this file keeps to a
representative handful of formulas."""

from __future__ import annotations

import numpy as np
import pytest

pykeops_numpy = pytest.importorskip("pykeops.numpy")

import keir  # noqa: E402

pytestmark = pytest.mark.pykeops

M, N = 60, 45

CASES = [
    # formula, aliases, reduction, axis, dtype
    (
        "Exp(-s * SqDist(x, y)) * b",
        ["x = Vi(3)", "y = Vj(3)", "b = Vj(2)", "s = Pm(1)"],
        "Sum",
        0,
        "float64",
    ),
    (
        "Exp(-s * SqDist(x, y)) * b",
        ["x = Vi(3)", "y = Vj(3)", "b = Vj(2)", "s = Pm(1)"],
        "Sum",
        1,
        "float32",
    ),
    ("SqDist(x, y)", ["x = Vi(3)", "y = Vj(3)"], "ArgMin", 1, "float32"),
    ("x - y", ["x = Vi(3)", "y = Vj(3)"], "Max_ArgMax", 0, "float64"),
    ("-SqDist(x, y) * s", ["x = Vi(3)", "y = Vj(3)", "s = Pm(1)"], "LogSumExp", 1, "float64"),
]


def _data(aliases, dtype, rng):
    out = []
    for a in aliases:
        kind, dim = a.split("=")[1].strip()[:2], int(a.split("(")[1].rstrip(")"))
        if kind == "Pm":
            out.append(np.full(dim, 0.8, dtype=dtype))
        else:
            out.append(rng.standard_normal((M if kind == "Vi" else N, dim)).astype(dtype))
    return out


@pytest.mark.parametrize("formula, aliases, reduction, axis, dtype", CASES)
def test_same_as_pykeops(formula, aliases, reduction, axis, dtype):
    args = _data(aliases, dtype, np.random.default_rng(7))
    theirs = pykeops_numpy.Genred(formula, aliases, reduction_op=reduction, axis=axis)(
        *args, backend="CPU"
    )
    ours = keir.Genred(formula, aliases, reduction_op=reduction, axis=axis)(*args)
    assert isinstance(ours, tuple) == isinstance(theirs, tuple)
    if not isinstance(ours, tuple):
        ours, theirs = (ours,), (theirs,)
    rtol = 1e-5 if dtype == "float32" else 1e-12
    for a, b in zip(ours, theirs):
        assert a.shape == b.shape
        assert a.dtype == b.dtype
        np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * np.abs(b).max())


def test_argmin_ties_like_pykeops():
    x = np.zeros((4, 1))
    y = np.array([[3.0], [1.0], [1.0], [2.0], [1.0]])
    args = (x, y)
    aliases = ["x = Vi(1)", "y = Vj(1)"]
    theirs = pykeops_numpy.Genred("y - x", aliases, reduction_op="ArgMin", axis=1)(
        *args, backend="CPU"
    )
    ours = keir.Genred("y - x", aliases, reduction_op="ArgMin", axis=1)(*args)
    np.testing.assert_array_equal(ours, theirs)


GRAD_CASES = [
    # formula, variable, gradin alias
    (
        "Exp(-s * SqDist(x, y)) * b + Sin((x | y)) * Log(Norm2(x - y) + 1)"
        " + Sum(Powf(Square(x), s))",
        "x",
        "e = Vi(2)",
    ),
    (
        "Sqrt(SqNorm2(x - y) + 1) * Atan(b) + Max(x * y) + Elem(Normalize(y - x), 1) * s",
        "y",
        "e = Vj(2)",
    ),
]


@pytest.mark.parametrize("formula, var, gradin", GRAD_CASES)
def test_grad_formulas_like_pykeops(formula, var, gradin):
    aliases = ["x = Vi(3)", "y = Vj(3)", "b = Vj(2)", "s = Pm(1)", gradin]
    rng = np.random.default_rng(9)
    x, y = rng.random((M, 3)), rng.random((N, 3))
    b, s = rng.random((N, 2)), np.array([0.8])
    e = rng.random((M if "Vi" in gradin else N, int(gradin[-2])))
    axis = 1 if "Vi" in gradin else 0
    f = f"Grad({formula}, {var}, e)"
    theirs = pykeops_numpy.Genred(f, aliases, reduction_op="Sum", axis=axis)(
        x, y, b, s, e, backend="CPU"
    )
    ours = keir.Genred(f, aliases, reduction_op="Sum", axis=axis)(x, y, b, s, e)
    np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-9)
