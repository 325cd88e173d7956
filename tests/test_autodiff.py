"""Autodiff: Grad of every differentiable op against central finite differences (float64).

For an op's example formula F and each variable v it uses, keir computes Grad(F, v, e) reduced
like pykeops does (over j for an i-variable, over i for a j-variable, and over both for a
parameter); finite differences perturb one component of v for every row at once, which is
exact here because row r's objective e_r . out_r depends on row r of v only.
"""

from __future__ import annotations

import numpy as np
import pytest

from keir import Genred, NotSupportedError
from keir.dialect.kernel import formula_ops, int_attr, kernel_funcs
from keir.dialect.ops import OPS
from keir.frontend.formula import ReductionSpec, build_kernel

from formulas import ALIASES, data

NAMES = [a.split("=")[0].strip() for a in ALIASES]
H = 1e-5
DIFFERENTIABLE = sorted(n for n, d in OPS.items() if d.vjp is not None)


def used_variables(formula: str) -> list[int]:
    module, _ = build_kernel(formula, ALIASES, "float64", ReductionSpec("Sum", 1))
    func = kernel_funcs(module)[0]
    return sorted({int_attr(op, "pos") for op in formula_ops(func) if op.name == "keir.var"})


def check_gradient(formula: str, pos: int, args: list[np.ndarray], rtol: float = 1e-6):
    cat = {"Vi": 0, "Vj": 1, "Pm": 2}[ALIASES[pos].split("=")[1].strip()[:2]]
    axis = 0 if cat == 1 else 1  # rows of the objective: j for a j-variable, else i
    forward = Genred(formula, ALIASES, reduction_op="Sum", axis=axis, dtype="float64")
    dim_f = forward(*args).shape[1]
    rng = np.random.default_rng(pos)
    e = rng.uniform(0.5, 1.5, (forward(*args).shape[0], dim_f))
    tag = "Vj" if cat == 1 else "Vi"
    grad = Genred(
        f"Grad({formula}, {NAMES[pos]}, e)",
        ALIASES + [f"e = {tag}({dim_f})"],
        reduction_op="Sum",
        axis=axis,
        dtype="float64",
    )
    got = grad(*args, e)

    def objective(values):
        return (e * forward(*values)).sum(1)  # one objective per row

    fd = np.empty_like(got)
    v = args[pos]
    for k in range(v.shape[-1]):
        shifted = []
        for sign in (1, -1):
            w = v.copy()
            w[..., k] += sign * H
            shifted.append(objective(args[:pos] + [w] + args[pos + 1 :]))
        column = (shifted[0] - shifted[1]) / (2 * H)
        fd[:, k] = column if cat != 2 else column.sum()
    if cat == 2:  # a parameter's gradient sums over both indices
        got = np.broadcast_to(got.sum(0), got.shape)
    scale = max(np.linalg.norm(fd), 1e-3)
    assert np.linalg.norm(got - fd) / scale < rtol, (formula, NAMES[pos])


@pytest.mark.parametrize("name", DIFFERENTIABLE)
def test_op_gradient_matches_finite_differences(name):
    formula = OPS[name].example
    args = data("float64", seed=2)
    for pos in used_variables(formula):
        check_gradient(formula, pos, args)


def test_non_differentiable_op_says_so():
    args = data("float64")
    f = Genred(f"Grad({OPS['BSpline'].example}, b, e)", ALIASES + ["e = Vi(3)"], axis=1)
    with pytest.raises(NotSupportedError, match="BSpline is not differentiable"):
        f(*args, np.ones((args[0].shape[0], 3)))
