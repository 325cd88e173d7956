"""Emits a kernel's formula on lanes: shared by the lowering passes.

The caller decides how a variable becomes lanes (scalar loads, vector loads of a column tile,
broadcasts of a row value): `load(cat, pos, dim)` returns its lanes. Every other op is lowered
by its rule in keir.dialect.ops through the emitter, which fixes the lane type.
"""

from __future__ import annotations

from ...dialect.kernel import float_attr, formula_ops, int_attr, param_values
from ...dialect.ops import BY_MNEMONIC


def emit_formula(func, e, load, given: dict | None = None) -> dict:
    """{keir value: lanes} for every formula op of `func`, in program order; the values in
    `given` were computed by the caller (e.g. keir-tile-cpu's micro-kernel)."""
    env = {}
    ops = formula_ops(func)
    unused = feeding_only(ops, given) if given else set()
    for op in ops:
        kind = op.name.removeprefix("keir.")
        if given and op.result in given:
            env[op.result] = given[op.result]
        elif op.result in unused:
            continue
        elif kind == "var":
            env[op.result] = load(*(int_attr(op, a) for a in ("cat", "pos", "dim")))
        elif kind == "intcst":
            env[op.result] = [e.const(int_attr(op, "value"))]
        elif kind == "cst":
            env[op.result] = [e.const(float_attr(op, "value"))]
        else:
            d = BY_MNEMONIC[kind]
            params = param_values(op, d.params)
            env[op.result] = d.lower(e, *(env[o] for o in op.operands), **params)
    return env


def feeding_only(ops, values) -> set:
    """The results of `ops` used only to compute `values` (which the caller computes another
    way): emitting them would only make dead code."""
    dead = set(values)
    for op in reversed(ops):
        users = [use.owner for use in op.result.uses]
        if users and all(len(u.results) == 1 and u.results[0] in dead for u in users):
            dead.add(op.result)
    return dead


def index_const(v: int):
    """An `index` constant at the current insertion point."""
    from mlir import ir
    from mlir.dialects import arith

    return arith.constant(ir.IndexType.get(), v)


def split_state(lanes: list, like: list[list]) -> list[list]:
    """Cuts a flat list of loop-carried lanes into one state per reduction, shaped like `like`."""
    out, start = [], 0
    for state in like:
        out.append(lanes[start : start + len(state)])
        start += len(state)
    return out


def reductions_of(sig) -> list:
    """(ReductionDef, RedShape, Output) of each output of a kernel signature."""
    from ...dialect.reductions import RedShape, reduction_def

    return [
        (reduction_def(o.reduction), RedShape(o.formula_dim, o.weight_dim, o.k), o)
        for o in sig.outputs
    ]


def row_values(sig, arrays, r, positions=None) -> dict:
    """Scalar lanes of the row variables (at row r of row-major arrays) and of the parameters,
    by argument position (all, or those in `positions`): the values that stay fixed while the
    reduced index runs."""
    from mlir.dialects import arith, memref

    values = {}
    for pos, (cat, dim) in enumerate(zip(sig.arg_cats, sig.arg_dims)):
        if positions is not None and pos not in positions:
            continue
        if cat == sig.out_cat:
            base = arith.muli(r, index_const(dim))
            values[pos] = [
                memref.load(arrays[pos], [arith.addi(base, index_const(k))]) for k in range(dim)
            ]
        elif cat == 2:
            values[pos] = [memref.load(arrays[pos], [index_const(k)]) for k in range(dim)]
    return values


def reduce_step(
    func, e, load, idx, reds, ops, states, given: dict | None = None, mask=None
) -> list:
    """Evaluates the formula of `func` (variables from `load`, some op values `given`) and folds
    it into each state at reduced index lane `idx`: the flat list of the new state lanes.
    With a lane `mask`, the masked-off lanes of a masked step are kept out: by a select of the
    old state (lanewise reductions) or a NaN formula value (ReductionDef.lanewise)."""
    env = emit_formula(func, e, load, given)
    new = []
    for (red, shape, _), state, op in zip(reds, states, ops):
        f, *g = (env[v] for v in op.operands)
        if mask is not None and not red.lanewise:
            nan = e.const(float("nan"))
            f = [e.select(mask, lane, nan) for lane in f]
        lanes = red.update(e, state, f, g[0] if g else None, idx, shape)
        if mask is not None and red.lanewise:
            lanes = [e.select(mask, n, o) for n, o in zip(lanes, state)]
        new += lanes
    return new


def tile_offset(c, dim: int, L: int, vector_lanes: bool):
    """Where column c of a reduced-index variable of `dim` components starts in layout "tiles"
    (tiles of L columns, each stored component-major): component k is at offset + k L. With
    `vector_lanes`, c is a tile's first column and the offset that of the whole tile."""
    from mlir.dialects import arith

    if vector_lanes:  # c = t L
        return arith.muli(c, index_const(dim))
    lane = arith.remui(c, index_const(L))
    return arith.addi(arith.muli(arith.subi(c, lane), index_const(dim)), lane)
