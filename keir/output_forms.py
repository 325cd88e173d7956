"""The output forms of `keir opt --emit` and `keir compile --emit`, from any stage of a module.

    keir          the module as it is (keir dialect, loops, ... whatever the pipeline left)
    llvm-dialect  lowered the rest of the way to the LLVM dialect
    llvm-ir       translated to LLVM IR text
    asm           assembly for the host CPU (opt -O3, llc), as in the shared object
    ptx           PTX through keir's GPU lowering (keir-tile-gpu, NVVM, libdevice; no GPU needed)

"The rest of the way" starts from the keir dialect if the module still holds keir kernels,
else from the loop stage (the upstream conversions leave LLVM-dialect input unchanged).
"""

from __future__ import annotations

from .errors import CompileError, NotSupportedError
from .target import GPU_CHIPS

FORMS = ("keir", "llvm-dialect", "llvm-ir", "asm", "ptx")


def emit(module, form: str, cpu: str | None = None, arch: str = GPU_CHIPS[0]) -> str:
    """The text of `module` (lowered in place as far as needed) in output form `form`."""
    if form == "keir":
        return str(module)
    if form == "ptx":
        return ptx(module, arch)
    to_llvm_dialect(module)
    if form == "llvm-dialect":
        return str(module)
    from .runtime import native

    text = native.llvm_ir(module)
    if form == "llvm-ir":
        return text
    return native.LLVMJob(cpu, asm=True).finish(text).decode()


def to_llvm_dialect(module) -> None:
    from .dialect.kernel import kernel_funcs
    from .passes import pipeline

    pipeline.lower(module, "llvm", start="keir" if kernel_funcs(module) else "loops")


def ptx(module, arch: str = GPU_CHIPS[0]) -> str:
    """PTX for chip `arch` of a keir module, or of one at a GPU stage (after keir-tile-gpu,
    after the NVVM lowering, or holding the gpu.binary already)."""
    texts = ptx_texts(module, (arch,))
    if arch not in texts:
        raise CompileError(f"the module's gpu.binary targets {', '.join(texts)}, not {arch}")
    return texts[arch]


def ptx_texts(module, chips) -> dict[str, str]:
    """{chip: PTX} through keir's GPU lowering (keir.backends.cuda, keir.passes.pipeline)."""
    from .dialect.kernel import kernel_funcs
    from .passes import pipeline
    from .passes.lowering import gpu_binary
    from .runtime.cuda_toolkit import require_toolkit

    if kernel_funcs(module):
        from .backends.cuda import BACKEND
        from .target import GpuTarget

        return BACKEND.ptx(module, GpuTarget(tuple(chips)))[0]
    names = _op_names(module)
    if "gpu.binary" not in names:
        stage = "nvvm" if "gpu.module" in names else "gpu" if "gpu.launch" in names else None
        if stage is None:
            raise NotSupportedError("no keir kernel and no gpu ops: nothing to emit as PTX")
        toolkit = str(require_toolkit())
        pipeline.lower_gpu(module, "ptx", start=stage, chips=tuple(chips), toolkit=toolkit)
    return gpu_binary.ptx(module)


def _op_names(module) -> set[str]:
    from mlir import ir

    names = set()

    def visit(op):
        names.add(op.name)
        return ir.WalkResult.ADVANCE

    module.operation.walk(visit)
    return names
