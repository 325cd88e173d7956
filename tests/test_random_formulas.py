"""Hypothesis: random well-typed formulas give the same numbers compiled and interpreted.

The generator builds formulas of a requested dimension from the standard variables, so every
formula type-checks; arguments of Exp are bounded (through Sin, Cos or Atan) so values stay
finite. CI runs a fixed (derandomized) sample; locally every run explores new formulas.
"""

from __future__ import annotations

import os

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keir import Genred
from keir.dialect.interpreter import evaluate
from keir.frontend.formula import ReductionSpec, build_kernel

from formulas import ALIASES, data

LEAVES = {3: ["x", "y", "(x - y)"], 1: ["a", "b", "s", "2", "IntCst(3)", "0.5"]}
BOUNDED = ["Sin", "Cos", "Atan"]
UNARY = ["Minus", "Abs", "Sign", "Step", "ReLU", "Square", "Floor"] + BOUNDED
BINARY = ["+", "-", "*"]
TO_SCALAR = [
    "Sum({})",
    "SqNorm2({})",
    "Norm2({})",
    "Max({})",
    "Min({})",
    "ArgMin({})",
    "Elem({}, 1)",
    "SqDist({}, y)",
    "({} | x)",
]


@st.composite
def formulas(draw, dim: int, depth: int = 4):
    if depth == 0 or draw(st.integers(0, 4)) == 0:
        return draw(st.sampled_from(LEAVES[dim]))
    kind = draw(st.sampled_from(["unary", "binary", "exp", "scalar", "vector", "select"]))
    sub = formulas(dim, depth - 1)
    if kind == "unary":
        return f"{draw(st.sampled_from(UNARY))}({draw(sub)})"
    if kind == "exp":
        return f"Exp({draw(st.sampled_from(BOUNDED))}({draw(sub)}))"
    if kind == "binary":
        other = draw(st.sampled_from([dim, 1]))  # dim-1 operands broadcast
        pair = [draw(sub), draw(formulas(other, depth - 1))]
        if draw(st.booleans()):
            pair.reverse()
        return f"({pair[0]} {draw(st.sampled_from(BINARY))} {pair[1]})"
    if kind == "select":
        return f"IfElse({draw(formulas(1, depth - 1))}, {draw(sub)}, {draw(sub)})"
    if kind == "scalar" and dim == 1:
        return draw(st.sampled_from(TO_SCALAR)).format(draw(formulas(3, depth - 1)))
    if kind == "vector" and dim == 3:
        parts = [draw(formulas(1, depth - 1)) for _ in range(3)]
        return f"Concat({parts[0]}, Concat({parts[1]}, {parts[2]}))"
    return draw(sub)


@settings(
    max_examples=40,
    deadline=None,
    derandomize=os.environ.get("CI") == "true",
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    formula=st.integers(1, 3).flatmap(lambda d: formulas(1 if d == 1 else 3)),
    reduction=st.sampled_from(["Sum", "Max", "Min", "ArgMax"]),
    axis=st.sampled_from([0, 1]),
)
def test_compiled_equals_interpreted(formula, reduction, axis):
    args = data("float64", seed=3)
    out = Genred(formula, ALIASES, reduction_op=reduction, axis=axis, dtype="float64")
    got = np.asarray(out(*args), dtype=np.float64)
    module, _ = build_kernel(formula, ALIASES, "float64", ReductionSpec(reduction, axis))
    want = evaluate(module, args)
    scale = max(1.0, float(np.nanmax(np.abs(want))) if np.isfinite(want).any() else 1.0)
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9 * scale, err_msg=formula)
