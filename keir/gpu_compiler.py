"""The GPU drivers' entry points, kept for callers of keir.gpu_compiler: see keir.backends.cuda
and keir.backends.emulated (the CUDA kernel run on the CPU)."""

from __future__ import annotations

from .backends import cuda, emulated
from .target import GPU_CHIPS, GpuTarget


def compile_ptx(module, chips=GPU_CHIPS, block: int | None = None):
    """({chip: PTX text}, launch info) of the kernel of `module` (consumed: lowered in place)."""
    return cuda.BACKEND.ptx(module, GpuTarget(tuple(chips)), block)


def compile_gpu(module, names=None, device=None, block: int | None = None):
    """A kernel for a CUDA device (the first one by default), compiled for its chip."""
    return cuda.BACKEND.compile(module, names, device=device, block=block)


def emulated_program(module, block: int | None = None):
    """The GpuProgram of `module`'s GPU kernel run on the CPU (`code`: the .so path)."""
    backend = emulated.BACKEND
    return backend.program(backend.build(module, block=block))


def compile_emulated(module, names=None, block: int | None = None, budget: int | None = None):
    """A GpuKernel on the emulated device: the GPU driver (chunks, packing) on the CPU."""
    return emulated.BACKEND.compile(module, names, block=block, budget=budget)
