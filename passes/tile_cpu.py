"""keir-tile-cpu: keir kernels become OpenMP-parallel row blocks with a vectorised inner loop.

    func @k(args..., outs..., M: index, N: index)
      scf.parallel over blocks of R output rows            # one OpenMP work item per block
        row variables and parameters: loaded once, broadcast to vector lanes
        states = init, one per (row, column vector): R x C of them, in registers
        scf.for c in [0, n - n % (C L)) step C L            # C vectors of L reduced indices
          column variables: one contiguous vector load per component, shared by the R rows
          evaluate the formula on vector lanes for each (row, column vector); update its state
        per row: merge the C states, then the L lanes of each (ties go to the smaller index)
        scf.for c in [n - n % (C L), n)                     # exact scalar tail
          the same formula on scalar lanes; state = update(state, F, c)
        outs[r, :] = finalize(state) for the rows of the block that exist

L is the register width (16 x f32 on AVX-512, from the host CPU). R x C is the register block:
4 x 1 when the reduced-index variables are wide (D >= 16: each multiply-add of a long dot
product then reuses a loaded column vector R times), 1 x 1 otherwise. Measured at D = 64,
float32, one thread, G pairs/s: Sum 1 x 1 0.33, 4 x 1 0.48, 8 x 1 0.47, 4 x 2 0.41; ArgKMin
(K = 10) 1 x 1 0.31, 4 x 1 0.50. The GEMM form |x|^2 + |y|^2 - 2 x.y measured no faster
(0.39-0.48: the loop is bound by loads, not arithmetic) and loses accuracy when x ~ y, so
keir does not use it.
Reduced-index variables arrive in layout "tiles" (see keir.dialect.signature): tiles of L rows
stored component-major, so the vector loop reads one contiguous stream (component-major over
all n rows, it read D streams: 0.37 G pairs/s instead of 0.48 above); the launcher lays them
out (O(n D) work beside the O(M N) loop). Options: lanes=L, rows=R, cols=C override the defaults.
"""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
from mlir import ir
from mlir.dialects import arith, func, memref, scf, vector

from ..dialect.check import check_module
from ..dialect.kernel import find_reductions, kernel_funcs, signature
from ..errors import CompileError
from .emitter import LaneEmitter
from .formula_emit import index_const, reduce_step, reductions_of, row_values, split_state
from .registry import Option
from .target import lanes as host_lanes

NAME = "keir-tile-cpu"
DESCRIPTION = "lower keir kernels to parallel rows with a vector<L> inner loop and a scalar tail"


OPTIONS = (
    Option("lanes", int, None, "vector width (default: the host's register width)"),
    Option("rows", int, None, "output rows per register block (default: 4 if D >= 16, else 1)"),
    Option("cols", int, None, "column vectors per register block (default: 1)"),
)


def run_on(module_op, lanes: int | None = None, rows: int | None = None, cols: int | None = None):
    for name, value in (("lanes", lanes), ("rows", rows), ("cols", cols)):
        if value is not None and not 1 <= value <= 64:
            raise CompileError(f"keir-tile-cpu: {name} must be in [1, 64], got {value}")
    check_module(module_op)
    for old in kernel_funcs(module_op):
        with ir.InsertionPoint(old), old.location:
            _lower_kernel(old, lanes, rows, cols)
        old.erase()


class VectorLanes(LaneEmitter):
    """Lanes of L consecutive reduced indices: an index lane is c + [0, 1, .., L-1]."""

    def index_to_lane(self, index):
        elem = self.type.element_type
        base = arith.sitofp(elem, arith.index_cast(ir.IntegerType.get_signless(64), index))
        dtype = np.float64 if isinstance(elem, ir.F64Type) else np.float32
        steps = ir.DenseElementsAttr.get(np.arange(self.type.shape[0], dtype=dtype), type=self.type)
        return arith.addf(vector.broadcast(self.type, base), arith.constant(self.type, steps))


# Live vector registers the R x C block of states may take (x86-64 has 16 or 32).
STATE_REGISTERS = 16


