"""Every operation of keir.dialect.ops, through its example formula, compiled on both dtypes and
both axes and compared with the reference interpreter (the ops' hand-written numpy rules)."""

from __future__ import annotations

import numpy as np
import pytest

from keir import Genred
from keir.dialect.interpreter import evaluate
from keir.dialect.ops import OPS
from keir.frontend.formula import ReductionSpec, build_kernel

from conftest import AXES, DTYPES
from formulas import ALIASES, data

RTOL = {"float32": 2e-4, "float64": 1e-10}


@pytest.mark.parametrize("axis", AXES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(OPS))
def test_op_example(name, dtype, axis):
    formula = OPS[name].example
    args = data(dtype)
    out = Genred(formula, ALIASES, reduction_op="Sum", axis=axis, dtype=dtype)(*args)
    module, _ = build_kernel(formula, ALIASES, dtype, ReductionSpec("Sum", axis))
    expected = evaluate(module, args)
    assert out.shape == expected.shape and out.dtype == np.dtype(dtype)
    assert np.isfinite(expected).all(), f"the example of {name} should be finite on test data"
    scale = max(1.0, float(np.abs(expected).max()))
    np.testing.assert_allclose(out, expected, rtol=RTOL[dtype], atol=RTOL[dtype] * scale)


def test_every_op_has_an_example_using_the_op():
    for name, d in OPS.items():
        assert name in d.example or d.name in (
            "Add",
            "Subtract",
            "Mult",
            "Divide",
            "Minus",
            "Scalprod",
            "LessThan",
            "LessOrEqual",
        ), name
