"""pykeops.numpy's LazyTensor API, and RKeOps' LazyTensor functions, on keir kernels.

    from keir.lazytensor import LazyTensor, Vi, Vj, Pm
    x_i, y_j = LazyTensor(x[:, None, :]), LazyTensor(y[None, :, :])   # or Vi(x), Vj(y)
    K = (-((x_i - y_j) ** 2).sum(-1)).exp()       # symbolic (M, N) matrix: nothing computed
    a = K.sum(axis=1)                             # compiles once (cached), returns (M, 1)
    a = keir.lazytensor.sum(K, index="j")         # the same, RKeOps style

A LazyTensor is a formula in the KeOps language over the arrays it wraps; a reduction turns it
into a keir.Genred (cached by formula), so everything keir compiles is available, and nothing
else is: pykeops methods for operations keir lacks raise keir.NotSupportedError. The
implementation lives in keir.lazy; docs/lazytensor.md is the guide.
"""

from .lazy import methods as _methods  # noqa: F401  (attaches the generated methods)
from .lazy.complex import ComplexLazyTensor
from .lazy.core import LazyTensor, Pm, Var, Vi, Vj
from .lazy.reduce import ReducedLazyTensor, clear_cache, conjugate_gradient
from .lazy.rstyle import FUNCTIONS as _FUNCTIONS

globals().update(_FUNCTIONS)  # sum, exp, sqdist, Re, ... (they shadow builtins here)

__all__ = [
    "ComplexLazyTensor",
    "LazyTensor",
    "Pm",
    "ReducedLazyTensor",
    "Var",
    "Vi",
    "Vj",
    "clear_cache",
    "conjugate_gradient",
    *sorted(_FUNCTIONS),
]
