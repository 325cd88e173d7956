"""The complex ops (interleaved re, im pairs) against numpy's complex arithmetic, written here
independently of the ops' own references; against pykeops 2.3 on two formulas that together use
every complex op; and their dimension errors."""

from __future__ import annotations

import numpy as np
import pytest

import keir
from keir.dialect.ops import OPS
from keir.frontend.formula import ReductionSpec, build_kernel

from conftest import AXES, assert_close

# p, q: two complex numbers each; c, e: one; r: a real; t, o: odd-dim real vectors.
ALIASES = [
    "p = Vi(4)",
    "q = Vj(4)",
    "c = Vj(2)",
    "e = Vi(2)",
    "r = Vi(1)",
    "t = Vi(3)",
    "o = Vj(3)",
]
M, N = 5, 7


def _data(seed=0):
    rng = np.random.default_rng(seed)
    return [
        rng.uniform(0.5, 1.5, (M if "Vi" in a else N, int(a.split("(")[1].rstrip(")"))))
        for a in ALIASES
    ]


def cx(x):
    return x[..., 0::2] + 1j * x[..., 1::2]


def flat(c):
    """Complex numbers back to interleaved (re, im) components."""
    c = np.asarray(c)
    return np.stack([c.real, c.imag], -1).reshape(c.shape[:-1] + (-1,))


# formula, then its value from the (M, 1, d) / (1, N, d) variables as numpy complex numbers
# (real variables stay real).
CASES = [
    ("ComplexReal(p - q)", lambda v: (v.p - v.q).real),
    ("ComplexImag(ComplexMult(p, q))", lambda v: (v.p * v.q).imag),
    ("Real2Complex(t - o)", lambda v: flat((v.t - v.o) + 0j)),
    ("Imag2Complex(t * o)", lambda v: flat(1j * (v.t * v.o))),
    ("Conj(p - q)", lambda v: flat(np.conj(v.p - v.q))),
    ("ComplexSquareAbs(p - q)", lambda v: np.abs(v.p - v.q) ** 2),
    ("ComplexAbs(p - q)", lambda v: np.abs(v.p - v.q)),
    ("ComplexAngle(p - q)", lambda v: np.angle(v.p - v.q)),
    ("ComplexSum(p - q)", lambda v: flat((v.p - v.q).sum(-1, keepdims=True))),
    ("ComplexSumT(c - e, 6)", lambda v: flat(np.repeat(v.c - v.e, 3, -1))),
    ("ComplexAdd(p, q)", lambda v: flat(v.p + v.q)),
    ("ComplexAdd(p, c)", lambda v: flat(v.p + v.c)),
    ("ComplexSubtract(c, p)", lambda v: flat(v.c - v.p)),
    ("ComplexSubtract(p, q)", lambda v: flat(v.p - v.q)),
    ("ComplexMult(p, q)", lambda v: flat(v.p * v.q)),
    ("ComplexMult(e, q)", lambda v: flat(v.e * v.q)),
    ("ComplexMult(e, c)", lambda v: flat(v.e * v.c)),
    ("ComplexRealScal(r, q)", lambda v: flat(v.r * v.q)),
    ("ComplexRealScal(q, r)", lambda v: flat(v.r * v.q)),
    ("ComplexDivide(p, q)", lambda v: flat(v.p / v.q)),
    ("ComplexDivide(p, c)", lambda v: flat(v.p / v.c)),
    ("ComplexDivide(e, q)", lambda v: flat(v.e / v.q)),
    ("ComplexExp(p - q)", lambda v: flat(np.exp(v.p - v.q))),
    ("ComplexExp1j(t - o)", lambda v: flat(np.exp(1j * (v.t - v.o)))),
]
COMPLEX_OPS = sorted(n for n, d in OPS.items() if d.lower.__module__.endswith(".complex"))


