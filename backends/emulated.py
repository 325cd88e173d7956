"""The emulated GPU backend: the CUDA backend's gpu.launch run on the CPU (keir-gpu-to-cpu).

Each GPU block becomes an iteration of a CPU loop, barriers included, built into a cached
shared object, so the GPU kernel's tiling and the GPU driver's chunking and argument packing
(runtime/gpu_kernel.py on runtime/emulated.py's device) are tested without a GPU.
"""

from __future__ import annotations

import json
from dataclasses import replace

from ..dialect.kernel import kernel_funcs, kernel_signature
from ..runtime.gpu_kernel import GpuKernel, GpuProgram
from .base import Built, ir_text
from .gpu_lowering import GpuLowering, program


class EmulatedBackend(GpuLowering):
    name = "emulated"

    def build(self, module, target=None, block: int | None = None) -> Built:
        """The emulation's shared object; meta["program"] is its GpuProgram (parameters: every
        host argument; `code` filled in by load with the .so path)."""
        from mlir import ir

        from ..passes import pipeline
        from ..runtime import cache, native
        from ..target import host

        key_target = f"{host().key()}/gpu-emulation/block={block}"
        key = cache.cache_key(ir_text(module), "", key_target)
        expected = kernel_signature(kernel_funcs(module))  # what the cached program must call like
        hit = cache.lookup(key, cache.expects(expected, "program", "signature"))
        if hit is not None:
            return Built(hit[1], path=str(hit[0]), cache_hit=True)
        self.to_gpu_stage(module, block)
        (launch,) = [op for op in module.body.operations if "keir.gpu" in op.attributes]
        info = json.loads(ir.StringAttr(launch.attributes["keir.gpu"]).value)
        info["signature"] = json.loads(ir.StringAttr(launch.attributes["keir.signature"]).value)
        info["kernel"] = ir.StringAttr(launch.attributes["sym_name"]).value
        info["params"] = tuple(range(len(launch.regions[0].blocks[0].arguments)))
        pipeline.run_pipeline(module, list(pipeline.GPU_EMULATION))
        text = native.llvm_ir(module)
        meta = {"program": program(info, "").to_json(), "target": key_target}
        path = cache.store(key, lambda p: native.build_shared_object(text, p), meta)
        return Built(meta, path=str(path))

    def program(self, built: Built) -> GpuProgram:
        return replace(GpuProgram.from_json(built.meta["program"]), code=built.path)

    def load(self, built: Built, names=None, budget: int | None = None, **options) -> GpuKernel:
        from ..runtime.emulated import EmulatedDevice

        return GpuKernel(self.program(built), EmulatedDevice(), names, budget)

    def compile(self, module, names=None, target=None, block=None, budget=None, **options):
        """A GpuKernel on the emulated device: the GPU driver (chunks, packing) on the CPU."""
        return self.load(self.build(module, target, block), names, budget=budget)


BACKEND = EmulatedBackend()
