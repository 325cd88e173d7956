"""keir-simplify: each rule fires where it should, never where it would change a bit.

The oracle is the reference interpreter on inputs full of IEEE corner cases (+-0, +-inf, NaN,
huge and tiny numbers): the simplified kernel must give the same bits as the original one.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from keir import Genred
from keir.dialect.interpreter import evaluate
from keir.dialect.kernel import formula_ops, kernel_funcs
from keir.frontend.formula import ReductionSpec, build_kernel
from keir.passes import pipeline
from keir.passes.registry import run_pipeline

ALIASES = ["x = Vi(3)", "y = Vj(3)", "b = Vj(1)", "s = Pm(1)", "e = Vi(3)"]
SPECIALS = [0.0, -0.0, 1.0, -1.0, 0.5, -2.5, np.inf, -np.inf, np.nan, 3e38, -1e-40, 7.0]

# formula, ops that must be gone, ops that must remain
REWRITES = [
    ("x * 1", ["mult", "intcst"], []),
    ("1 * x", ["mult"], []),
    ("x / 1", ["divide"], []),
    ("x * -1", ["mult"], ["minus"]),
    ("x / IntCst(-1)", ["divide"], ["minus"]),
    ("-(-x)", ["minus"], []),
    ("x - (-y)", ["subtract", "minus"], ["add"]),
    ("x + (-y)", ["add", "minus"], ["subtract"]),
    ("(-x) + y", ["add", "minus"], ["subtract"]),
    ("(-x) * (-y)", ["minus"], ["mult"]),
    ("Square(-x)", ["minus"], ["square"]),
    ("Abs(-x)", ["minus"], ["abs"]),
    ("Pow(x, 1)", ["pow"], []),
    ("Pow(x, 2)", ["pow"], ["square"]),
    ("Pow(x, -1)", ["pow"], ["inv"]),
    ("Sum(b) * x", ["sum"], []),
    ("x - 0", ["subtract"], []),
    ("Exp(x) + 0", ["add"], ["exp"]),
    ("(x < y) + 0", ["add"], ["lessthan"]),
    ("(2 + 3) * x", ["add", "intcst"], ["cst", "mult"]),
    ("(IntInv(3) * 3 - 1) * x", ["intinv", "subtract"], ["cst"]),
    ("IntInv(3) * IntInv(3) + x", ["intinv"], ["cst", "add"]),  # float32: not 1/9 rounded once
    ("Inv(IntCst(0)) * x", ["inv"], ["cst"]),
    ("Sqrt(-IntCst(2)) + x", ["sqrt"], ["cst"]),
    ("(Zero(3) - Zero(3)) + x", ["subtract"], ["zero", "add"]),
    ("-(s * (-(-x)) * 1)", [], ["minus", "mult"]),
]
# exact-looking rewrites that are wrong for some input: the pass must leave them alone
KEPT = [
    ("x * 0", "mult"),  # inf * 0 is NaN
    ("x + 0", "add"),  # -0 + 0 is +0
    ("Exp(Log(x))", "log"),  # Log's domain
    ("Square(Sqrt(x))", "sqrt"),  # rounding
    ("(x * 3) * 5", "mult"),  # reassociation rounds differently
    ("Exp(IntCst(1)) * x", "exp"),  # the compiled Exp is not numpy's
    ("Sum(x)", "sum"),  # dim 3: a real sum
    ("b - Zero(3)", "subtract"),  # b has dim 1, the result dim 3: the broadcast must stay
]


def _module(formula: str, dtype: str = "float32"):
    module, _ = build_kernel(formula, ALIASES, dtype, ReductionSpec("Sum", 1))
    return module


def _ops(module) -> list[str]:
    return [op.name.removeprefix("keir.") for op in formula_ops(kernel_funcs(module)[0])]


def _inputs(dtype: str):
    """x, e: every triple of specials as rows; y, b: one row each (N = 1, so the Sum over j
    returns the formula's values untouched), several rows to loop over."""
    values = np.array(SPECIALS, dtype=dtype)
    x = np.array(list(itertools.product(values, repeat=3))[::7], dtype=dtype)
    ys = np.array([values[[k, (k + 3) % 12, (k + 8) % 12]] for k in range(12)], dtype=dtype)
    return x, ys


def _values(module, dtype: str) -> np.ndarray:
    x, ys = _inputs(dtype)
    s = np.array([-0.0 if dtype == "float64" else 2.5], dtype=dtype)
    return np.stack([evaluate(module, [x, y[None], y[None, :1], s, x[::-1]]) for y in ys])


def assert_same_bits(a: np.ndarray, b: np.ndarray) -> None:
    assert a.shape == b.shape
    nan = np.isnan(a)
    np.testing.assert_array_equal(nan, np.isnan(b))
    np.testing.assert_array_equal(a[~nan], b[~nan])
    np.testing.assert_array_equal(np.signbit(a[~nan]), np.signbit(b[~nan]))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("formula, gone, kept", REWRITES, ids=[r[0] for r in REWRITES])
def test_rewrite_keeps_every_bit(formula, gone, kept, dtype):
    module = _module(formula, dtype)
    before = _values(module, dtype)
    run_pipeline(module, "keir-simplify")
    ops = _ops(module)
    assert not set(gone) & set(ops), ops
    assert set(kept) <= set(ops), ops
    assert_same_bits(_values(module, dtype), before)


@pytest.mark.parametrize("formula, op", KEPT, ids=[k[0] for k in KEPT])
def test_unsafe_identities_are_left_alone(formula, op):
    module = _module(formula)
    before = _values(module, "float32")
    run_pipeline(module, "keir-simplify")
    assert op in _ops(module)
    assert_same_bits(_values(module, "float32"), before)


def test_negative_zero_constant_is_an_exact_additive_identity():
    module = _module("x + (-IntCst(0))")  # -0 after folding: x + -0 == x for every x
    run_pipeline(module, "keir-simplify")
    assert _ops(module) == ["var"]


def test_gradients_simplify_without_changing_values():
    formula = "Grad(Exp(-SqDist(x, y)) * 1 + Square(-x), x, e)"
    plain, simplified = _module(formula, "float64"), _module(formula, "float64")
    run_pipeline(plain, "keir-autodiff")
    run_pipeline(simplified, "keir-autodiff,keir-simplify")
    assert len(_ops(simplified)) < len(_ops(plain))
    assert_same_bits(_values(simplified, "float64"), _values(plain, "float64"))


def test_simplify_is_in_the_default_pipeline():
    module = _module("-(-x) * 1")
    pipeline.lower(module, "autodiff")
    assert _ops(module) == ["var"]


def test_compiled_simplified_kernel_matches_the_interpreter_bit_for_bit():
    """Through the driver (simplify, tiling, LLVM -O3), corner cases included."""
    formula = "-(-x) * 1 - (-y) + IntCst(2) * IntCst(3)"
    x, ys = _inputs("float64")
    f = Genred(formula, ALIASES[:2], reduction_op="Sum", axis=1, dtype="float64")
    reference = _module(formula, "float64")  # not simplified
    for y in ys[:4]:
        expected = evaluate(reference, [x, y[None], y[None, :1], np.zeros(1), x])
        assert_same_bits(f(x, y[None]), expected)
