"""keir-expand: exp, log, sin and cos become polynomial code on FMAs, so the hot loop has no libm.

LLVM turns `math.exp` (log, sin, cos) on `vector<16xf32>` into 16 scalar `expf` calls. This pass
rewrites each into Cephes' algorithm on FMAs and selects, as the C libraries that vectorise them
do: `vecmath_exp`, `vecmath_log`, `vecmath_trig` (sin and cos are accurate for |x| up to
`vecmath_trig.BOUND`, 2^21 in float32, 2^45 in float64; beyond it they return 0). sqrt and rsqrt
need nothing: convert-math-to-llvm makes them `llvm.intr.sqrt` (vsqrtps) and 1 / sqrt (two
correct roundings: < 1.5 ulp). tests/filecheck/expand_llvm_nolibm.mlir checks that none of the
six becomes a call.

Accuracy, checked by tests/test_expand.py through compiled kernels: within 2 ulp in float32 and
4 ulp in float64 (measured: under 1 ulp for log, sin and cos, 1.5 for rsqrt, 1.6 for float64
exp), with IEEE results for +-inf, NaN, zeros, subnormals and underflow. Scalar ops (the
scalar tails) are expanded too: a kernel must give the same value for the same input whatever
lane computes it (argmax ties depend on it), and the test checks both bit for bit. Other math
ops (powf, acos, erf, ...) stay libm calls.
"""

from __future__ import annotations

from mlir import ir

from .lowering.signs import nonpositive
from .lowering.vecmath_exp import exp
from .lowering.vecmath_log import log
from .lowering.vecmath_trig import cos, sin

NAME = "keir-expand"
DESCRIPTION = "expand math.exp, log, sin and cos into polynomial code without libm calls"


EXPANSIONS = {"math.exp": exp, "math.log": log, "math.sin": sin, "math.cos": cos}


def run_on(module_op, scalef: bool = False) -> None:
    """`scalef`: the target has AVX-512 (vscalefps/pd scale exp's 512-bit vectors); the
    pipeline sets it from keir.target, a hand-written pipeline may."""
    found = []
    module_op.walk(lambda op: _collect(op, found))
    for op in found:
        with ir.InsertionPoint(op), op.location:
            x = op.operands[0]
            if op.name == "math.exp":  # told whether x is provably <= 0 (cannot overflow)
                value = exp(x, nonpositive(x), scalef)
            else:
                value = EXPANSIONS[op.name](x)
            op.result.replace_all_uses_with(value)
        op.erase()


def _collect(op, found):
    if op.name in EXPANSIONS and _is_f32_or_f64(op.results[0].type):
        found.append(op.operation)
    return ir.WalkResult.ADVANCE


def _is_f32_or_f64(t) -> bool:
    """The routines have float32 and float64 constants only; f16 and bf16 stay math ops."""
    elem = t.element_type if isinstance(t, ir.VectorType) else t
    return isinstance(elem, ir.F32Type | ir.F64Type)
