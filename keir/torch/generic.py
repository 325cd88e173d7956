"""pykeops.torch's generic_sum, generic_logsumexp, generic_argmin, generic_argkmin."""

from ..generic_ops import generic_ops
from .genred import Genred

_OPS = generic_ops(Genred)
generic_sum = _OPS["generic_sum"]
generic_logsumexp = _OPS["generic_logsumexp"]
generic_argmin = _OPS["generic_argmin"]
generic_argkmin = _OPS["generic_argkmin"]
