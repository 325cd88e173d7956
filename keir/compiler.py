"""The CPU driver's entry points, kept for callers of keir.compiler: see keir.backends.cpu.

kernel, info = compile_module(module, names)      # cached shared object, loaded
"""

from __future__ import annotations

from dataclasses import dataclass

from .backends.base import ir_text
from .backends.cpu import BACKEND, lowered_signature
from .dialect.signature import Signature
from .runtime.launcher import Kernel

__all__ = ["CompileInfo", "compile_module", "ir_text", "lowered_signature", "native_ir"]


@dataclass
class CompileInfo:
    cache_hit: bool
    seconds: float
    path: str


def native_ir(module, target=None) -> tuple[str, Signature]:
    """The LLVM IR of the one native kernel of `module` (lowered in place) and its signature."""
    return BACKEND.native_ir(module, target)


def compile_module(module, names=None, target=None) -> tuple[Kernel, CompileInfo]:
    """Compiles the keir kernels of `module` into one native kernel (kernels over the same
    axis are fused); `module` is consumed: it is lowered in place."""
    built = BACKEND.build(module, target)
    kernel = BACKEND.load(built, names)
    return kernel, CompileInfo(built.cache_hit, built.seconds, built.path)
