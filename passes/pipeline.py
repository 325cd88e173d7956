"""The lowering pipeline from keir IR to the LLVM dialect, stage by stage.

Stages are named so the driver (and `keir compile --emit`) can stop after any of them:
    keir        the formula as built by the frontend
    loops       after keir-lower-cpu: scf.parallel / scf.for on arith+math
    llvm        LLVM dialect, after the upstream conversions (scf -> openmp -> llvm)
"""

from __future__ import annotations

from ..errors import CompileError
from . import lower_cpu

# convert-scf-to-openmp wraps each parallel body in memref.alloca_scope, whose region must stay
# one block: finalize-memref-to-llvm lowers it before convert-scf-to-cf splits the loops.
UPSTREAM_CPU = (
    "convert-scf-to-openmp",
    "math-expand-ops",
    "convert-math-to-llvm",
    "finalize-memref-to-llvm",
    "convert-scf-to-cf",
    "convert-cf-to-llvm",
    "convert-arith-to-llvm",
    "convert-func-to-llvm",
    "convert-openmp-to-llvm",
    "reconcile-unrealized-casts",
)

STAGES = ("keir", "loops", "llvm")


def run_upstream(module, passes) -> None:
    from mlir.passmanager import PassManager

    pipeline = "builtin.module(" + ",".join(passes) + ")"
    try:
        with module.context:
            PassManager.parse(pipeline).run(module.operation)
    except Exception as e:  # MLIR reports diagnostics as a generic exception text
        raise CompileError(f"MLIR pipeline {pipeline} failed:\n{e}") from None


def lower(module, stop: str = "llvm"):
    """Lowers `module` in place up to stage `stop` and returns it."""
    if stop not in STAGES:
        raise CompileError(f"unknown stage {stop!r}: expected one of {', '.join(STAGES)}")
    if stop == "keir":
        return module
    with module.context, module.operation.location:
        lower_cpu.run(module)
    if not module.operation.verify():
        raise CompileError("keir-lower-cpu produced IR that does not verify")
    if stop == "loops":
        return module
    run_upstream(module, UPSTREAM_CPU)
    return module
