"""keir.torch.Genred: pykeops.torch.Genred on keir kernels, differentiable by torch.autograd.

Same constructor and call signatures as pykeops 2.3. Options keir has are honoured; those that
only tune KeOps' CUDA code (enable_chunks, rec_multVar_highdim, use_fast_math) are accepted
and have no effect on the CPU; the accumulation options (dtype_acc, use_double_acc,
sum_scheme) are checked and compiled by the numpy Genred (frontend/spec.py Options), and what
keir cannot compile yet raises keir.NotSupportedError. Block-sparse `ranges` run on the CPU
(keir.runtime.ranges); gradients read the half of the 6-tuple their axis names.
"""

from __future__ import annotations

import re

import torch

from ..api import Genred as NumpyGenred
from ..errors import ArgumentError
from ..frontend.aliases import parse_aliases
from .autograd import Reduction
from .batch import run_batched
from .tensors import check

_VAR = re.compile(r"Var\((\d+),(\d+),(\d+)\)")


def complete_aliases(formula: str, aliases) -> list[str]:
    """pykeops' complete_aliases: a variable written Var(pos, dim, cat) in the formula and not
    declared becomes an alias, so that calls take it and gradients number arguments after it."""
    aliases = [aliases] if isinstance(aliases, str) else list(aliases)
    declared = {a.pos for a in parse_aliases(aliases)}
    found = {tuple(map(int, v)) for v in _VAR.findall(formula.replace(" ", ""))}
    extra = sorted(v for v in found if v[0] not in declared)
    return aliases + [f"_keir_var{p} = Var({p},{d},{c})" for p, d, c in extra]


class Genred:
    """pykeops.torch.Genred: reduce `formula` over axis 0 (i) or 1 (j) with `reduction_op`.

    `dtype` and `cuda_type` are ignored, as in pykeops 2.x: the kernel takes the dtype of the
    tensors it is called with, and so does its output.
    """

    def __init__(
        self,
        formula,
        aliases,
        reduction_op="Sum",
        axis=0,
        dtype=None,
        opt_arg=None,
        formula2=None,
        cuda_type=None,
        dtype_acc="auto",
        use_double_acc=False,
        sum_scheme="auto",
        enable_chunks=True,
        rec_multVar_highdim=False,
        use_fast_math=True,
    ):
        aliases = complete_aliases(formula + (formula2 or ""), aliases)
        genred = NumpyGenred(
            formula,
            aliases,
            reduction_op,
            axis,
            opt_arg=opt_arg,
            formula2=formula2,
            dtype_acc=dtype_acc,
            use_double_acc=use_double_acc,
            sum_scheme=sum_scheme,
        )
        self.formula, self.aliases, self.reduction_op = formula, genred.aliases, reduction_op
        self.axis, self.opt_arg, self.formula2 = axis, opt_arg, formula2
        self._reduction = Reduction(genred)

    @property
    def nargs(self) -> int:
        return len(self._reduction.names)

    def __call__(self, *args, backend="auto", device_id=-1, ranges=None, out=None):
        if len(args) != self.nargs:
            raise ArgumentError(
                f"expected {self.nargs} tensors ({', '.join(self._reduction.names)}), "
                f"got {len(args)}"
            )
        tensors, _ = check(self._reduction.names, args)
        result = run_batched(self._reduction, tensors, (backend, device_id, ranges))
        return result if out is None else _into(out, result)


def _into(out, result):
    if isinstance(result, tuple):
        raise ArgumentError("out= is not available for a reduction that returns two tensors")
    if not isinstance(out, torch.Tensor) or out.shape != result.shape:
        shape = getattr(out, "shape", type(out).__name__)
        raise ArgumentError(f"out: expected a tensor of shape {tuple(result.shape)}, got {shape}")
    out.copy_(result)
    return out
