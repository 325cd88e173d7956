"""A bound on the code keir-tile-cpu unrolls, checked before it runs (issue 21).

keir-tile-cpu unrolls a formula's vector components into straight-line code (only the long
sums of keir.passes.wide_dot become loops), and LLVM's time grows faster than linearly with it:
Exp(-SqDist(x,y))*x with x = Vi(5000) compiled in 107 s, TensorProd of two Vi(100) in 263 s
and 812 MB. So the compile path first estimates the unrolled size from the keir IR and refuses
a kernel past MAX_UNROLLED with a LimitError that names the largest op, instead of compiling
for minutes.

The estimate, in components: every vector value the unrolled code computes (ops of dimension
D > 1 count D, the variables they read included; scalar ops count SCALAR_WEIGHT each), plus
OUTPUT_WEIGHT per output component (each is a running state per vector lane, merged across
lanes and threads at the end). The long sums wide_dot computes in loops count 1, their
operands nothing. Measured on a busy 2-core machine (the loop-stage op count in brackets):
Exp(-SqDist(x,y))*x, D = 300: 3,000 (7,400 ops), 3 s; D = 1000: 10,000 (24,000 ops), 17 s;
TensorProd(x, y), D = 30: 8,160 (18,000 ops), 12 s; a flat sum of 10^4 scalar terms: 2,500
(its Python passes take 17 s, LLVM 2 s).
"""

from __future__ import annotations

from ..dialect.kernel import find_reductions, kernel_funcs, reduction_shape
from ..dialect.reductions import reduction_def
from ..errors import LimitError

MAX_UNROLLED = 8192  # components: Exp(-SqDist(x,y))*x at Vi(800) (8,000): 10 s of CPU
OUTPUT_WEIGHT = 8
SCALAR_WEIGHT = 0.25


def _dim(value) -> int:
    from mlir import ir

    return ir.VectorType(value.type).shape[0]


def unrolled_size(func) -> tuple[float, object]:
    """(estimated unrolled components of `func`, the op contributing most)."""
    from mlir import ir

    from .lowering.wide_dot import find_wide_sums

    reds = find_reductions(func)
    axis = ir.IntegerAttr(reds[0].attributes["axis"]).value
    wide = {s.op for s in find_wide_sums(func, 0 if axis == 1 else 1)}
    total, largest, seen = 0.0, (0, None), set()
    stack = [v.owner for r in reds for v in r.operands]
    for red in reds:
        kind = ir.StringAttr(red.attributes["kind"]).value
        total += OUTPUT_WEIGHT * reduction_def(kind).out_dim(reduction_shape(red))
    while stack:  # the ops the reductions depend on (iteratively: formulas may be 10^4 deep)
        op = stack.pop()
        if not isinstance(op, ir.OpView) or op in seen:
            continue
        seen.add(op)
        dim = max((_dim(r) for r in op.results), default=1)
        total += dim if dim > 1 else SCALAR_WEIGHT
        largest = max(largest, (dim, op), key=lambda p: p[0])
        if op not in wide:
            stack += [v.owner for v in op.operands]
    return total, largest[1]


def check(module) -> None:
    """LimitError if a kernel of `module` would unroll more than MAX_UNROLLED components."""
    for func in kernel_funcs(module):
        size, op = unrolled_size(func)
        if size > MAX_UNROLLED:
            where = f" (the largest: {op.name} of dimension {_dim(op.results[0])} at {op.location})"
            raise LimitError(
                f"the kernel would unroll about {int(size):,} vector components{where}, more "
                f"than keir's limit of {MAX_UNROLLED:,} (its compile time grows faster than "
                "that): reduce fewer output components per kernel, or smaller dimensions"
            )
