"""keir.torch: pykeops.torch's API on torch tensors, with autograd, on keir kernels.

    from keir.torch import Genred, LazyTensor, Vi, Vj
    f = Genred("Exp(-SqDist(x,y))*b", ["x = Vi(3)", "y = Vj(3)", "b = Vj(1)"], axis=1)
    out = f(x, y, b)          # torch tensors in and out; out.backward(...) runs keir.grad

Importing it imports torch (an optional dependency: pip install keir[torch]); `import keir`
never does. docs/torch.md is the guide.
"""

from .generic import generic_argkmin, generic_argmin, generic_logsumexp, generic_sum
from .genred import Genred
from .lazytensor import ComplexLazyTensor, LazyTensor, Pm, Vi, Vj
from .solve import KernelSolve

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
