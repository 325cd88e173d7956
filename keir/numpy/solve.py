"""pykeops.numpy.KernelSolve: x = (alpha Id + K)^-1 b by conjugate gradients on keir kernels."""

from __future__ import annotations

import numpy as np

from ..api import Genred, _infer_dtype
from ..errors import ArgumentError
from ..generic_ops import varinv_position
from ..lazy.reduce import conjugate_gradient


class KernelSolve:
    """Solves (alpha Id + K) x = b for a formula K linear in the argument `varinvalias` (b).
    Keyword options (dtype, dtype_acc, use_double_acc, sum_scheme, ...) are Genred's."""

    _GENRED = Genred  # keir.torch's KernelSolve builds its own

    def __init__(self, formula, aliases, varinvalias, axis=0, **options):
        self._genred = self._GENRED(formula, aliases, "Sum", axis, **options)
        self.varinvpos = varinv_position(aliases, varinvalias)

    def __call__(self, *args, backend="auto", device_id=-1, alpha=1e-10, eps=1e-6, ranges=None):
        args, pos = list(args), self.varinvpos
        if len(args) != len(self._genred.aliases):
            raise ArgumentError(f"expected {len(self._genred.aliases)} arrays, got {len(args)}")
        b = np.asarray(args[pos], dtype=_infer_dtype(args))

        def linop(v):
            args[pos] = v
            out = self._genred(*args, backend=backend, device_id=device_id, ranges=ranges)
            return out + alpha * v

        return conjugate_gradient(linop, b, eps)
