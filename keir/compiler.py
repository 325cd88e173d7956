"""The driver: keir IR -> (cached) shared object -> callable kernel.

It is the only place that joins the stages (frontend output, passes, runtime), so each stage
stays ignorant of the others.
"""

from __future__ import annotations

import ctypes
import time
from dataclasses import dataclass, replace

from .dialect.kernel import kernel_funcs, signature
from .dialect.signature import Signature
from .errors import KeirError
from .runtime import cache, native, toolchain
from .runtime.launcher import Kernel


@dataclass
class CompileInfo:
    cache_hit: bool
    seconds: float
    path: str


def ir_text(module) -> str:
    """The canonical text of a keir module (no locations): the cache key's source part."""
    return module.operation.get_asm(enable_debug_info=False, print_generic_op_form=True)


def compile_module(module, names: list[str] | None = None) -> tuple[Kernel, CompileInfo]:
    """Compiles the keir kernels of `module` into one native kernel (kernels over the same
    axis are fused); `module` is consumed: it is lowered in place."""
    from .passes import pipeline

    start = time.perf_counter()
    funcs = kernel_funcs(module)
    if not funcs:
        raise KeirError("the module holds no keir kernel")
    target = toolchain.host_cpu()
    key = cache.cache_key(ir_text(module), signature(funcs[0]).dtype, target)
    hit = cache.lookup(key)
    if hit is None:
        pipeline.lower(module, "autodiff")  # after fusion: the signature of the real kernel
        funcs = kernel_funcs(module)
        if len(funcs) != 1:
            raise KeirError("kernels reducing over different axes cannot share one binary")
        # the driver lowers with keir-tile-cpu: column arrays go transposed
        sig: Signature = replace(signature(funcs[0]), layout="columns")
        pipeline.lower(module, "llvm", start="autodiff")
        text = native.llvm_ir(module)
        meta = {"signature": sig.to_json(), "target": target}
        path = cache.store(key, lambda p: native.build_shared_object(text, p, target), meta)
    else:
        path, sig = hit[0], Signature.from_json(hit[1]["signature"])
    kernel = Kernel(ctypes.CDLL(str(path)), sig, names)
    return kernel, CompileInfo(hit is not None, time.perf_counter() - start, str(path))
