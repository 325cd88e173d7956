"""The lowering pipeline from keir IR to the LLVM dialect, stage by stage.

Stages are named so the driver (and `keir compile --emit`) can stop after any of them:
    keir        the formula as built by the frontend
    autodiff    after keir-verify (dimension checks), keir-autodiff (no keir.grad left),
                keir-simplify (exact identities) and keir-fuse (one kernel per axis)
    loops       after keir-lower-cpu: scf.parallel / scf.for on arith+math
    llvm        LLVM dialect, after the upstream conversions (scf -> openmp -> llvm)
"""

from __future__ import annotations

from ..errors import CompileError
from . import size_limit
from .registry import run_pipeline

# keir's passes are named here and imported by the registry when a pipeline first runs them
KEIR_TO_LOOPS = ("keir-cse", "keir-tile-cpu", "keir-expand", "canonicalize", "cse")

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
    "autodiff": ("keir-verify", "keir-autodiff", "keir-simplify", "keir-fuse"),
    "loops": KEIR_TO_LOOPS,
    "llvm": UPSTREAM_CPU,
}


def _cpu_steps(stage: str, vector_bytes: int | None, states: bool, ranges: bool) -> list[str]:
    options = []
    if vector_bytes is not None:  # the target's width (keir.target.CpuTarget), else the host's
        options.append(f"vector_bytes={vector_bytes}")
    if states:
        options.append("states")
    if ranges:
        options.append("ranges")
    tile = "keir-tile-cpu" + ("{" + " ".join(options) + "}" if options else "")
    # 64-byte vectors: the target has AVX-512F (keir.target), so exp may use vscalefps/pd
    from ..target import vector_bytes_or_host

    wide = vector_bytes_or_host(vector_bytes) == 64
    renamed = {"keir-tile-cpu": tile, "keir-expand": "keir-expand{scalef}" if wide else None}
    return [renamed.get(s) or s for s in _STEPS[stage]]


def lower(
    module,
    stop: str = "llvm",
    start: str = "keir",
    vector_bytes: int | None = None,
    states: bool = False,
    ranges: bool = False,
):
    """Lowers `module` in place from stage `start` up to stage `stop` and returns it."""
    for stage in (stop, start):
        if stage not in STAGES:
            raise CompileError(f"unknown stage {stage!r}: expected one of {', '.join(STAGES)}")
    for stage in STAGES[STAGES.index(start) + 1 : STAGES.index(stop) + 1]:
        if stage == "loops":  # refuse, before unrolling, what would compile for minutes
            size_limit.check(module)
        run_pipeline(module, _cpu_steps(stage, vector_bytes, states, ranges))
    return module


# The GPU path (docs/gpu.md): keir-tile-gpu's gpu.launch, then PTX, or its CPU emulation.
#     gpu    after keir-tile-gpu: gpu.launch with workgroup tiles and barriers
#     nvvm   the kernel outlined into a gpu.module, lowered to the NVVM dialect
#     ptx    gpu.binary holding one PTX text per chip (gpu-module-to-binary{format=isa})
GPU_STAGES = ("keir", "autodiff", "gpu", "nvvm", "ptx")
from ..target import GPU_CHIPS  # noqa: E402  (one list of chips, keir.target)

# Constants go back into the launch before outlining (else they become kernel parameters).
# Inside gpu.module: scf -> cf first (translation to LLVM IR refuses scf ops); math ops with a
# libdevice function become __nv_* calls in convert-gpu-to-nvvm, the rest (math.trunc) LLVM
# intrinsics. The host side stays gpu.launch_func: the runtime launches through ctypes.
GPU_OUTLINE = ("gpu-launch-sink-index-computations", "gpu-kernel-outlining")
GPU_TO_NVVM = "gpu.module(convert-scf-to-cf,convert-gpu-to-nvvm,convert-math-to-llvm,cse)"
GPU_EMULATION = ("keir-gpu-to-cpu", "canonicalize", "cse", *UPSTREAM_CPU)


def _gpu_steps(stage: str, chips, toolkit, block) -> list[str]:
    if stage == "autodiff":
        return list(_STEPS["autodiff"])
    if stage == "gpu":
        tile = "keir-tile-gpu" + (f"{{block={block}}}" if block else "")
        return ["keir-cse", tile, "canonicalize", "cse"]
    if stage == "nvvm":
        attach = [f"nvvm-attach-target{{chip={chip} O=3}}" for chip in chips]
        return [*GPU_OUTLINE, *attach, GPU_TO_NVVM]
    if toolkit is None:
        raise CompileError("the ptx stage needs a CUDA toolkit path (for libdevice)")
    return [f"gpu-module-to-binary{{format=isa toolkit={toolkit}}}"]


def lower_gpu(module, stop="ptx", start="keir", *, chips=GPU_CHIPS, toolkit=None, block=None):
    """Lowers `module` in place along the GPU stages from `start` to `stop` and returns it."""
    for stage in (stop, start):
        if stage not in GPU_STAGES:
            raise CompileError(f"unknown stage {stage!r}: expected one of {', '.join(GPU_STAGES)}")
    for stage in GPU_STAGES[GPU_STAGES.index(start) + 1 : GPU_STAGES.index(stop) + 1]:
        run_pipeline(module, _gpu_steps(stage, chips, toolkit, block))
    return module
