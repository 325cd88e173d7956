"""The driver: keir IR -> (cached) shared object -> callable kernel.

It is the only place that joins the stages (frontend output, passes, runtime), so each stage
stays ignorant of the others.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from .dialect.kernel import kernel_funcs, kernel_signature, signature
from .dialect.signature import Signature
from .errors import KeirError
from .runtime import cache, native, toolchain
from .runtime.launcher import Kernel
from .runtime.loader import load_library


@dataclass
class CompileInfo:
    cache_hit: bool
    seconds: float
    path: str


def ir_text(module) -> str:
    """The canonical text of a keir module (no locations): the cache key's source part."""
    return module.operation.get_asm(enable_debug_info=False, print_generic_op_form=True)


def native_ir(module) -> tuple[str, Signature]:
    """Lowers the keir kernels of `module` (in place) to the LLVM IR of one native kernel."""
    from .passes import pipeline

    pipeline.lower(module, "autodiff")  # after fusion: the signature of the real kernel
    funcs = kernel_funcs(module)
    if len(funcs) != 1:
        raise KeirError("kernels reducing over different axes cannot share one binary")
    pipeline.lower(module, "loops", start="autodiff")
    sig = lowered_signature(module)  # keir-tile-cpu records the layout it chose
    pipeline.lower(module, "llvm", start="loops")
    return native.llvm_ir(module), sig


def lowered_signature(module) -> Signature:
    """The signature a lowering pass stored on the one kernel function of `module`."""
    import json

    from mlir import ir

    for op in module.body.operations:
        if "keir.signature" in op.attributes:
            return Signature.from_json(
                json.loads(ir.StringAttr(op.attributes["keir.signature"]).value)
            )
    raise KeirError("the lowered module holds no kernel signature")


def compile_module(module, names: list[str] | None = None) -> tuple[Kernel, CompileInfo]:
    """Compiles the keir kernels of `module` into one native kernel (kernels over the same
    axis are fused); `module` is consumed: it is lowered in place."""
    start = time.perf_counter()
    funcs = kernel_funcs(module)
    if not funcs:
        raise KeirError("the module holds no keir kernel")
    target = toolchain.host_cpu()
    key = cache.cache_key(ir_text(module), signature(funcs[0]).dtype, target)
    accept = cache.expects(kernel_signature(funcs))  # metadata read back must fit the IR
    hit = cache.lookup(key, accept)
    if hit is None:
        with cache.locked(key):  # processes starting together compile once
            hit = cache.lookup(key, accept)
            if hit is None:
                with native.LLVMJob(target) as job:  # LLVM loads while keir lowers
                    text, sig = native_ir(module)
                    meta = {"signature": sig.to_json(), "target": target}
                    build = lambda p: native.build_shared_object(text, p, target, job)  # noqa: E731
                    path = cache.store(key, build, meta)
    if hit is not None:
        path, sig = hit[0], Signature.from_json(hit[1]["signature"])
    library = load_library(path, hit[1]["so_sha256"] if hit else None)
    kernel = Kernel(library, sig, names)
    return kernel, CompileInfo(hit is not None, time.perf_counter() - start, str(path))
