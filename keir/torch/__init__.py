"""keir.torch: pykeops.torch's API on torch tensors, with autograd, on keir kernels.

    from keir.torch import Genred, LazyTensor, Vi, Vj
    f = Genred("Exp(-SqDist(x,y))*b", ["x = Vi(3)", "y = Vj(3)", "b = Vj(1)"], axis=1)
    out = f(x, y, b)          # torch tensors in and out; out.backward(...) runs keir.grad

Importing it imports torch (an optional dependency: pip install keir[torch]); `import keir`
never does. docs/torch.md is the guide.
"""

from ..generic_ops import API_NAMES, generic_ops
from .genred import Genred
from .lazytensor import ComplexLazyTensor, LazyTensor, Pm, Vi, Vj  # noqa: F401 (__all__)
from .solve import KernelSolve  # noqa: F401 (__all__)

globals().update(generic_ops(Genred))  # generic_sum, generic_logsumexp, ...
__all__ = list(API_NAMES)
