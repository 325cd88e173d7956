"""keir-tile-cpu: keir kernels become OpenMP-parallel rows with a vectorised inner loop.

    func @k(args..., outs..., M: index, N: index)
      scf.parallel r in [0, rows)                         # one OpenMP work item per row
        row variables and parameters: loaded once, broadcast to vector lanes
        state = init  (vector<L x T> lanes, L = register width, e.g. 16 x f32 on AVX-512)
        scf.for c in [0, n - n % L) step L                  # L reduced indices per step
          column variables: one contiguous vector load per component
          evaluate the formula on vector lanes; state = update(state, F, c + [0 .. L-1])
        state = merge of the L lanes of each state value (ties go to the smaller index)
        scf.for c in [n - n % L, n)                         # exact scalar tail
          the same formula on scalar lanes; state = update(state, F, c)
        outs[r, :] = finalize(state)

Column variables (indexed by the reduced index) are passed transposed, component k of row c
at k * n + c, so that L consecutive indices are one vector load; the launcher transposes them
(its cost is O(n D), negligible beside the O(M N) loop). Options: lanes=L overrides the width
taken from the host CPU.
"""

from __future__ import annotations

import json

import numpy as np
from mlir import ir
from mlir.dialects import arith, func, memref, scf, vector

from ..dialect.check import check_module
from ..dialect.kernel import find_reductions, kernel_funcs, signature
from ..dialect.reductions import REDUCTIONS, RedShape
from .emitter import LaneEmitter
from .formula_emit import emit_formula, index_const, split_state
from .target import lanes as host_lanes

NAME = "keir-tile-cpu"
DESCRIPTION = "lower keir kernels to parallel rows with a vector<L> inner loop and a scalar tail"


def run_on(module_op, lanes: int | None = None) -> None:
    check_module(module_op)
    for old in kernel_funcs(module_op):
        with ir.InsertionPoint(old), old.location:
            _lower_kernel(old, lanes)
        old.erase()


class VectorLanes(LaneEmitter):
    """Lanes of L consecutive reduced indices: an index lane is c + [0, 1, .., L-1]."""

    def index_to_lane(self, index):
        elem = self.type.element_type
        base = arith.sitofp(elem, arith.index_cast(ir.IntegerType.get_signless(64), index))
        dtype = np.float64 if isinstance(elem, ir.F64Type) else np.float32
        steps = ir.DenseElementsAttr.get(np.arange(self.type.shape[0], dtype=dtype), type=self.type)
        return arith.addf(vector.broadcast(self.type, base), arith.constant(self.type, steps))


def _lower_kernel(old, lanes: int | None) -> None:
    sig = signature(old)
    elem = ir.F64Type.get() if sig.dtype == "float64" else ir.F32Type.get()
    L = lanes or host_lanes(64 if sig.dtype == "float64" else 32)
    vtype = ir.VectorType.get([L], elem)
    buf = ir.MemRefType.get([ir.ShapedType.get_dynamic_size()], elem)
    index = ir.IndexType.get()
    n_args, n_out = len(sig.arg_cats), len(sig.outputs)
    new = func.FuncOp(sig.name, ir.FunctionType.get([buf] * (n_args + n_out) + [index] * 2, []))
    new.attributes["keir.signature"] = ir.StringAttr.get(json.dumps(sig.to_json()))
    entry = new.add_entry_block()
    arrays, outs = list(entry.arguments[:n_args]), list(entry.arguments[n_args : n_args + n_out])
    sizes = {0: entry.arguments[n_args + n_out], 1: entry.arguments[n_args + n_out + 1]}
    rows, n = sizes[sig.out_cat], sizes[1 - sig.out_cat]
    se = LaneEmitter(elem)
    reds = [
        (REDUCTIONS[o.reduction], RedShape(o.formula_dim, o.weight_dim, o.k), o)
        for o in sig.outputs
    ]
    ops = find_reductions(old)
    with ir.InsertionPoint(entry):
        par = scf.ParallelOp([], [index_const(0)], [rows], [index_const(1)], [])
        func.ReturnOp([])
    body = par.region.blocks.append(index)
    r = body.arguments[0]
    with ir.InsertionPoint(body):
        fixed = _row_values(old, sig, arrays, r)  # {pos: scalar lanes}
        if _merge_cost(reds) * L <= MERGE_BUDGET:
            n_vec, merged = _vector_loop(old, fixed, arrays, n, L, vtype, reds, ops)
        else:  # a big K-min state: merging L lanes would dwarf the loop; stay scalar
            n_vec, merged = index_const(0), [red.init(se, shape) for red, shape, _ in reds]
        tail = scf.ForOp(n_vec, n, index_const(1), sum(merged, []))
        with ir.InsertionPoint(tail.body):
            c = tail.induction_variable
            load = _column_loader(arrays, fixed, n, c, lambda a, i: memref.load(a, [i]))
            _step(old, se, load, c, reds, ops, split_state(list(tail.inner_iter_args), merged))
        for (red, shape, spec), state, out in zip(
            reds, split_state(list(tail.results), merged), outs
        ):
            for k, lane in enumerate(red.finalize(se, state, shape)):
                offset = arith.addi(arith.muli(r, index_const(spec.out_dim)), index_const(k))
                memref.store(lane, out, [offset])
        scf.ReduceOp([], 0)


