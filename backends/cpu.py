"""The CPU backend: keir IR -> OpenMP loops -> LLVM -> a cached shared object -> ctypes Kernel.

Stages (passes/pipeline.py): keir, autodiff (keir-autodiff, keir-simplify, keir-fuse), loops
(keir-tile-cpu at the target's vector width, keir-expand), llvm (upstream conversions). The
binary is cached on disk by cache.cache_key (IR text, dtype, target, compiler sources).
"""

from __future__ import annotations

import json
import time
from dataclasses import replace

from .. import target as targets
from ..dialect.kernel import kernel_funcs, kernel_signature, signature, states_signature
from ..dialect.signature import Signature
from ..errors import KeirError
from ..runtime import cache, native
from ..runtime.launcher import Kernel
from ..runtime.loader import load_library
from .base import Backend, Built, ir_text, require_kernels, single_kernel


class CpuBackend(Backend):
    name = "cpu"

    @property
    def stages(self):
        from ..passes import pipeline

        return pipeline.STAGES

    def lower(
        self, module, stop: str, start: str = "keir", target=None, states=False, ranges=False
    ):
        from ..passes import pipeline

        target = target or targets.host()
        return pipeline.lower(
            module, stop, start, vector_bytes=target.vector_bytes, states=states, ranges=ranges
        )

    def native_ir(self, module, target=None, states=False, ranges=False) -> tuple[str, Signature]:
        """Lowers the keir kernels of `module` (in place) to the LLVM IR of one native kernel;
        with `states`, its outputs are the raw reduction states (keir.dask merges them); with
        `ranges`, it runs a block-sparse work list (keir.runtime.ranges)."""
        self.lower(module, "autodiff", target=target)  # after fusion: the real kernel's signature
        single_kernel(module)
        self.lower(module, "loops", start="autodiff", target=target, states=states, ranges=ranges)
        sig = lowered_signature(module)  # keir-tile-cpu records the layout it chose
        self.lower(module, "llvm", start="loops", target=target)
        return native.llvm_ir(module), sig

    def build(self, module, target=None, states: bool = False, ranges: bool = False) -> Built:
        start = time.perf_counter()
        target = target or targets.host()
        funcs = require_kernels(module)
        variant = target.key() + (";states" if states else "") + (";ranges" if ranges else "")
        key = cache.cache_key(ir_text(module), signature(funcs[0]).dtype, variant)
        accept = cache.expects(expected_signature(funcs, states, ranges))  # must fit the IR
        hit = cache.lookup(key, accept)
        if hit is None:
            with cache.locked(key):  # processes starting together compile once
                hit = cache.lookup(key, accept)
                if hit is None:
                    with native.LLVMJob(target.name) as job:  # LLVM loads while keir lowers
                        text, sig = self.native_ir(module, target, states, ranges)
                        meta = {"signature": sig.to_json(), "target": target.name}
                        path = cache.store(
                            key,
                            lambda p: native.build_shared_object(text, p, target.name, job),
                            meta,
                        )
                    return Built(meta, path=str(path), seconds=time.perf_counter() - start)
        path, meta = hit
        return Built(meta, path=str(path), cache_hit=True, seconds=time.perf_counter() - start)

    def compile(self, module, names=None, target=None, states=False, ranges=False, **options):
        return self.load(self.build(module, target, states, ranges), names)

    def load(self, built: Built, names=None, **options) -> Kernel:
        """Loaded by content (runtime/loader.py), checked against the recorded sha256 of a
        cache hit, so a file replaced after its check is never run."""
        sig = Signature.from_json(built.meta["signature"])
        sha = built.meta.get("so_sha256") if built.cache_hit else None
        return Kernel(load_library(built.path, sha), sig, names)


def expected_signature(funcs, states: bool = False, ranges: bool = False) -> Signature:
    """How the kernel of these keir functions must be called (from the IR): what a cached
    signature is checked against. With `states`, outputs are the raw reduction states; with
    `ranges`, it takes a block-sparse work list."""
    sig = replace(kernel_signature(funcs), ranges=ranges)
    return states_signature(sig) if states else sig


def lowered_signature(module) -> Signature:
    """The signature a lowering pass stored on the one kernel function of `module`."""
    from mlir import ir

    for op in module.body.operations:
        if "keir.signature" in op.attributes:
            return Signature.from_json(
                json.loads(ir.StringAttr(op.attributes["keir.signature"]).value)
            )
    raise KeirError("the lowered module holds no kernel signature")


BACKEND = CpuBackend()
__all__ = ["BACKEND", "kernel_funcs", "lowered_signature"]
