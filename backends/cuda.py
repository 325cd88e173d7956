"""The CUDA backend: keir IR -> gpu.launch -> NVVM -> PTX for the device's chip -> GpuKernel.

The PTX is linked with libdevice (runtime/cuda_toolkit.py) and launched through the CUDA
driver API (runtime/cuda.py), inputs larger than the device streamed in chunks
(runtime/gpu_kernel.py). See docs/gpu.md.
"""

from __future__ import annotations

from ..runtime.gpu_kernel import GpuKernel
from ..target import GPU_CHIPS, GpuTarget
from .base import Built
from .gpu_lowering import GpuLowering, program


class CudaBackend(GpuLowering):
    name = "cuda"

    def ptx(self, module, target: GpuTarget | None = None, block: int | None = None):
        """({chip: PTX text}, launch info) of the kernel of `module` (lowered in place)."""
        from ..passes.lowering import gpu_binary
        from ..runtime.cuda_toolkit import require_toolkit

        chips = (target or GpuTarget()).chips
        toolkit = require_toolkit()
        self.to_gpu_stage(module, block)
        self.lower(module, "ptx", start="gpu", chips=tuple(chips), toolkit=str(toolkit))
        return gpu_binary.ptx(module), gpu_binary.launch(module)

    def build(self, module, target=None, block: int | None = None) -> Built:
        texts, info = self.ptx(module, target, block)
        return Built(info, extra={"ptx": texts})

    def load(self, built: Built, names=None, device=None, **options) -> GpuKernel:
        from ..runtime import cuda

        device = device or cuda.device()
        return GpuKernel(program(built.meta, built.extra["ptx"][device.chip]), device, names)

    def compile(self, module, names=None, target=None, device=None, block=None, **options):
        """A kernel for a CUDA device (the first one by default), compiled for its chip."""
        from ..runtime import cuda

        device = device or cuda.device()
        built = self.build(module, GpuTarget((device.chip,)), block)
        return self.load(built, names, device=device)


BACKEND = CudaBackend()
__all__ = ["BACKEND", "GPU_CHIPS"]
