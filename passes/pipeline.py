"""The lowering pipeline from keir IR to the LLVM dialect, stage by stage.

Stages are named so the driver (and `keir compile --emit`) can stop after any of them:
    keir        the formula as built by the frontend
    autodiff    after keir-autodiff (no keir.grad left) and keir-fuse (one kernel per axis)
    loops       after keir-lower-cpu: scf.parallel / scf.for on arith+math
    llvm        LLVM dialect, after the upstream conversions (scf -> openmp -> llvm)
"""

from __future__ import annotations

from ..errors import CompileError
from . import autodiff, cse, expand, fuse, lower_cpu, tile_cpu
from .registry import register, run_pipeline

for _pass in (autodiff, fuse, cse, lower_cpu, tile_cpu, expand):
    register(_pass.NAME, _pass.DESCRIPTION, _pass.run_on)

KEIR_TO_LOOPS = (cse.NAME, tile_cpu.NAME, expand.NAME, "canonicalize", "cse")

# convert-scf-to-openmp wraps each parallel body in memref.alloca_scope, whose region must stay
# one block: finalize-memref-to-llvm lowers it before convert-scf-to-cf splits the loops.
UPSTREAM_CPU = (
    "convert-scf-to-openmp",
    "convert-vector-to-scf",
    "convert-math-to-llvm",
    # what LLVM has no intrinsic for (acos, asin, atan, atan2, ...) becomes a libm call
    "convert-math-to-libm",
    "finalize-memref-to-llvm",
    "convert-scf-to-cf",
    "convert-cf-to-llvm",
    "convert-vector-to-llvm",
    "convert-arith-to-llvm",
    "convert-func-to-llvm",
    "convert-openmp-to-llvm",
    "reconcile-unrealized-casts",
)

STAGES = ("keir", "autodiff", "loops", "llvm")


_STEPS = {
    "autodiff": (autodiff.NAME, fuse.NAME),
    "loops": KEIR_TO_LOOPS,
    "llvm": UPSTREAM_CPU,
}


def lower(module, stop: str = "llvm", start: str = "keir"):
    """Lowers `module` in place from stage `start` up to stage `stop` and returns it."""
    for stage in (stop, start):
        if stage not in STAGES:
            raise CompileError(f"unknown stage {stage!r}: expected one of {', '.join(STAGES)}")
    for stage in STAGES[STAGES.index(start) + 1 : STAGES.index(stop) + 1]:
        run_pipeline(module, list(_STEPS[stage]))
    return module
