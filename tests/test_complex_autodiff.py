"""Autodiff of the complex ops in their broadcast forms, against finite differences (float64).

tests/test_autodiff.py checks each op's example; here a single complex number (dim 2, sliced
from a real variable) meets a vector of two (dim 4) on either side, ComplexRealScal takes its
real first or second, ComplexDivide is differentiated in both operands, and ops are chained.
"""

from __future__ import annotations

import pytest
from test_autodiff import check_gradient, used_variables

from formulas import data

BINARY = ["ComplexAdd", "ComplexSubtract", "ComplexMult", "ComplexDivide"]
ONE_NUMBER_I, ONE_NUMBER_J = "Extract(x, 0, 2)", "Extract(y, 1, 2)"

FORMULAS = [
    *(f"{op}({ONE_NUMBER_I}, w)" for op in BINARY),  # dim 2 against dim 4, first operand
    *(f"{op}(z, {ONE_NUMBER_J})" for op in BINARY),  # second operand
    "ComplexDivide(z, w)",
    "ComplexDivide(ComplexExp(z), ComplexMult(w, Conj(z)))",
    "ComplexRealScal(z, b)",
    "ComplexRealScal(a, w)",
    f"ComplexRealScal(b, {ONE_NUMBER_I})",
    f"ComplexAngle(ComplexMult(ComplexExp1j(a * y), {ONE_NUMBER_I}))",
    "ComplexAbs(ComplexSubtract(ComplexSumT(ComplexSum(u), 4), Real2Complex(ComplexSquareAbs(z))))",
    "ComplexMult(Imag2Complex(ComplexImag(w)), ComplexExp(Real2Complex(ComplexReal(z))))",
]


@pytest.mark.parametrize("formula", FORMULAS)
def test_gradient_matches_finite_differences(formula):
    args = data("float64", seed=3)
    for pos in used_variables(formula):
        check_gradient(formula, pos, args)
