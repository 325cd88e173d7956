"""Reads a keir kernel back out of MLIR: its function, formula ops, reduction and signature.

Used by the reference interpreter, the lowering passes and the runtime, so that a module parsed
from text (keir opt) and one built by the frontend are handled the same way.
"""

from __future__ import annotations

from dataclasses import replace

from ..errors import KeirError
from .reductions import RedShape, reduction_def
from .signature import Output, Signature


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


def find_reductions(func) -> list:
    return [op for op in operations(func.regions[0].blocks[0]) if op.name == "keir.reduction"]


def reduction_shape(red) -> RedShape:
    from mlir import ir

    dims = [ir.VectorType(v.type).shape[0] for v in red.operands]
    return RedShape(dims[0], dims[1] if len(dims) > 1 else 0, int_attr(red, "k"))


def _output(red) -> Output:
    from mlir import ir

    kind = ir.StringAttr(red.attributes["kind"]).value
    shape = reduction_shape(red)
    return Output(kind, shape.f, reduction_def(kind).out_dim(shape), shape.k, shape.g)


def signature(func) -> Signature:
    from mlir import ir

    reds = find_reductions(func)
    if not reds:
        raise KeirError("function holds no keir.reduction")
    axes = {int_attr(r, "axis") for r in reds}
    if len(axes) != 1:
        raise KeirError("the reductions of one kernel must share their axis")
    return Signature(
        name=ir.StringAttr(func.attributes["sym_name"]).value,
        dtype=dtype_of(reds[0].operands[0]),
        arg_cats=tuple(ir.DenseI64ArrayAttr(func.attributes["keir.arg_cats"])),
        arg_dims=tuple(ir.DenseI64ArrayAttr(func.attributes["keir.arg_dims"])),
        axis=axes.pop(),
        outputs=tuple(_output(r) for r in reds),
    )


def kernel_signature(funcs) -> Signature:
    """The signature of the one native kernel that fusing `funcs` (over one axis) gives: the
    first one's, with the outputs of all (what a cached binary of them must take and give)."""
    sigs = [signature(f) for f in funcs]
    return replace(sigs[0], outputs=tuple(o for s in sigs for o in s.outputs))


def _dims(o) -> tuple[int, int, int]:
    return o.formula_dim, o.weight_dim, o.k


def states_signature(sig: Signature) -> Signature:
    """`sig` of a kernel built with keir-tile-cpu{states}: each output holds its reduction's
    raw state (ReductionDef.state_len lanes per row) instead of the finalised result."""
    outputs = tuple(
        replace(o, out_dim=reduction_def(o.reduction).state_len(RedShape(*_dims(o))))
        for o in sig.outputs
    )
    return replace(sig, outputs=outputs, states=True)


def formula_ops(func) -> list:
    """The keir ops of the formula in program order (the reduction excluded)."""
    return [
        op
        for op in operations(func.regions[0].blocks[0])
        if op.name.startswith("keir.") and op.name != "keir.reduction"
    ]
