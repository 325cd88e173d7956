"""Reads a keir kernel back out of MLIR: its function, formula ops, reduction and signature.

Used by the reference interpreter, the lowering passes and the runtime, so that a module parsed
from text (keir opt) and one built by the frontend are handled the same way.
"""

from __future__ import annotations

from ..errors import KeirError
from .reductions import REDUCTIONS, RedShape
from .signature import Signature


def int_attr(op, name: str) -> int:
    from mlir import ir

    return ir.IntegerAttr(op.attributes[name]).value


def param_values(op, names) -> dict:
    """An op's integer parameters: ints, or tuples of ints (stored as DenseI64ArrayAttr)."""
    from mlir import ir

    values = {}
    for name in names:
        attr = op.attributes[name]
        try:
            values[name] = ir.IntegerAttr(attr).value
        except (ValueError, TypeError):
            values[name] = tuple(ir.DenseI64ArrayAttr(attr))
    return values


def float_attr(op, name: str) -> float:
    from mlir import ir

    return ir.FloatAttr(op.attributes[name]).value


def dtype_of(value) -> str:
    from mlir import ir

    elem = ir.VectorType(value.type).element_type
    return "float64" if isinstance(elem, ir.F64Type) else "float32"


def kernel_funcs(module) -> list:
    """The functions of `module` (an ir.Module or a builtin.module op) ending in keir.reduction."""
    body = module.body if hasattr(module, "body") else module.regions[0].blocks[0]
    return [f for f in operations(body) if f.name == "func.func" and find_reduction(f)]


def operations(block) -> list:
    """The block's operations as plain `Operation`s (an OpView such as FuncOp redefines .name)."""
    return [op.operation for op in block.operations]


def find_reduction(func):
    for op in operations(func.regions[0].blocks[0]):
        if op.name == "keir.reduction":
            return op
    return None


def signature(func) -> Signature:
    from mlir import ir

    red = find_reduction(func)
    if red is None:
        raise KeirError("function holds no keir.reduction")
    kind = ir.StringAttr(red.attributes["kind"]).value
    formula = red.operands[0]
    fdim = ir.VectorType(formula.type).shape[0]
    gdim = ir.VectorType(red.operands[1].type).shape[0] if len(red.operands) > 1 else 0
    k = int_attr(red, "k")
    return Signature(
        name=ir.StringAttr(func.attributes["sym_name"]).value,
        dtype=dtype_of(formula),
        arg_cats=tuple(ir.DenseI64ArrayAttr(func.attributes["keir.arg_cats"])),
        arg_dims=tuple(ir.DenseI64ArrayAttr(func.attributes["keir.arg_dims"])),
        reduction=kind,
        axis=int_attr(red, "axis"),
        formula_dim=fdim,
        out_dim=REDUCTIONS[kind].out_dim(RedShape(fdim, gdim, k)),
        k=k,
        weight_dim=gdim,
    )


def formula_ops(func) -> list:
    """The keir ops of the formula in program order (the reduction excluded)."""
    return [
        op
        for op in operations(func.regions[0].blocks[0])
        if op.name.startswith("keir.") and op.name != "keir.reduction"
    ]
