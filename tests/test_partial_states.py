"""Kernels that return raw reduction states, merged in numpy by the reductions' own rules.

The reduced index is cut into uneven pieces (one empty); each piece's states come from a
keir-tile-cpu{states} kernel, their indices are shifted by the piece's start, and merging
then finishing them gives what one Genred call over the whole index gives.
"""

from __future__ import annotations

import numpy as np
import pytest

from keir import Genred
from keir.backends import get
from keir.dialect.reductions import REDUCTIONS, RedShape
from keir.frontend.formula import ReductionSpec
from keir.frontend.spec import KernelSpec
from keir.runtime.states import States

ALIASES = ["x = Vi(3)", "y = Vj(3)", "b = Vj(2)"]
CASES = [
    ("Sum", "Exp(-SqDist(x, y)) * b", {}),
    ("Min", "SqDist(x, y) - b", {}),
    ("ArgMax", "(x | y) * b", {}),
    ("Min_ArgMin", "SqDist(x, y) + b", {}),
    ("KMin", "SqDist(x, y)", {"opt_arg": 4}),
    ("ArgKMin", "SqDist(x, y) - b", {"opt_arg": 3}),
    ("KMin_ArgKMin", "SqDist(x, y)", {"opt_arg": 5}),
    ("LogSumExp", "-SqDist(x, y)", {}),
    ("LogSumExp", "-SqDist(x, y)", {"formula2": "b"}),
    ("SumSoftMaxWeight", "-SqDist(x, y)", {"formula2": "b"}),
    ("Max_SumShiftExp", "-SqDist(x, y)", {}),
]


def _pieces(n: int) -> list[tuple[int, int]]:
    cuts = [0, 7, 7, n // 2, n]  # 7:7 is empty
    return list(zip(cuts[:-1], cuts[1:]))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("axis", [0, 1])
@pytest.mark.parametrize("kind, formula, opts", CASES, ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_merged_states_equal_one_call(kind, formula, opts, axis, dtype):
    rng = np.random.default_rng(11)
    M, N = 37, 61
    x, y = rng.random((M, 3)).astype(dtype), rng.random((N, 3)).astype(dtype)
    b = rng.random((N, 2)).astype(dtype)
    if axis == 0:  # reduce over i: the j-variables index the output
        x, y, b = y, x, rng.random((M, 2)).astype(dtype)
    aliases = ALIASES if axis == 1 else ["x = Vj(3)", "y = Vi(3)", "b = Vi(2)"]
    k = opts.get("opt_arg", 0)
    spec = KernelSpec.parse(formula, aliases, ReductionSpec(kind, axis, k, opts.get("formula2")))
    module, args = spec.build(dtype)
    kernel = get("cpu").compile(module, [a.name for a in args], states=True)
    assert kernel.sig.states
    shape = RedShape(kernel.sig.formula_dim, kernel.sig.weight_dim, k)
    states = States(kind, shape, dtype)
    assert kernel.sig.out_dim == REDUCTIONS[kind].state_len(shape)
    total = None
    for lo, hi in _pieces(len(y)):
        part = kernel.run_prepared(*kernel.prepare([x, y[lo:hi], b[lo:hi]]))[0]
        part = states.shift(part, lo)
        total = part if total is None else states.merge(total, part)
    got = states.finish(total, k)
    want = Genred(formula, aliases, kind, axis, dtype=dtype, **opts)(x, y, b)
    for gv, wv in zip(*(((v,) if not isinstance(v, tuple) else v) for v in (got, want))):
        assert gv.dtype == wv.dtype and gv.shape == wv.shape
        tol = 1e-5 if dtype == "float32" else 1e-12
        np.testing.assert_allclose(gv, wv, rtol=tol, atol=tol)
