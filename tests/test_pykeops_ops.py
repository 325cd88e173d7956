"""Every op of the formula language against pykeops 2.3 itself.

pykeops compiles each new formula for 5-7 s, so by default this runs one formula that sums the
examples of the arithmetic, elementary and vector families (linalg and complex ops have their
own combined pykeops tests). `KEIR_PYKEOPS_ALL=1 pytest tests/test_pykeops_ops.py` also checks
every op's example on its own (about 10 minutes).
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from keir import Genred
from keir.dialect.ops import FAMILIES, OPS

from formulas import ALIASES, data

pykeops_numpy = pytest.importorskip("pykeops.numpy")
pytestmark = pytest.mark.pykeops

# KeOps evaluates these in float32 even in float64 mode: C powf, float32 rational constants
FLOAT32_IN_KEOPS = {"Powf", "RatCst", "IntInv", "Clamp"}

COMBINED_FAMILIES = [
    "Arithmetic, constants and comparisons",
    "Elementary functions",
    "Vector operations",
]


def _compare(formula, axis=1, dtype="float64", rtol=1e-10):
    args = data(dtype, seed=11)
    theirs = pykeops_numpy.Genred(formula, ALIASES, reduction_op="Sum", axis=axis)(
        *args, backend="CPU"
    )
    ours = Genred(formula, ALIASES, reduction_op="Sum", axis=axis)(*args)
    assert ours.shape == theirs.shape and ours.dtype == theirs.dtype
    scale = float(np.abs(theirs).max())
    np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=rtol * scale, err_msg=formula)


def test_combined_examples_match_pykeops():
    names = [n for family in COMBINED_FAMILIES for n in FAMILIES[family]]
    # KeOps rounds RatCst/IntInv constants to float32 even in float64 (keir keeps them exact)
    _compare(" + ".join(f"Sum({OPS[n].example})" for n in names), axis=0, rtol=1e-7)


@pytest.mark.skipif(not os.environ.get("KEIR_PYKEOPS_ALL"), reason="set KEIR_PYKEOPS_ALL=1")
@pytest.mark.parametrize("name", sorted(OPS))
def test_op_example_matches_pykeops(name):
    if name == "BSpline":  # pykeops cannot generate BSpline code in float64
        _compare(OPS[name].example, dtype="float32", rtol=1e-5)
    else:
        _compare(OPS[name].example, rtol=1e-6 if name in FLOAT32_IN_KEOPS else 1e-10)
