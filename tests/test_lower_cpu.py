"""keir-lower-cpu, the readable reference lowering: its kernels against the interpreter.

The driver compiles with keir-tile-cpu; this pass is only reached through `keir opt`, so here it
is compiled by hand (row-major arrays, signature layout "rows") on every kind of state.
"""

from __future__ import annotations

import ctypes

import numpy as np
import pytest

from keir.compiler import lowered_signature
from keir.dialect.interpreter import evaluate
from keir.frontend.formula import ReductionSpec, build_kernel
from keir.passes import pipeline
from keir.passes.registry import run_pipeline
from keir.runtime import native
from keir.runtime.launcher import Kernel

CASES = [  # (reduction, formula, K, weight formula)
    ("Sum", "Exp(-SqDist(x,y))*b", 0, None),
    ("ArgKMin", "SqDist(x,y)", 4, None),
    ("LogSumExp", "-SqDist(x,y)", 0, None),
    ("SumSoftMaxWeight", "-SqDist(x,y)", 0, "b"),
]


@pytest.mark.parametrize("axis", [0, 1])
@pytest.mark.parametrize("kind, formula, k, weight", CASES)
def test_reference_lowering_matches_the_interpreter(kind, formula, k, weight, axis, tmp_path):
    rng = np.random.default_rng(0)
    i_rows, j_rows = 13, 29
    aliases = ["x=Vi(3)", "y=Vj(3)", "b=Vj(2)"] if axis == 1 else ["x=Vj(3)", "y=Vi(3)", "b=Vi(2)"]
    rows = (i_rows, j_rows, j_rows) if axis == 1 else (j_rows, i_rows, i_rows)
    args = [rng.random((n, d)) for n, d in zip(rows, (3, 3, 2))]
    spec = ReductionSpec(kind, axis, k, weight)
    want = evaluate(build_kernel(formula, aliases, "float64", spec)[0], args)
    module, _ = build_kernel(formula, aliases, "float64", spec)
    pipeline.lower(module, "autodiff")
    run_pipeline(module, ["keir-lower-cpu", "canonicalize", "cse"])
    sig = lowered_signature(module)
    assert sig.layout == "rows"
    run_pipeline(module, list(pipeline.UPSTREAM_CPU))
    native.build_shared_object(native.llvm_ir(module), tmp_path / "k.so")
    got = Kernel(ctypes.CDLL(str(tmp_path / "k.so")), sig)(*args)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