class _Vars:
    """The test variables broadcast as (M, 1, d) or (1, N, d); even-dim ones as complex."""

    def __init__(self, args):
        for alias, x in zip(ALIASES, args):
            name, dim = alias.split()[0], x.shape[1]
            x = x[:, None, :] if "Vi" in alias else x[None, :, :]
            setattr(self, name, cx(x) if dim % 2 == 0 else x)


def test_cases_use_every_complex_op():
    used = " ".join(f for f, _ in CASES)
    assert COMPLEX_OPS and all(name + "(" in used for name in COMPLEX_OPS)


@pytest.mark.parametrize("axis", AXES)
@pytest.mark.parametrize("formula, numpy_value", CASES, ids=[f for f, _ in CASES])
def test_against_numpy_complex(formula, numpy_value, axis):
    args = _data()
    out = keir.Genred(formula, ALIASES, reduction_op="Sum", axis=axis, dtype="float64")(*args)
    expected = np.broadcast_to(numpy_value(_Vars(args)), (M, N, out.shape[1])).sum(axis)
    assert out.shape == expected.shape
    assert_close(out, expected, "float64")


# Two formulas that together use every complex op, with both broadcasting orders.
PYKEOPS_CASES = [
    (
        "ComplexAdd(ComplexMult(Conj(p), ComplexExp(ComplexSubtract(q, c))),"
        " ComplexRealScal(ComplexDivide(ComplexSumT(ComplexSum(p), 4), q), r))",
        1,
    ),
    (
        "ComplexAbs(p - q) * ComplexAngle(ComplexMult(c, q))"
        " + ComplexSquareAbs(ComplexDivide(e, q))"
        " + ComplexImag(ComplexExp1j(ComplexReal(p) - ComplexImag(q)))"
        " + ComplexImag(ComplexMult(Real2Complex(ComplexImag(p)), Imag2Complex(ComplexReal(q))))",
        0,
    ),
]


def test_pykeops_cases_use_every_complex_op():
    used = " ".join(f for f, _ in PYKEOPS_CASES)
    assert all(name + "(" in used for name in COMPLEX_OPS)


@pytest.mark.pykeops
@pytest.mark.parametrize("formula, axis", PYKEOPS_CASES)
def test_same_as_pykeops(formula, axis):
    pykeops_numpy = pytest.importorskip("pykeops.numpy")
    args = _data(seed=3)
    theirs = pykeops_numpy.Genred(formula, ALIASES, reduction_op="Sum", axis=axis)(
        *args, backend="CPU"
    )
    ours = keir.Genred(formula, ALIASES, reduction_op="Sum", axis=axis)(*args)
    assert ours.shape == theirs.shape and ours.dtype == theirs.dtype
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-12 * np.abs(theirs).max())


@pytest.mark.parametrize(
    "formula, op",
    [
        ("ComplexReal(t)", "ComplexReal"),
        ("ComplexImag(t)", "ComplexImag"),
        ("Conj(t)", "Conj"),
        ("ComplexSquareAbs(t)", "ComplexSquareAbs"),
        ("ComplexAbs(t)", "ComplexAbs"),
        ("ComplexAngle(t)", "ComplexAngle"),
        ("ComplexSum(t)", "ComplexSum"),
        ("ComplexSumT(t, 4)", "ComplexSumT"),
        ("ComplexSumT(c, 5)", "ComplexSumT"),
        ("ComplexAdd(p, t)", "ComplexAdd"),
        ("ComplexSubtract(o, q)", "ComplexSubtract"),
        ("ComplexMult(r, q)", "ComplexMult"),
        ("ComplexRealScal(r, t)", "ComplexRealScal"),
        ("ComplexRealScal(p, q)", "ComplexRealScal"),
        ("ComplexDivide(p, o)", "ComplexDivide"),
        ("ComplexExp(t)", "ComplexExp"),
        ("ComplexAdd(p, Concat(p, c))", "ComplexAdd"),
    ],
)
def test_dimension_errors_name_the_op(formula, op):
    with pytest.raises(keir.DimensionError, match=op):
        build_kernel(formula, ALIASES, "float64", ReductionSpec("Sum", 1))
