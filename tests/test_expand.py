"""keir-expand's vector exp: accuracy in ulp over the whole range, and IEEE special values.

The exp is evaluated inside a compiled kernel, on the vector lanes of the reduced index:
out_i = sum_j IfElse(Equal(i, j) - 1, Exp(y_j), 0) = exp(y_i), selecting without arithmetic
so that NaN and inf reach the output untouched.
"""

from __future__ import annotations

import numpy as np
import pytest

from keir import Genred

SPECIAL = [0.0, -0.0, 1.0, -1.0, np.inf, -np.inf, np.nan, 1e-30, -1e-30]
RANGES = {  # (low, high): beyond them exp overflows to inf or underflows to 0
    "float32": (-110.0, 90.0, [88.72, 88.73, -87.33, -103.0, -103.98, -104.5]),
    "float64": (-750.0, 712.0, [709.78, 709.79, -708.4, -744.0, -745.2, -746.0]),
}


def vector_exp(values: np.ndarray, dtype: str) -> np.ndarray:
    n = len(values)
    index = np.arange(n, dtype=dtype)[:, None]
    f = Genred(
        "IfElse(Equal(i, j) - 1, Exp(y), 0)",
        ["i = Vi(1)", "j = Vj(1)", "y = Vj(1)"],
        reduction_op="Sum",
        axis=1,
        dtype=dtype,
    )
    return f(index, index, values.astype(dtype)[:, None])[:, 0]


def ulp_error(got: np.ndarray, exact: np.ndarray, dtype: str) -> np.ndarray:
    """|got - exact| in units of the spacing of dtype at the exact value."""
    spacing = np.spacing(np.abs(exact).astype(dtype)).astype(np.float64)
    return np.abs(got.astype(np.float64) - exact) / spacing


@pytest.mark.parametrize("dtype, max_ulp", [("float32", 2), ("float64", 4)])
def test_exp_accuracy_and_special_values(dtype, max_ulp):
    low, high, edges = RANGES[dtype]
    rng = np.random.default_rng(0)
    x = np.concatenate(
        [rng.uniform(low, high, 6000), rng.uniform(-5, 5, 3000), edges, SPECIAL]
    ).astype(dtype)
    got = vector_exp(x, dtype)
    with np.errstate(over="ignore"):
        exact = np.exp(x.astype(np.longdouble)).astype(np.float64)  # more precise than dtype
        expected = np.exp(x.astype(np.float64)).astype(dtype)  # correctly rounded, ~always
    special = ~np.isfinite(expected) | (expected == 0) | np.isnan(x)
    np.testing.assert_array_equal(got[special], expected[special])
    finite = ~special
    worst = ulp_error(got[finite], exact[finite], dtype).max()
    assert worst <= max_ulp, f"max error {worst:.2f} ulp"
