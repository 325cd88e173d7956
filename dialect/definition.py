"""Defines the `keir` dialect at run time with IRDL, generated from the op and reduction tables.

Formula values are `vector<D x f32|f64>`; leaves carry their values in attributes. A kernel is a
`func.func` whose body computes the formula and ends in one `keir.reduction` consuming it; the
function's `keir.arg_cats` / `keir.arg_dims` attributes list every declared argument in call
order (see keir.dialect.builders), so the kernel signature does not depend on which variables
the formula happens to use.
"""

from __future__ import annotations

import functools

from .ops import OPS

_LEAVES = {
    "var": ("cat", "pos", "dim"),
    "intcst": ("value",),
    "cst": ("value",),
}


def _operation(mnemonic: str, n_operands: int, attributes: tuple[str, ...], results: int) -> str:
    # One constraint variable per operand and result: a shared one would force equal types.
    lines = [f"  irdl.operation @{mnemonic} {{"]
    slots = (n_operands if n_operands >= 0 else 2) + results or 1
    lines += [f'    %vec{k} = irdl.base "!builtin.vector"' for k in range(slots)]
    for a in attributes:
        lines.append(f"    %attr_{a} = irdl.any")
    if attributes:
        pairs = ", ".join(f'"{a}" = %attr_{a}' for a in attributes)
        lines.append(f"    irdl.attributes {{{pairs}}}")
    if n_operands < 0:  # the reduction: a formula and an optional weight formula
        lines.append("    irdl.operands(formula: %vec0, weight: optional %vec1)")
    elif n_operands:
        names = ", ".join(f"x{k}: %vec{k}" for k in range(n_operands))
        lines.append(f"    irdl.operands({names})")
    if results:
        lines.append(f"    irdl.results(result: %vec{slots - 1})")
    lines.append("  }")
    return "\n".join(lines)


@functools.cache
def irdl_source() -> str:
    """The IRDL text of the dialect (also printed in docs and FileCheck tests)."""
    ops = [_operation(m, 0, attrs, 1) for m, attrs in _LEAVES.items()]
    ops += [_operation(d.mnemonic, d.arity, d.params, 1) for d in OPS.values()]
    ops.append(_operation("grad", 2, ("pos",), 1))
    ops.append(_operation("reduction", -1, ("kind", "axis", "k"), 0))
    return "irdl.dialect @keir {\n" + "\n".join(ops) + "\n}\n"


@functools.cache
def context():
    """The process-wide MLIR context with the keir dialect loaded (loading costs a few ms)."""
    from mlir import ir
    from mlir._mlir_libs import _mlir
    from mlir.dialects import irdl

    _mlir.globals.append_dialect_search_prefix(__package__)  # finds keir.dialect.keir
    ctx = ir.Context()
    with ctx, ir.Location.unknown():
        irdl.load_dialects(ir.Module.parse(irdl_source()))
    return ctx
