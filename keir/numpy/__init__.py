"""keir.numpy: the pykeops.numpy path, so `from keir.numpy import Genred, LazyTensor` replaces
`from pykeops.numpy import ...`. The same objects as keir's own numpy API, plus pykeops'
KernelSolve and generic_* constructors.
"""

from ..api import Genred
from ..generic_ops import API_NAMES, generic_ops
from ..lazytensor import ComplexLazyTensor, LazyTensor, Pm, Vi, Vj  # noqa: F401 (__all__)
from .solve import KernelSolve  # noqa: F401 (__all__)

globals().update(generic_ops(Genred))  # generic_sum, generic_logsumexp, ...
__all__ = list(API_NAMES)
