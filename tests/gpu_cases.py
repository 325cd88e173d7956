"""What the GPU tests compile: one case per reduction, and op examples fused into few kernels.

Fusing many formulas into one multi-output kernel (keir-fuse) keeps the number of compiles and
ptxas runs small, so checking all 84 ops on two dtypes and two chips takes seconds.
"""

from __future__ import annotations

from keir.dialect.ops import OPS
from keir.frontend.formula import ReductionSpec, build_kernel

ALIASES = ["x = Vi(3)", "y = Vj(3)", "b = Vj(1)"]

# reduction -> (formula, weight formula or None, K): vector formulas where the reduction allows
REDUCTIONS = {
    "Sum": ("x - y", None, 0),
    "Max": ("x * y", None, 0),
    "Min": ("x - y", None, 0),
    "ArgMax": ("x * y - y", None, 0),
    "ArgMin": ("SqDist(x, y)", None, 0),
    "Max_ArgMax": ("x - y", None, 0),
    "Min_ArgMin": ("x + y", None, 0),
    "KMin": ("x - y", None, 3),
    "ArgKMin": ("SqDist(x, y)", None, 4),
    "KMin_ArgKMin": ("x * y", None, 2),
    "LogSumExp": ("-SqDist(x, y) * 4", "y", 0),
    "Max_SumShiftExp": ("-SqDist(x, y)", None, 0),
    "Max_SumShiftExpWeight": ("-SqDist(x, y)", "b + y", 0),
    "SumSoftMaxWeight": ("-SqDist(x, y) * 2", "y", 0),
}


def reduction_module(kind: str, dtype: str, axis: int):
    formula, weight, k = REDUCTIONS[kind]
    return build_kernel(formula, ALIASES, dtype, ReductionSpec(kind, axis, k, weight))[0]


def op_batches(size: int = 12) -> list[list[str]]:
    """The names of all ops, in batches of `size`."""
    names = sorted(OPS)
    return [names[k : k + size] for k in range(0, len(names), size)]


def fused_module(names: list[str], aliases, dtype: str, axis: int = 1):
    """One module whose kernels (one per op example, Sum over `axis`) keir-fuse will merge."""
    from mlir import ir

    from keir.dialect.definition import context

    funcs = []
    for k, name in enumerate(names):
        spec = ReductionSpec("Sum", axis)
        module, _ = build_kernel(OPS[name].example, aliases, dtype, spec, name=f"part{k}")
        funcs.append(str(module.body.operations[0]))
    return ir.Module.parse("\n".join(funcs), context=context())
