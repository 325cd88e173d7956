"""keir-autodiff: eliminates keir.grad by symbolic reverse-mode differentiation.

    %d = "keir.grad"(%f, %e) {pos = P}     ->   the ops of (d f / d v_P)^T e

For each keir.grad (innermost first, so gradients of gradients work) the pass walks the ops
that %f depends on in reverse order, applying each op's `vjp` rule (defined next to the op in
keir.dialect.ops) to the adjoint of its result, and sums the adjoints that reach the variable
at position P. An adjoint of a broadcast operand (dim 1 used against dim D) is summed back to
dim 1. Ops left unused afterwards are erased.
"""

from __future__ import annotations

from mlir import ir

from ..dialect.builders import OpFactory, dim_of
from ..dialect.kernel import int_attr, kernel_funcs, operations, param_values
from ..dialect.ops import BY_MNEMONIC
from ..dialect.symbolic import SymBuilder
from ..errors import NotSupportedError

NAME = "keir-autodiff"
DESCRIPTION = "replace keir.grad by the reverse-mode derivative of its formula"


def run_on(module_op) -> None:
    for func in kernel_funcs(module_op):
        block = func.regions[0].blocks[0]
        while (grad := _first_grad(block)) is not None:
            _eliminate(grad)
        erase_dead_ops(block)


def _first_grad(block):
    return next((op for op in operations(block) if op.name == "keir.grad"), None)


def _cone(block, root) -> list:
    """The ops `root` depends on, in program order."""
    needed, ops = {root}, []
    for op in reversed(operations(block)):
        if op.results and op.result in needed:
            ops.append(op)
            needed.update(op.operands)
    return ops[::-1]


def _eliminate(grad) -> None:
    f, gradin = grad.operands
    pos, dim = int_attr(grad, "pos"), dim_of(grad.result)
    elem = ir.VectorType(grad.result.type).element_type
    b = SymBuilder(OpFactory(elem, ir.InsertionPoint(grad), location=grad.location))
    adjoint = {f: b.wrap(gradin)}
    result = None
    for op in reversed(_cone(grad.block, f)):
        g = adjoint.pop(op.result, None)
        kind = op.name.removeprefix("keir.")
        if g is None or kind in ("cst", "intcst"):
            continue
        if kind == "var":
            if int_attr(op, "pos") == pos:
                result = g if result is None else result + g
            continue
        for value, adj in zip(op.operands, _vjp(b, op, kind, g)):
            if adj is None:
                continue
            if adj.dim != dim_of(value):  # the operand was broadcast: sum its adjoint
                adj = b("Sum", adj)
            adjoint[value] = adjoint[value] + adj if value in adjoint else adj
    result = result if result is not None else b.zero(dim)
    grad.result.replace_all_uses_with(result.value)
    grad.erase()


def _vjp(b, op, kind: str, g) -> list:
    d = BY_MNEMONIC[kind]
    if d.vjp is None:
        raise NotSupportedError(f"{d.name} is not differentiable (as in KeOps)")
    args = [b.wrap(v) for v in op.operands]
    return d.vjp(b, g, b.wrap(op.result), *args, **param_values(op, d.params))


def erase_dead_ops(block) -> None:
    """Erases keir ops whose results are unused (IRDL ops carry no purity trait for DCE)."""
    for op in reversed(operations(block)):
        if op.name.startswith("keir.") and op.results and not list(op.result.uses):
            op.erase()
