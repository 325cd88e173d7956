"""keir: KeOps-style generic kernel reductions compiled through MLIR.

    from keir import Genred, keops_kernel
    f = Genred("Exp(-SqDist(x,y))*b", ["x = Vi(3)", "y = Vj(3)", "b = Vj(1)"],
               reduction_op="Sum", axis=1)
    out = f(x, y, b)

`import keir` is cheap: the API (and with it lark) loads on first use, MLIR on the first
compile, so code that only runs prebuilt kernels needs numpy alone.
"""

from .errors import (
    ArgumentError,
    BundleError,
    BundleIntegrityError,
    BundleTargetError,
    CompileError,
    DimensionError,
    FormulaError,
    FormulaSyntaxError,
    KeirError,
    LimitError,
    NotSupportedError,
    UnknownOpError,
)

__version__ = "0.1.0"

_API = ("Genred", "KeopsKernel", "keops_kernel")
_GENERIC = ("generic_sum", "generic_logsumexp", "generic_argmin", "generic_argkmin")


def __getattr__(name: str):
    if name in _API:
        from . import api

        return getattr(api, name)
    if name == "grad":
        from .gradients import grad

        return grad
    if name == "load_bundle":  # numpy and ctypes only: no MLIR, no Lark
        from .runtime.bundle import load_bundle

        return load_bundle
    if name in _GENERIC:
        from . import generic

        return getattr(generic, name)
    if name == "KernelSolve":
        from .solve import KernelSolve

        return KernelSolve
    if name in ("set_threads", "get_threads"):  # ctypes only
        from .runtime import threads

        return getattr(threads, name)
    if name == "fuse":
        from .fusion import fuse

        return fuse
    if name in ("LazyTensor", "ComplexLazyTensor", "Vi", "Vj", "Pm"):
        from . import lazytensor

        return getattr(lazytensor, name)
    raise AttributeError(f"module 'keir' has no attribute {name!r}")


__all__ = [
    "ArgumentError",
    "BundleError",
    "BundleIntegrityError",
    "BundleTargetError",
    "CompileError",
    "LimitError",
    "ComplexLazyTensor",
    "DimensionError",
    "FormulaError",
    "FormulaSyntaxError",
    "Genred",
    "KeirError",
    "KernelSolve",
    "KeopsKernel",
    "LazyTensor",
    "NotSupportedError",
    "Pm",
    "UnknownOpError",
    "Vi",
    "Vj",
    "fuse",
    "generic_argkmin",
    "generic_argmin",
    "generic_logsumexp",
    "generic_sum",
    "get_threads",
    "grad",
    "keops_kernel",
    "load_bundle",
    "set_threads",
]
