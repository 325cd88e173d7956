"""keir-cse: common subexpression elimination over keir ops.

IRDL ops carry no purity trait, so MLIR's own cse leaves them alone; every keir formula op is
pure, so two ops with the same name, operands and attributes compute the same value. The
first one is kept and the later ones' uses are redirected to it, then erased. Autodiff (which
recomputes forward pieces) and fusion (two formulas sharing a kernel) both rely on it.
"""

from __future__ import annotations

from ..dialect.kernel import kernel_funcs, operations

NAME = "keir-cse"
DESCRIPTION = "merge identical keir formula ops (same name, operands and attributes)"


def _key(op, number: dict) -> tuple:
    named = (op.attributes[k] for k in range(len(op.attributes)))
    attrs = tuple(sorted((a.name, str(a.attr)) for a in named))
    operands = tuple(number[v] for v in op.operands)
    return op.name, operands, attrs, str(op.result.type)


def run_on(module_op) -> None:
    for func in kernel_funcs(module_op):
        seen, number = {}, {}
        for op in operations(func.regions[0].blocks[0]):
            if not op.name.startswith("keir.") or not op.results:
                continue
            key = _key(op, number)
            if key in seen:
                op.result.replace_all_uses_with(seen[key])
                number[op.result] = number[seen[key]]
                op.erase()
            else:
                seen[key] = op.result
                number[op.result] = len(number)
