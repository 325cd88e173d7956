"""The lowering pipeline from keir IR to the LLVM dialect, stage by stage.

Stages are named so the driver (and `keir compile --emit`) can stop after any of them:
    keir        the formula as built by the frontend
    autodiff    after keir-autodiff: no keir.grad left
    loops       after keir-lower-cpu: scf.parallel / scf.for on arith+math
    llvm        LLVM dialect, after the upstream conversions (scf -> openmp -> llvm)
"""

from __future__ import annotations

from ..errors import CompileError
from . import autodiff, lower_cpu
from .registry import register, run_pipeline

for _pass in (autodiff, lower_cpu):
    register(_pass.NAME, _pass.DESCRIPTION, _pass.run_on)

KEIR_TO_LOOPS = (lower_cpu.NAME, "canonicalize", "cse")

# convert-scf-to-openmp wraps each parallel body in memref.alloca_scope, whose region must stay
# one block: finalize-memref-to-llvm lowers it before convert-scf-to-cf splits the loops.
UPSTREAM_CPU = (
    "convert-scf-to-openmp",
    "math-expand-ops",
    "convert-math-to-llvm",
    # what LLVM has no intrinsic for (acos, asin, atan, atan2, ...) becomes a libm call
    "convert-math-to-libm",
    "finalize-memref-to-llvm",
    "convert-scf-to-cf",
    "convert-cf-to-llvm",
    "convert-arith-to-llvm",
    "convert-func-to-llvm",
    "convert-openmp-to-llvm",
    "reconcile-unrealized-casts",
)

STAGES = ("keir", "autodiff", "loops", "llvm")


def lower(module, stop: str = "llvm"):
    """Lowers `module` in place up to stage `stop` and returns it."""
    if stop not in STAGES:
        raise CompileError(f"unknown stage {stop!r}: expected one of {', '.join(STAGES)}")
    if stop == "keir":
        return module
    run_pipeline(module, [autodiff.NAME])
    if stop == "autodiff":
        return module
    run_pipeline(module, KEIR_TO_LOOPS)
    if stop == "loops":
        return module
    run_pipeline(module, UPSTREAM_CPU)
    return module
