"""Autodiff of TensorDot and Kron beyond their examples: other contractions, permutations, a
full contraction, no contraction, a parameter operand and three-axis Kron, against central
finite differences (see test_autodiff.py)."""

from __future__ import annotations

import pytest
from test_autodiff import check_gradient, used_variables

from formulas import data

FORMULAS = [
    "TensorDot(u, v, (2, 3), (3, 2), (1,), (0,))",
    "TensorDot(u, v, (2, 3), (2, 3), (0,), (0,), (1, 0))",
    "TensorDot(z, w, (2, 2), (2, 2), (0,), (1,), (1, 0))",
    "TensorDot(TensorProd(u, z), v, (2, 3, 4), (3, 2), (1,), (0,), (2, 0, 1))",
    "TensorDot(TensorProd(u, z), v, (2, 3, 4), (2, 3), (1, 0), (1, 0))",
    "TensorDot(TensorProd(u, z), TensorProd(x, w), (2, 3, 4), (3, 2, 2), (1,), (0,), (2, 0, 3, 1))",
    "TensorDot(u, v, (3, 2), (2, 3), (0, 1), (1, 0))",
    "TensorDot(x, w, (3,), (2, 2), (), (), (2, 0, 1))",
    "TensorDot(A, x - y, (3, 3), (3,), (0,), (0,))",
    "Kron(u, w, (1, 2, 3), (2, 1, 2))",
    "Kron(TensorProd(u, z), x, (2, 3, 4), (1, 3, 1))",
]


@pytest.mark.parametrize("formula", FORMULAS)
def test_gradient_matches_finite_differences(formula):
    args = data("float64", seed=3)
    for pos in used_variables(formula):
        check_gradient(formula, pos, args)