def _blocking(sig, reds, rows: int | None, cols: int | None) -> tuple[int, int]:
    """R output rows x C column vectors per step. A long dot product loads one column vector
    and one row value per multiply-add; a block reuses each load R or C times, so the loop is
    bound by arithmetic again. Short formulas are bound by arithmetic already: 1 x 1."""
    wide = sum(d for c, d in zip(sig.arg_cats, sig.arg_dims) if c == 1 - sig.out_cat) >= 16
    R, C = (4, 1) if wide else (1, 1)
    # registers the loop touches per state: a K-min list is touched only when a value enters
    # (rarely), its threshold every step
    hot = sum(shape.f if red.uses_k else 2 * shape.f for red, shape, _ in reds)
    while R * C * hot > STATE_REGISTERS and R * C > 1:
        R, C = (R, C // 2) if C > 1 else (R // 2, C)
    return rows or R, cols or C


def _lower_kernel(old, lanes, rows_per_block, cols_per_step) -> None:
    sig = signature(old)
    elem = ir.F64Type.get() if sig.dtype == "float64" else ir.F32Type.get()
    L = lanes or host_lanes(64 if sig.dtype == "float64" else 32)
    vtype = ir.VectorType.get([L], elem)
    buf = ir.MemRefType.get([ir.ShapedType.get_dynamic_size()], elem)
    index = ir.IndexType.get()
    n_args, n_out = len(sig.arg_cats), len(sig.outputs)
    new = func.FuncOp(sig.name, ir.FunctionType.get([buf] * (n_args + n_out) + [index] * 2, []))
    tiled = replace(sig, layout="tiles", lanes=L)
    new.attributes["keir.signature"] = ir.StringAttr.get(json.dumps(tiled.to_json()))
    entry = new.add_entry_block()
    dims = dict(enumerate(sig.arg_dims))
    arrays, outs = list(entry.arguments[:n_args]), list(entry.arguments[n_args : n_args + n_out])
    sizes = {0: entry.arguments[n_args + n_out], 1: entry.arguments[n_args + n_out + 1]}
    rows, n = sizes[sig.out_cat], sizes[1 - sig.out_cat]
    se = LaneEmitter(elem)
    reds = reductions_of(sig)
    R, C = _blocking(sig, reds, rows_per_block, cols_per_step)
    ops = find_reductions(old)
    with ir.InsertionPoint(entry):
        blocks = arith.divui(arith.addi(rows, index_const(R - 1)), index_const(R))
        par = scf.ParallelOp([], [index_const(0)], [blocks], [index_const(1)], [])
        func.ReturnOp([])
    body = par.region.blocks.append(index)
    with ir.InsertionPoint(body):
        first = arith.muli(body.arguments[0], index_const(R))
        block_rows = [_clamped_row(first, k, rows) for k in range(R)]
        fixed = [row_values(sig, arrays, r) for r in block_rows]  # per row {pos: lanes}
        if _merge_cost(reds) * L <= MERGE_BUDGET:
            n_vec, merged = _vector_loop(old, fixed, arrays, dims, n, L * C, vtype, reds, ops)
        else:  # a big K-min state: merging L lanes would dwarf the loop; stay scalar
            n_vec = index_const(0)
            merged = [[red.init(se, shape) for red, shape, _ in reds] for _ in range(R)]
        tail = scf.ForOp(n_vec, n, index_const(1), _flat(merged))
        with ir.InsertionPoint(tail.body):
            c = tail.induction_variable
            loads = _column_loader(arrays, dims, L, lambda a, i: memref.load(a, [i]), False)
            _step(old, se, fixed, loads, [(c, 0)], reds, ops, _unflat(tail.inner_iter_args, merged))
        for k, states in enumerate(_unflat(tail.results, merged)):
            if R == 1:
                _store(reds, states, outs, se, block_rows[k])
                continue
            inside = arith.cmpi(arith.CmpIPredicate.ult, arith.addi(first, index_const(k)), rows)
            guard = scf.IfOp(inside)
            with ir.InsertionPoint(guard.then_block):
                _store(reds, states, outs, se, block_rows[k])
                scf.YieldOp([])
        scf.ReduceOp([], 0)


def _clamped_row(first, k: int, rows):
    """Row first + k of a block, clamped to the last row: the last block of rows may be partial;
    its missing rows recompute the last row and their results are not stored."""
    if k == 0:
        return first
    last = arith.subi(rows, index_const(1))
    return arith.minui(arith.addi(first, index_const(k)), last)


def _store(reds, states, outs, se, r) -> None:
    for (red, shape, spec), state, out in zip(reds, states, outs):
        for k, lane in enumerate(red.finalize(se, state, shape)):
            offset = arith.addi(arith.muli(r, index_const(spec.out_dim)), index_const(k))
            memref.store(lane, out, [offset])


def _flat(per_row: list[list[list]]) -> list:
    return [lane for states in per_row for state in states for lane in state]


def _unflat(lanes, like: list[list[list]]) -> list[list[list]]:
    """Cuts loop-carried lanes back into per-row lists of per-reduction states."""
    lanes, out, start = list(lanes), [], 0
    for states in like:
        size = sum(len(s) for s in states)
        out.append(split_state(lanes[start : start + size], states))
        start += size
    return out


def _vector_loop(old, fixed, arrays, dims, n, step, vtype, reds, ops):
    """The vector loop over [0, n - n % step) and the merge of its lanes: (its end, states per
    row). A step covers C = step / L column vectors; each has its own states, merged at the end."""
    L = vtype.shape[0]
    ve, se = VectorLanes(vtype), LaneEmitter(vtype.element_type)
    wide = [{pos: [vector.broadcast(vtype, v) for v in ls] for pos, ls in f.items()} for f in fixed]
    n_vec = arith.muli(arith.divui(n, index_const(step)), index_const(step))
    init = [red.init(ve, shape) for red, shape, _ in reds]
    states = [[init] * (step // L) for _ in fixed]  # per row, per column vector
    vloop = scf.ForOp(index_const(0), n_vec, index_const(step), _flat(sum(states, [])))
    with ir.InsertionPoint(vloop.body):
        c = vloop.induction_variable
        loads = _column_loader(arrays, dims, L, lambda a, i: vector.load(vtype, a, [i]), True)
        columns = [(arith.addi(c, index_const(cc * L)), cc) for cc in range(step // L)]
        carried = _unflat(vloop.inner_iter_args, sum(states, []))
        _step(old, ve, wide, loads, columns, reds, ops, carried)
    results = _unflat(vloop.results, sum(states, []))
    merged = []
    for k in range(len(fixed)):
        per_column = results[k * (step // L) : (k + 1) * (step // L)]
        row = []
        for j, (red, shape, _) in enumerate(reds):
            state = per_column[0][j]
            for other in per_column[1:]:
                state = red.merge(ve, state, other[j], shape)
            row.append(_merge_lanes(se, red, shape, state, L))
        merged.append(row)
    return n_vec, merged


# Selects run by one lane merge, summed over the reductions: K-min merges cost K*K*D; beyond
# this budget (times L lanes, per output row) the kernel stays scalar.
MERGE_BUDGET = 4096


def _merge_cost(reds) -> int:
    return sum(shape.k * shape.k * shape.f if red.uses_k else 1 for red, shape, _ in reds)


def _column_loader(arrays, dims: dict, L: int, load_one, vector_lanes: bool):
    """Lanes of a reduced-index variable at column c, loaded once per (variable, column) and
    shared by every row of the block. Layout "tiles": columns come in tiles of L, each tile
    stored component-major, so component k of column c = t L + l is at t L D + k L + l and a
    vector loop reads one contiguous stream."""
    cache = {}

    def load(pos, c, key):
        if (pos, key) not in cache:
            dim = dims[pos]
            if vector_lanes:  # c = t L
                base = arith.muli(c, index_const(dim))
            else:
                lane = arith.remui(c, index_const(L))
                base = arith.addi(arith.muli(arith.subi(c, lane), index_const(dim)), lane)
            cache[pos, key] = [
                load_one(arrays[pos], arith.addi(base, index_const(k * L))) for k in range(dim)
            ]
        return cache[pos, key]

    return load


def _step(old, e, fixed, loads, columns, reds, ops, states) -> None:
    """Folds the pairs (row k, column c) into states[k * len(columns) + cc] and yields them."""
    new = []
    for k, row in enumerate(fixed):
        for (c, key), state in zip(columns, states[k * len(columns) : (k + 1) * len(columns)]):

            def load(cat, pos, dim, c=c, key=key, row=row):
                return row[pos] if pos in row else loads(pos, c, key)

            new += reduce_step(old, e, load, e.index_to_lane(c), reds, ops, state)
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
