"""What the two GPU backends (cuda, emulated) share: the keir -> gpu.launch stages.

Stages (passes/pipeline.py GPU_STAGES): keir, autodiff, gpu (keir-tile-gpu: gpu.launch with
shared-memory tiles), nvvm (outlined into a gpu.module), ptx (gpu.binary with PTX per chip).
"""

from __future__ import annotations

from ..dialect.kernel import kernel_funcs, signature
from ..dialect.signature import Signature
from ..runtime.gpu_kernel import GpuProgram
from .base import Backend, require_kernels, single_kernel


class GpuLowering(Backend):
    @property
    def stages(self):
        from ..passes import pipeline

        return pipeline.GPU_STAGES

    def lower(self, module, stop: str, start: str = "keir", target=None, **options):
        from ..passes import pipeline

        if target is not None:
            options.setdefault("chips", target.chips)
        return pipeline.lower_gpu(module, stop, start, **options)

    def to_gpu_stage(self, module, block: int | None) -> str:
        """Lowers to gpu.launch (one kernel); returns the kernel's dtype."""
        require_kernels(module)
        self.lower(module, "autodiff")
        single_kernel(module)
        dtype = signature(kernel_funcs(module)[0]).dtype
        self.lower(module, "gpu", start="autodiff", block=block)
        return dtype


def program(info: dict, code: str) -> GpuProgram:
    """A GpuProgram from keir-tile-gpu's launch record (gpu_binary.launch) and the code."""
    return GpuProgram(
        signature=Signature.from_json(info["signature"]),
        kernel=info["kernel"],
        code=code,
        block=info["block"],
        state_len=info["state_len"],
        params=tuple(info["params"]),
    )
