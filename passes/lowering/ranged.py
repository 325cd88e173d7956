"""keir-tile-cpu{ranges}: the block-sparse loop nest (pykeops' `ranges`, keir.runtime.ranges).

    func @k(args..., outs..., M, N, control, work: int64[4 W], red: int64[2 R])
      scf.parallel over the W work items                 # one OpenMP work item each
        r0, r1, s0, s1 = work[4 w : 4 w + 4]             # output rows [r0, r1), red[s0:s1]
        for blocks of R rows in [r0, r1):
          states = init
          for s in [s0, s1):  a, b = red[2 s], red[2 s + 1]    # reduced indices [a, b)
            vector loop over the whole tiles of L inside [a, b)
            at most two masked vector steps for the partial tiles at a and b
          merge the L lanes, finalize, store the rows of the block below r1

With sum_scheme="block_sum", each reduced range is summed in blocks of BLOCK_TERMS terms per
lane, each from fresh states and merged into the row's total, as in the dense loop. Only the
listed pairs are computed: the skipped blocks cost nothing, so the time follows the
number of kept pairs. The reduced-index arrays stay in layout "tiles" (the launcher's, from
index 0): a range starting inside a tile reads that tile and masks the lanes outside [a, b),
so no range needs its own copy of the data. A masked step computes the formula on all L lanes
and keeps the old state where the mask is off (arith.select, which also drops the NaN or inf
that padding or a neighbouring range might produce). The work list (rows cut into chunks,
rows in no range included with no reduced range, so that they get the reduction's neutral
result) is built by the launcher: an i-range of 10^5 rows is many parallel items.
"""

from __future__ import annotations

import numpy as np
from mlir import ir
from mlir.dialects import arith, func, memref, scf, vector

from .formula import index_const, row_values


def lower_ranged(k, entry, work, red) -> None:
    """The body of the ranged kernel `k` (tile_cpu._Kernel) in its entry block."""
    with ir.InsertionPoint(entry):
        n_items = arith.divui(memref.dim(work, index_const(0)), index_const(4))
        par = scf.ParallelOp([], [index_const(0)], [n_items], [index_const(1)], [])
        func.ReturnOp([])
    with ir.InsertionPoint(par.region.blocks.append(ir.IndexType.get())):
        w = par.region.blocks[0].arguments[0]
        base = arith.muli(w, index_const(4))
        r0, r1, s0, s1 = (_index(work, arith.addi(base, index_const(q))) for q in range(4))
        blocks = scf.ForOp(r0, k.unless_cancelled(r0, r1), index_const(k.R), [])
        with ir.InsertionPoint(blocks.body):
            _block(k, blocks.induction_variable, r1, s0, s1, red)
            scf.YieldOp([])
        i64 = ir.IntegerType.get_signless(64)
        done = arith.index_cast(i64, arith.subi(r1, r0))
        memref.atomic_rmw(arith.AtomicRMWKind.addi, done, k.control, [index_const(1)])
        scf.ReduceOp([], 0)


def _index(mem, i):
    return arith.index_cast(ir.IndexType.get(), memref.load(mem, [i]))


def _block(k, first, r1, s0, s1, red) -> None:
    """R rows from `first` (clamped to r1 - 1: the extra rows are computed, not stored)."""
    from ..tile_cpu import VectorLanes, _clamped_row, _flat, _merge_lanes, _store, _unflat

    rows = [_clamped_row(first, q, r1) for q in range(k.R)]
    fixed = [row_values(k.sig, k.arrays, r, k.row_positions) for r in rows]
    e = VectorLanes(k.vtype)
    template = [k.init(e) for _ in range(k.R)]
    slices = scf.ForOp(s0, s1, index_const(1), _flat(template))
    with ir.InsertionPoint(slices.body):
        s = arith.muli(slices.induction_variable, index_const(2))
        a, b = _index(red, s), _index(red, arith.addi(s, index_const(1)))
        states = list(slices.inner_iter_args)
        if k.block_sum:
            states = _blocked_range(k, e, rows, fixed, a, b, states, template)
        else:
            states = _vector_range(k, e, rows, fixed, a, b, states)
        scf.YieldOp(states)
    per_row = [
        [_merge_lanes(k.se, r, shape, st, k.L) for (r, shape, _), st in zip(k.reds, states)]
        for states in _unflat(slices.results, template)
    ]
    for q, states in enumerate(per_row):
        if q == 0:
            _store(k.reds, states, k.outs, k.se, rows[0])
            continue
        row = arith.addi(first, index_const(q))
        guard = scf.IfOp(arith.cmpi(arith.CmpIPredicate.ult, row, r1))
        with ir.InsertionPoint(guard.then_block):
            _store(k.reds, states, k.outs, k.se, row)
            scf.YieldOp([])


