"""The dimension checker for keir IR that did not come from the builder (e.g. parsed text).

IRDL only checks that values are vectors; this applies each op's dimension rule and the
argument table, reporting the op, the dims and the source location.
"""

from __future__ import annotations

from ..errors import DimensionError
from .kernel import (
    find_reductions,
    formula_ops,
    int_attr,
    kernel_funcs,
    param_values,
    reduction_shape,
)
from .ops import BY_MNEMONIC, DimRuleError
from .reductions import REDUCTIONS, check_shape, reduction_def
from .reductions.base import SCHEME_REDUCTIONS


def _dim(value) -> int:
    from mlir import ir

    return ir.VectorType(value.type).shape[0]


def _expected(op, arg_dims, arg_cats) -> int:
    kind = op.name.removeprefix("keir.")
    if kind == "var":
        pos, dim = int_attr(op, "pos"), int_attr(op, "dim")
        if pos >= len(arg_dims) or arg_dims[pos] != dim or arg_cats[pos] != int_attr(op, "cat"):
            raise DimRuleError(f"variable at position {pos} does not match the argument table")
        return dim
    if kind in ("intcst", "cst"):
        return 1
    if kind == "grad":
        f, gradin = op.operands
        if _dim(f) != _dim(gradin):
            raise DimRuleError(
                f"gradient input of dim {_dim(gradin)} for a formula of dim {_dim(f)}"
            )
        return arg_dims[int_attr(op, "pos")]
    d = BY_MNEMONIC.get(kind)
    if d is None:
        raise DimRuleError(f"unknown keir operation {op.name}")
    params = param_values(op, d.params)
    return d.dim(*(_dim(o) for o in op.operands), **params)


def check_module(module) -> None:
    """Raises DimensionError at the first op whose result dim breaks its rule."""
    from mlir import ir

    for func in kernel_funcs(module):
        cats = list(ir.DenseI64ArrayAttr(func.attributes["keir.arg_cats"]))
        dims = list(ir.DenseI64ArrayAttr(func.attributes["keir.arg_dims"]))
        for op in formula_ops(func):
            try:
                expected = _expected(op, dims, cats)
            except DimRuleError as e:
                raise DimensionError(f"{op.name} at {op.location}: {e}") from None
            if expected != _dim(op.result):
                raise DimensionError(
                    f"{op.name} at {op.location}: result has dim {_dim(op.result)}, "
                    f"expected {expected} from operand dims {[_dim(o) for o in op.operands]}"
                )
        for red in find_reductions(func):
            _check_reduction(red)


def _check_reduction(red) -> None:
    from mlir import ir

    kind = ir.StringAttr(red.attributes["kind"]).value
    if kind not in REDUCTIONS and kind not in SCHEME_REDUCTIONS:
        raise DimensionError(f"keir.reduction at {red.location}: unknown kind {kind!r}")
    try:
        check_shape(reduction_def(kind), reduction_shape(red))
    except DimRuleError as e:
        raise DimensionError(f"{kind} reduction at {red.location}: {e}") from None
