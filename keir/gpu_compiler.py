"""The GPU driver: keir IR -> gpu.launch -> PTX (CUDA) or a CPU emulation -> GpuKernel.

The GPU twin of keir.compiler, and like it the only place that joins the GPU stages: the passes
(keir-tile-gpu, then gpu/nvvm lowering or keir-gpu-to-cpu), the toolkit (libdevice) and the
runtime (a CUDA device or the emulated one). See docs/gpu.md.
"""

from __future__ import annotations

from dataclasses import replace

from .dialect.kernel import kernel_funcs, kernel_signature, signature
from .dialect.signature import Signature
from .errors import KeirError
from .runtime.gpu_kernel import GpuKernel, GpuProgram


def _to_gpu_stage(module, block: int | None):
    from .passes import pipeline

    if not kernel_funcs(module):
        raise KeirError("the module holds no keir kernel")
    pipeline.lower_gpu(module, "autodiff")
    if len(kernel_funcs(module)) != 1:
        raise KeirError("kernels reducing over different axes cannot share one binary")
    dtype = signature(kernel_funcs(module)[0]).dtype
    pipeline.lower_gpu(module, "gpu", start="autodiff", block=block)
    return dtype


def compile_ptx(module, chips=("sm_80", "sm_90"), block: int | None = None):
    """({chip: PTX text}, launch info) of the kernel of `module` (consumed: lowered in place)."""
    from .passes import gpu_binary, pipeline
    from .runtime.cuda_toolkit import require_toolkit

    toolkit = require_toolkit()
    _to_gpu_stage(module, block)
    pipeline.lower_gpu(module, "ptx", start="gpu", chips=tuple(chips), toolkit=str(toolkit))
    return gpu_binary.ptx(module), gpu_binary.launch(module)


def _program(info: dict, code: str) -> GpuProgram:
    return GpuProgram(
        signature=Signature.from_json(info["signature"]),
        kernel=info["kernel"],
        code=code,
        block=info["block"],
        state_len=info["state_len"],
        params=tuple(info["params"]),
    )


def compile_gpu(module, names=None, device=None, block: int | None = None) -> GpuKernel:
    """A kernel for a CUDA device (the first one by default), compiled for its chip."""
    from .runtime import cuda

    device = device or cuda.device()
    texts, info = compile_ptx(module, [device.chip], block)
    return GpuKernel(_program(info, texts[device.chip]), device, names)


def emulated_program(module, block: int | None = None) -> GpuProgram:
    """The GPU kernel of `module` run on the CPU by keir-gpu-to-cpu, built into a cached shared
    object: its GpuProgram (`code` is the .so path; parameters: every host argument)."""
    import json

    from mlir import ir

    from .compiler import ir_text
    from .passes import pipeline
    from .runtime import cache, native, toolchain

    target = f"{toolchain.host_cpu()}/gpu-emulation/block={block}"
    key = cache.cache_key(ir_text(module), "", target)
    expected = kernel_signature(kernel_funcs(module))  # what the cached program must call like
    hit = cache.lookup(key, cache.expects(expected, "program", "signature"))
    if hit is not None:
        return GpuProgram.from_json(dict(hit[1]["program"], code=str(hit[0])))
    _to_gpu_stage(module, block)
    (host,) = [op for op in module.body.operations if "keir.gpu" in op.attributes]
    info = json.loads(ir.StringAttr(host.attributes["keir.gpu"]).value)
    info["signature"] = json.loads(ir.StringAttr(host.attributes["keir.signature"]).value)
    info["kernel"] = ir.StringAttr(host.attributes["sym_name"]).value
    info["params"] = tuple(range(len(host.regions[0].blocks[0].arguments)))
    pipeline.run_pipeline(module, list(pipeline.GPU_EMULATION))
    text = native.llvm_ir(module)
    program = _program(info, "")
    meta = {"program": program.to_json(), "target": target}
    path = cache.store(key, lambda p: native.build_shared_object(text, p), meta)
    return replace(program, code=str(path))


def compile_emulated(module, names=None, block: int | None = None, budget: int | None = None):
    """A GpuKernel on the emulated device: the GPU driver (chunks, packing) on the CPU."""
    from .runtime.emulated import EmulatedDevice

    return GpuKernel(emulated_program(module, block), EmulatedDevice(), names, budget)
