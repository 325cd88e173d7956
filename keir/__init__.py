"""keir: KeOps-style generic kernel reductions compiled through MLIR.

    from keir import Genred, keops_kernel
    f = Genred("Exp(-SqDist(x,y))*b", ["x = Vi(3)", "y = Vj(3)", "b = Vj(1)"],
               reduction_op="Sum", axis=1)
    out = f(x, y, b)

Importing keir does not import MLIR: that happens on the first compile.
"""

from .api import Genred, KeopsKernel, keops_kernel
from .errors import (
    ArgumentError,
    CompileError,
    DimensionError,
    FormulaError,
    FormulaSyntaxError,
    KeirError,
    NotSupportedError,
    UnknownOpError,
)

__version__ = "0.1.0"

__all__ = [
    "ArgumentError",
    "CompileError",
    "DimensionError",
    "FormulaError",
    "FormulaSyntaxError",
    "Genred",
    "KeirError",
    "KeopsKernel",
    "NotSupportedError",
    "UnknownOpError",
    "keops_kernel",
]