def _vector_loop(old, fixed, arrays, n, L, vtype, reds, ops):
    """The vector loop over [0, n - n % L) and the merge of its lanes: (its end, states)."""
    ve, se = VectorLanes(vtype), LaneEmitter(vtype.element_type)
    wide = {pos: [vector.broadcast(vtype, v) for v in ls] for pos, ls in fixed.items()}
    n_vec = arith.muli(arith.divui(n, index_const(L)), index_const(L))
    states = [red.init(ve, shape) for red, shape, _ in reds]
    vloop = scf.ForOp(index_const(0), n_vec, index_const(L), sum(states, []))
    with ir.InsertionPoint(vloop.body):
        c = vloop.induction_variable
        load = _column_loader(arrays, wide, n, c, lambda a, i: vector.load(vtype, a, [i]))
        _step(old, ve, load, c, reds, ops, split_state(list(vloop.inner_iter_args), states))
    merged = [
        _merge_lanes(se, red, shape, part, L)
        for (red, shape, _), part in zip(reds, split_state(list(vloop.results), states))
    ]
    return n_vec, merged


# Selects run by one lane merge, summed over the reductions: K-min merges cost K*K*D; beyond
# this budget (times L lanes, per output row) the kernel stays scalar.
MERGE_BUDGET = 4096


def _merge_cost(reds) -> int:
    return sum(shape.k * shape.k * shape.f if red.uses_k else 1 for red, shape, _ in reds)


def _row_values(old, sig, arrays, r) -> dict:
    """Scalar lanes of the row variables (at row r) and of the parameters, by position."""
    values = {}
    for pos, (cat, dim) in enumerate(zip(sig.arg_cats, sig.arg_dims)):
        if cat == sig.out_cat:
            base = arith.muli(r, index_const(dim))
            values[pos] = [
                memref.load(arrays[pos], [arith.addi(base, index_const(k))]) for k in range(dim)
            ]
        elif cat == 2:
            values[pos] = [memref.load(arrays[pos], [index_const(k)]) for k in range(dim)]
    return values


def _column_loader(arrays, fixed: dict, n, c, load_one):
    """Variables for the formula: fixed ones from `fixed`, column ones loaded at index c."""

    def load(cat, pos, dim):
        if pos in fixed:
            return fixed[pos]
        return [
            load_one(arrays[pos], arith.addi(arith.muli(index_const(k), n), c)) for k in range(dim)
        ]

    return load


def _step(old, e, load, c, reds, ops, states) -> None:
    env = emit_formula(old, e, load)
    idx = e.index_to_lane(c)
    new = []
    for (red, shape, _), state, op in zip(reds, states, ops):
        f, *g = (env[v] for v in op.operands)
        new += red.update(e, state, f, g[0] if g else None, idx, shape)
    scf.YieldOp(new)


def _merge_lanes(se, red, shape, state: list, L: int) -> list:
    """One scalar state from the L lanes of a vector state: the vectors go to a stack buffer
    and a loop merges lane after lane, so the merge's code appears once (not L times)."""
    elem = se.type
    buffers = []
    for v in state:
        buf = memref.alloca(ir.MemRefType.get([L], elem), [], [])
        vector.store(v, buf, [index_const(0)])
        buffers.append(buf)
    first = [memref.load(buf, [index_const(0)]) for buf in buffers]
    loop = scf.ForOp(index_const(1), index_const(L), index_const(1), first)
    with ir.InsertionPoint(loop.body):
        lane = [memref.load(buf, [loop.induction_variable]) for buf in buffers]
        scf.YieldOp(red.merge(se, list(loop.inner_iter_args), lane, shape))
    return list(loop.results)
