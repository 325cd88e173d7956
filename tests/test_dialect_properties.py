"""What passes ask of ops and reductions comes from their definitions, and agrees with the IR.

- a reduction's state length (ReductionDef.state_len, computed without IR) equals the number
  of lanes its init rule emits as MLIR;
- every reduction with a gradient rule has a selector or needs none, and the ones without a
  rule are refused by keir.grad;
- upstream `cse` cannot merge keir ops (IRDL 22 has no traits, so no Pure): keir-cse is needed.
"""

from __future__ import annotations

import pytest

import keir
from keir import Genred, NotSupportedError
from keir.dialect.definition import context
from keir.dialect.reductions import REDUCTIONS, RedShape


def _shapes(red):
    g = (0,) if red.weight == "none" else (2,) if red.weight == "required" else (0, 3)
    f = (
        (1,)
        if red.name in ("LogSumExp", "SumSoftMaxWeight") or "SumShiftExp" in red.name
        else (1, 3)
    )
    k = (2, 5) if red.uses_k else (0,)
    return [RedShape(a, b, c) for a in f for b in g for c in k]


@pytest.mark.parametrize("name", sorted(REDUCTIONS))
def test_state_len_matches_the_emitted_init(name):
    from mlir import ir

    from keir.passes.lowering.lanes import LaneEmitter

    red = REDUCTIONS[name]
    with context(), ir.Location.unknown():
        module = ir.Module.create()
        with ir.InsertionPoint(module.body):
            e = LaneEmitter(ir.F32Type.get())
            for shape in _shapes(red):
                assert red.state_len(shape) == len(red.init(e, shape)), shape


@pytest.mark.parametrize("name", sorted(REDUCTIONS))
def test_gradient_rules_and_selectors(name):
    red = REDUCTIONS[name]
    if red.selector is not None:
        assert REDUCTIONS[red.selector].indices
    if red.grad is not None:
        return
    aliases = ["x = Vi(1)", "y = Vj(1)"]
    opts = {"opt_arg": 2} if red.uses_k else {}
    opts |= {"formula2": "y"} if red.weight == "required" else {}
    f = Genred("x * y", aliases, name, 1, **opts)
    with pytest.raises(NotSupportedError, match=name):
        keir.grad(f, "x")


def test_upstream_cse_leaves_keir_ops_alone():
    """If this fails, IRDL ops gained a purity trait: keir-cse and erase_dead_ops can go."""
    from keir.frontend.formula import ReductionSpec, build_kernel
    from keir.passes.registry import run_pipeline

    module, _ = build_kernel(
        "Exp(x) * Exp(x)", ["x = Vi(1)", "y = Vj(1)"], "float32", ReductionSpec("Sum", 1)
    )
    run_pipeline(module, ["cse", "canonicalize"])
    assert str(module).count("keir.exp") == 2
    run_pipeline(module, ["keir-cse"])
    assert str(module).count("keir.exp") == 1