def _blocked_range(k, ve, rows, fixed, a, b, states, template) -> list:
    """block_sum: [a, b) in blocks of BLOCK_TERMS terms per state lane, at multiples of the
    block length (so only the first and last blocks have partial tiles), each summed from
    fresh states and merged into the running ones, as the dense loop does per tile."""
    from ..tile_cpu import BLOCK_TERMS

    S = index_const(BLOCK_TERMS * k.L)
    start = arith.muli(arith.divui(a, S), S)
    blocks = scf.ForOp(start, b, S, states)
    with ir.InsertionPoint(blocks.body):
        c = blocks.induction_variable
        lo, hi = arith.maxui(a, c), arith.minui(b, arith.addi(c, S))
        total = list(blocks.inner_iter_args)
        block = _vector_range(k, ve, rows, fixed, lo, hi, k.tile_start(template, total))
        scf.YieldOp(k.merge_tile(ve, template, total, block))
    return list(blocks.results)


def _vector_range(k, ve, rows, fixed, a, b, states) -> list:
    """Folds the reduced indices [a, b) into the R rows' vector states: whole tiles unmasked,
    the partial tiles at both ends masked."""
    L = index_const(k.L)
    fa = arith.muli(arith.divui(arith.addi(a, index_const(k.L - 1)), L), L)  # a rounded up
    fb = arith.maxui(fa, arith.muli(arith.divui(b, L), L))  # b rounded down, at least fa
    wide = [
        {pos: [vector.broadcast(k.vtype, v) for v in ls] for pos, ls in f.items()} for f in fixed
    ]
    whole = scf.ForOp(fa, fb, L, states)
    with ir.InsertionPoint(whole.body):
        c = whole.induction_variable
        scf.YieldOp(_pairs(k, ve, rows, wide, c, list(whole.inner_iter_args)))
    # the partial tile below fa (when a is inside a tile and a < b), and the one at fb (< b)
    first_edge = arith.andi(_lt(a, fa), _lt(a, b))
    lo = arith.select(first_edge, index_const(0), index_const(1))
    hi = arith.select(_lt(fb, b), index_const(2), index_const(1))
    edges = scf.ForOp(lo, hi, index_const(1), list(whole.results))
    with ir.InsertionPoint(edges.body):
        is_first = arith.cmpi(arith.CmpIPredicate.eq, edges.induction_variable, index_const(0))
        c = arith.select(is_first, arith.subi(fa, L), fb)
        mask = _lane_mask(k, c, a, b, fa, fb)
        scf.YieldOp(_pairs(k, ve, rows, wide, c, list(edges.inner_iter_args), mask))
    return list(edges.results)


def _lane_mask(k, c, a, b, fa, fb):
    """Lanes j = c + [0, L) with a <= j < b outside the whole tiles [fa, fb)."""
    i64 = ir.IntegerType.get_signless(64)
    vtype = ir.VectorType.get([k.L], i64)

    def wide(v):
        return vector.broadcast(vtype, arith.index_cast(i64, v))

    steps = ir.DenseElementsAttr.get(np.arange(k.L, dtype=np.int64), type=vtype)
    j = arith.addi(wide(c), arith.constant(vtype, steps))
    sge, slt, cmp = arith.CmpIPredicate.sge, arith.CmpIPredicate.slt, arith.cmpi
    inside = arith.andi(cmp(sge, j, wide(a)), cmp(slt, j, wide(b)))
    outside_whole = arith.ori(cmp(slt, j, wide(fa)), cmp(sge, j, wide(fb)))
    return arith.andi(inside, outside_whole)


def _lt(x, y):
    return arith.cmpi(arith.CmpIPredicate.ult, x, y)


def _pairs(k, ve, rows, wide, c, states, mask=None) -> list:
    """The new vector states after the pairs (each row, the tile of L columns at c); the lanes
    off `mask` are kept out (lowering.formula.reduce_step)."""
    from ..tile_cpu import _column_loader, pairs_step
    from .wide_dot import wide_values

    loads = _column_loader(
        k.arrays, k.dims, k.L, lambda arr, i: vector.load(k.vtype, arr, [i]), True
    )
    given = [[v] for v in wide_values(ve, k.sums, k.arrays, rows, c, k.L, True)]
    carried = _per_row(k, ve, states)
    return pairs_step(k.old, ve, wide, loads, [(c, 0)], k.reds, k.ops, carried, given, mask)


def _per_row(k, e, flat) -> list:
    """Flat loop-carried lanes cut into [row][reduction] states."""
    from ..tile_cpu import _unflat

    return _unflat(flat, [k.init(e) for _ in range(k.R)])
