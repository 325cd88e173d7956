"""keir.fuse: several reductions over the same axis computed by one kernel.

    value, dx = keir.fuse(f, keir.grad(f, "x"))(x, y, b, e)

The kernels' IR goes into one module; keir-fuse merges them and keir-cse computes their common
subexpressions once per (i, j) pair, so a kernel sum and its gradient cost little more than
the gradient alone. The fused callable takes the longest of the argument lists (the others
must be its prefixes, as a gradient's arguments extend its function's).
"""

from __future__ import annotations

from .api import Genred, _infer_dtype, postprocess
from .errors import ArgumentError, NotSupportedError


def _genred_of(f) -> Genred:
    from .gradients import GradFunction

    if isinstance(f, Genred):
        return f
    if isinstance(f, GradFunction) and not f.needs_saved_forward and f.var.cat != 2:
        return f._genred  # a Sum gradient needs no saved forward values: a plain reduction
    raise NotSupportedError(
        "keir.fuse takes Genred objects and gradients of Sum reductions (not of parameters)"
    )


class FusedKernel:
    def __init__(self, *functions):
        if len(functions) < 2:
            raise ArgumentError("keir.fuse needs at least two reductions")
        self.parts = [_genred_of(f) for f in functions]
        if len({g.axis for g in self.parts}) != 1:
            raise ArgumentError("keir.fuse: the reductions must share their axis")
        self.aliases = max((g.spec.aliases for g in self.parts), key=len)
        for g in self.parts:
            if g.spec.aliases != self.aliases[: len(g.spec.aliases)]:
                raise ArgumentError("keir.fuse: argument lists must be prefixes of one another")
        self._kernels = {}

    def _kernel(self, dtype: str):
        if dtype not in self._kernels:
            from .compiler import compile_module

            module = None  # every part's kernel is built into the first part's module
            for k, g in enumerate(self.parts):
                module, _ = g.spec.build(dtype, name=f"keir_part{k}", module=module)
            names = [a.name for a in self.aliases]
            self._kernels[dtype], _ = compile_module(module, names)
        return self._kernels[dtype]

    def __call__(self, *args):
        kernel = self._kernel(_infer_dtype(args))
        outs = kernel.run_prepared(*kernel.prepare(args))
        return tuple(postprocess(g.kind, out, g.k) for g, out in zip(self.parts, outs))


def fuse(*functions) -> FusedKernel:
    """One kernel computing all the given reductions (same axis) in a single pass."""
    return FusedKernel(*functions)
