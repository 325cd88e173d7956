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
from .frontend.aliases import parse_aliases
from .frontend.formula import ReductionSpec, build_kernel


def _genred_of(f) -> Genred:
    from .gradients import GradFunction

    if isinstance(f, Genred):
        return f
    if isinstance(f, GradFunction) and len(f._extra) == 1 and f.var.cat != 2:
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
        self.aliases = max((list(g.aliases) for g in self.parts), key=len)
        for g in self.parts:
            if [a.strip() for a in g.aliases] != [
                a.strip() for a in self.aliases[: len(g.aliases)]
            ]:
                raise ArgumentError("keir.fuse: argument lists must be prefixes of one another")
        self._kernels = {}

    def _kernel(self, dtype: str):
        if dtype not in self._kernels:
            from mlir import ir

            from .compiler import compile_module
            from .dialect.definition import context

            funcs = []
            for k, g in enumerate(self.parts):
                spec = ReductionSpec(g.kind, g.axis, g.k, g.formula2)
                module, _ = build_kernel(g.formula, g.aliases, dtype, spec, name=f"keir_part{k}")
                funcs.append(str(module.body.operations[0]))
            module = ir.Module.parse("\n".join(funcs), context=context())
            names = [a.name for a in parse_aliases(self.aliases)]
            self._kernels[dtype], _ = compile_module(module, names)
        return self._kernels[dtype]

    def __call__(self, *args):
        kernel = self._kernel(_infer_dtype(args))
        outs = kernel.run_prepared(*kernel.prepare(args))
        return tuple(postprocess(g.kind, out, g.k) for g, out in zip(self.parts, outs))


def fuse(*functions) -> FusedKernel:
    """One kernel computing all the given reductions (same axis) in a single pass."""
    return FusedKernel(*functions)
