"""keir.numpy: the pykeops.numpy path, so `from keir.numpy import Genred, LazyTensor` replaces
`from pykeops.numpy import ...`. The same objects as keir's own numpy API, plus pykeops'
KernelSolve and generic_* constructors.
"""

from ..api import Genred
from ..generic_ops import generic_ops
from ..lazytensor import ComplexLazyTensor, LazyTensor, Pm, Vi, Vj
from .solve import KernelSolve

_OPS = generic_ops(Genred)
generic_sum = _OPS["generic_sum"]
generic_logsumexp = _OPS["generic_logsumexp"]
generic_argmin = _OPS["generic_argmin"]
generic_argkmin = _OPS["generic_argkmin"]

__all__ = [
    "ComplexLazyTensor",
    "Genred",
    "KernelSolve",
    "LazyTensor",
    "Pm",
    "Vi",
    "Vj",
    "generic_argkmin",
    "generic_argmin",
    "generic_logsumexp",
    "generic_sum",
]
