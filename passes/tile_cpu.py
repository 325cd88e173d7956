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
4 x 1 when the reduced-index variables are wide (D >= 16: each column vector is then loaded
once for R rows; 6 x 1 with AVX-512's 32 registers) or the vectors are 64 bytes, 1 x 1
otherwise (_blocking). A long sum over the components of a row and a column
variable (SqDist, (x|y), ...) runs in a loop over the components with R x 4 partial sums in
registers (passes/wide_dot.py): unrolled, its D column vectors and R D row values did not fit
in the 32 vector registers and LLVM spilled them. Gaussian sum, D = 64, float32, M = N = 10^4,
2 threads, G pairs/s (`python benchmarks/table.py --cases gauss64 --sizes 10000`): unrolled
0.73, with the loop 1.75; float64 0.50 -> 0.8. Any R from 1 to 8 gave 1.8-1.9 in one A/B
run of the `rows` option, so R stays 4. The GEMM form |x|^2 + |y|^2 -
2 x.y would halve the arithmetic again, but it cancels catastrophically for points far from
the origin (float32 |x|^2 = 10^6 leaves d^2 wrong by ~0.1), so keir keeps the exact form;
rewriting the formula that way is the user's choice. For a Min-like search it is used as a
filter only, with a rigorous error margin (lowering/screen.py): ArgKMin K = 10, D = 64, 10^5
points, 1.35 -> 2.15 G pairs/s, results unchanged.
Reduced-index variables arrive in layout "tiles" (see keir.dialect.signature): tiles of L rows
stored component-major, so the vector loop reads one contiguous stream (component-major over
all n rows, it read D streams: 0.37 G pairs/s instead of 0.48, D = 64 unrolled, one thread);
the launcher lays them out (O(n D) work beside the O(M N) loop).
The kernel takes one more argument after M and N, `control` (int64[2], Signature.control):
control[0] != 0 asks it to stop (read with an atomic load before each tile of each chunk: the
remaining tiles are skipped, so a cancelled call returns within one tile), control[1] counts the
output rows of finished chunks (an atomic add per chunk): the launcher's Ctrl-C and progress.
Options: lanes, vector_bytes, rows, cols, block, tile, states, ranges, screen (OPTIONS).

Long (~450 lines) because it is one pass: its micro-kernel (lowering/wide_dot.py), lane
arithmetic and formula emission (lowering/) are already apart; what is left is the loop nest.
"""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
from mlir import ir
from mlir.dialects import arith, func, llvm, memref, scf, vector

from ..dialect.builders import BLOCK_SUM
from ..dialect.check import check_module
from ..dialect.kernel import find_reductions, int_attr, kernel_funcs, signature, states_signature
from ..errors import CompileError
from .lowering import screen
from .lowering.formula import (
    feeding_only,
    formula_ops,
    index_const,
    reduce_step,
    reductions_of,
    row_values,
    split_state,
    tile_offset,
)
from .lowering.lanes import LaneEmitter
from .lowering.wide_dot import find_wide_sums, wide_values
from .registry import Option

NAME = "keir-tile-cpu"
DESCRIPTION = "lower keir kernels to parallel rows with a vector<L> inner loop and a scalar tail"


OPTIONS = (
    Option("lanes", int, None, "vector width in elements (default: from vector_bytes)"),
    Option("vector_bytes", int, None, "vector register bytes (default: the host CPU's)"),
    Option("rows", int, None, "output rows per register block (default: 4 if D >= 16, else 1)"),
    Option("cols", int, None, "column vectors per register block (default: 1)"),
    Option("block", int, None, "output rows per parallel work item, at most (default: 8 R)"),
    Option("tile", int, None, "reduced indices per cache tile (default: 128 KiB of data)"),
    Option("states", bool, False, "store the raw reduction states, not finalised outputs"),
    Option("ranges", bool, False, "block-sparse: run a work list over listed reduced ranges"),
    Option("screen", bool, True, "screen Min-like searches of a long SqDist (exact results)"),
)


def run_on(
    module_op,
    lanes=None,
    vector_bytes=None,
    rows=None,
    cols=None,
    block=None,
    tile=None,
    states=False,
    ranges=False,
    screen=True,
):
    limits = {"lanes": 64, "rows": 64, "cols": 64, "block": 4096, "tile": 1 << 30}
    for name, value in zip(limits, (lanes, rows, cols, block, tile)):
        if value is not None and not 1 <= value <= limits[name]:
            raise CompileError(f"keir-tile-cpu: {name} must be in [1, {limits[name]}], got {value}")
    if vector_bytes not in (None, 16, 32, 64):
        raise CompileError(f"keir-tile-cpu: vector_bytes must be 16, 32 or 64, got {vector_bytes}")
    check_module(module_op)
    for old in kernel_funcs(module_op):
        with ir.InsertionPoint(old), old.location:
            L = lanes or _lanes(signature(old).dtype, vector_bytes)
            _lower_kernel(old, L, rows, cols, block, tile, states, ranges, screen)
        old.erase()


def _lanes(dtype: str, vector_bytes: int | None) -> int:
    from ..target import vector_bytes_or_host

    return vector_bytes_or_host(vector_bytes) // (8 if dtype == "float64" else 4)


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


def _blocking(
    sig, reds, rows: int | None, cols: int | None, vector_bytes: int = 32
) -> tuple[int, int]:
    """R output rows x C column vectors per step. A long dot product loads one column vector
    and one row value per multiply-add; a block reuses each load R or C times, so the loop is
    bound by arithmetic again. Short formulas: 1 x 1 with AVX2's 16 registers (arithmetic
    bound already, and exp's constants fill the rest); 4 x 1 with AVX-512's 32 registers,
    where a 64-byte load per column and component and row made the loop wait on the L1 and
    L2 caches (Gaussian D = 3, float32, 10^5, Sapphire Rapids, 2 threads: 6.1 G pairs/s at
    1 x 1, 8.0 at 2 x 1, 8.7 at 4 x 1, 8.3 at 8 x 1; LogSumExp 4.2 -> 5.1). Long dot products
    on AVX-512 take 6 rows (passes/wide_dot.py's R x 4 partial sums: 24 registers; Gaussian
    D = 64, 10^4, same machine: 1.07 at R = 4, 1.19-1.24 at 6, 1.22 at 7, 1.00 at 8; float64
    0.51 -> 0.57)."""
    wide = sum(d for c, d in zip(sig.arg_cats, sig.arg_dims) if c == 1 - sig.out_cat) >= 16
    R, C = (4, 1) if wide or vector_bytes >= 64 else (1, 1)
    if wide and vector_bytes >= 64:  # 6 x 4 partial sums and 4 column loads: 28 of 32 registers
        R = 6
    # registers the loop touches per state: a K-min list is touched only when a value enters
    # (rarely), its threshold every step
    hot = sum(shape.f if red.uses_k else 2 * shape.f for red, shape, _ in reds)
    while R * C * hot > STATE_REGISTERS and R * C > 1:
        R, C = (R, C // 2) if C > 1 else (R // 2, C)
    return rows or R, cols or C


# A column tile holds this many bytes of reduced-index data: it stays in the L1 cache (48 KiB
# on Golden Cove, 32 KiB on Zen) while every row block of a chunk sweeps it, instead of
# streaming all n columns per block. Measured (D = 64, float32, Sum, 2 threads, G pairs/s):
# 10^4: 0.83 tiled, 0.87 untiled; 10^5: 0.69 tiled, 0.48 untiled; ArgKMin K = 10: 10^5: 0.96
# tiled, 0.32 untiled (128 KiB tiles, Zen 4). Sapphire Rapids, 10^4: 1.03 at 128 KiB, 1.03 at
# 64, 1.10 at 32, 1.08 at 16. But each tile saves and restores the block's states: a tile
# spans at least TILE_PER_STATE times their bytes (when a K = 10 list took 21 vectors per row,
# ArgKMin D = 64 ran 1.05 at 128 KiB, 0.94 at 32 KiB; packed it is 3 vectors, and a large K
# still gets long tiles).
TILE_BYTES = 32 * 1024
TILE_PER_STATE = 16
# A chunk sweeps every column tile once for all its blocks: more blocks per chunk, fewer
# passes over the columns (from L2, L3 or memory when they do not fit). 10^5 points, float32,
# G pairs/s at 8 / 32 / 64 blocks (Sapphire Rapids, 2 threads): Gaussian D = 3 8.1 / 8.8 /
# 9.1, D = 64 0.85 / 1.17 / 1.19, ArgKMin K = 10 D = 3 16.3 / 18.2 / 19.0; 10^4 unchanged.
CHUNK_BLOCKS = 64  # register blocks per parallel work item (chunk), at most...
MIN_CHUNKS = 16  # ...but fewer when that would leave fewer chunks than this (threads idle)
# block_sum: terms per state lane summed before a merge into the running total (pykeops
# uses sqrt(N) per thread; ~sqrt of the terms per lane at N = 10^6)
BLOCK_TERMS = 256
STATE_BUFFER = 1 << 16  # elements of the per-chunk stack buffer of states, at most


def _lower_kernel(
    old,
    lanes,
    rows_per_block,
    cols_per_step,
    block=None,
    tile=None,
    states=False,
    ranges=False,
    screened=True,
) -> None:
    sig = signature(old)
    reds = reductions_of(sig)
    elem = ir.F64Type.get() if sig.dtype == "float64" else ir.F32Type.get()
    L = lanes
    vtype = ir.VectorType.get([L], elem)
    buf = ir.MemRefType.get([ir.ShapedType.get_dynamic_size()], elem)
    index = ir.IndexType.get()
    n_args, n_out = len(sig.arg_cats), len(sig.outputs)
    i64 = ir.IntegerType.get_signless(64)
    control = ir.MemRefType.get([2], i64)
    inputs = [buf] * (n_args + n_out) + [index] * 2 + [control]
    if ranges:  # the work list and the reduced ranges (keir.runtime.ranges)
        if states:
            raise CompileError("keir-tile-cpu: options states and ranges do not combine")
        inputs += [ir.MemRefType.get([ir.ShapedType.get_dynamic_size()], i64)] * 2
    new = func.FuncOp(sig.name, ir.FunctionType.get(inputs, []))
    tiled = replace(sig, layout="tiles", lanes=L, control=True, ranges=ranges)
    if states:  # partial results (keir.dask): each output holds its reduction's raw state
        tiled = states_signature(tiled)
    new.attributes["keir.signature"] = ir.StringAttr.get(json.dumps(tiled.to_json()))
    entry = new.add_entry_block()
    arrays, outs = list(entry.arguments[:n_args]), list(entry.arguments[n_args : n_args + n_out])
    sizes = {0: entry.arguments[n_args + n_out], 1: entry.arguments[n_args + n_out + 1]}
    item = 8 if sig.dtype == "float64" else 4
    R, C = _blocking(sig, reds, rows_per_block, cols_per_step, L * item)
    col_bytes = item * sum(d for c, d in zip(sig.arg_cats, sig.arg_dims) if c == 1 - sig.out_cat)
    state_lanes = R * C * L * sum(red.state_len(shape) for red, shape, _ in reds)
    tile_bytes = max(TILE_BYTES, TILE_PER_STATE * item * state_lanes)
    steps = -(-tile // (L * C)) if tile else tile_bytes // max(col_bytes, 1) // (L * C)
    block_sum = BLOCK_SUM in old.attributes
    if block_sum and not tile:
        steps = min(steps, BLOCK_TERMS)
    k = _Kernel(old, sig, arrays, outs, sizes[sig.out_cat], sizes[1 - sig.out_cat], reds)
    k.raw_states = states
    # sum_scheme="block_sum": each tile of T columns (TILE_BYTES of reduced-index data, and
    # at most BLOCK_TERMS terms per state lane) is summed from fresh states, then merged into
    # the running total
    k.block_sum = block_sum
    k.control = entry.arguments[n_args + n_out + 2]
    k.R, k.C, k.L, k.T, k.vtype = R, C, L, max(1, steps) * L * C, vtype
    # a Min-like search of SqDist alone: screened by a cheap lower bound (lowering/screen.py),
    # WIDTH column vectors per step
    k.screened = None if ranges else screen.screened_sum(k, screened)
    k.step = L * (screen.WIDTH if k.screened is not None else C)
    k.T = -(-k.T // k.step) * k.step
    if ranges:
        from .lowering.ranged import lower_ranged

        k.C = 1  # one column vector per step: the reduced ranges are short
        lower_ranged(k, entry, entry.arguments[-2], entry.arguments[-1])
        return
    with ir.InsertionPoint(entry):
        k.G = max(1, min(block // R if block else CHUNK_BLOCKS, STATE_BUFFER // state_lanes))
        blocks = _ceildiv(k.rows, R)
        per_chunk = arith.maxui(
            index_const(1),
            arith.minui(index_const(k.G), arith.divui(blocks, index_const(MIN_CHUNKS))),
        )
        par = scf.ParallelOp(
            [], [index_const(0)], [_ceildiv(blocks, per_chunk)], [index_const(1)], []
        )
        func.ReturnOp([])
    body = par.region.blocks.append(index)
    with ir.InsertionPoint(body):
        b0 = arith.muli(body.arguments[0], per_chunk)
        b1 = arith.minui(arith.addi(b0, per_chunk), blocks)
        k.vector_chunk(b0, b1)
        done = arith.index_cast(i64, arith.muli(arith.subi(b1, b0), index_const(R)))
        memref.atomic_rmw(arith.AtomicRMWKind.addi, done, k.control, [index_const(1)])
        scf.ReduceOp([], 0)


def _ceildiv(a, b):
    if not isinstance(b, ir.Value):
        b = index_const(b)
    return arith.divui(arith.addi(a, arith.subi(b, index_const(1))), b)


class _Kernel:
    """The pieces of one kernel's lowering, shared by its loops."""

    def __init__(self, old, sig, arrays, outs, rows, n, reds):
        self.old, self.sig, self.arrays, self.outs, self.rows, self.n = (
            old,
            sig,
            arrays,
            outs,
            rows,
            n,
        )
        self.reds, self.ops = reds, find_reductions(old)
        self.sums = find_wide_sums(old, sig.out_cat)  # computed by the micro-kernel
        # row variables and parameters the formula still reads beside the micro-kernel
        ops = formula_ops(old)
        unused = feeding_only(ops, {s.op.result for s in self.sums})
        self.row_positions = {
            int_attr(op, "pos") for op in ops if op.name == "keir.var" and op.result not in unused
        }
        self.dims = dict(enumerate(sig.arg_dims))
        elem = ir.F64Type.get() if sig.dtype == "float64" else ir.F32Type.get()
        self.se = LaneEmitter(elem)

    def init(self, e) -> list:
        return [red.init(e, shape) for red, shape, _ in self.reds]

    def unless_cancelled(self, b0, b1):
        """b1, or b0 once the launcher set control[0] (then a loop over [b0, b1) runs no
        block). An atomic load: a plain one could be hoisted out of the tile loop."""
        i64 = ir.IntegerType.get_signless(64)
        address = arith.index_cast(i64, memref.extract_aligned_pointer_as_index(self.control))
        pointer = llvm.inttoptr(llvm.PointerType.get(), address)
        monotonic = llvm.AtomicOrdering.monotonic  # a plain mov on x86
        flag = llvm.load(i64, pointer, alignment=8, ordering=monotonic)
        stop = arith.cmpi(arith.CmpIPredicate.ne, flag, arith.constant(i64, 0))
        return arith.select(stop, b0, b1)

    def block_row_indices(self, block) -> list:
        """The R rows of the block (clamped to the last row: _clamped_row)."""
        first = arith.muli(block, index_const(self.R))
        return [_clamped_row(first, k, self.rows) for k in range(self.R)]

    def block_rows(self, block):
        """(the rows of the block, per row {pos: scalar lanes of its variables})."""
        rows = self.block_row_indices(block)
        return rows, [row_values(self.sig, self.arrays, r, self.row_positions) for r in rows]

    def vector_chunk(self, b0, b1) -> None:
        """Blocks [b0, b1) of R rows: the vector loop tile by tile (the states wait in a stack
        buffer between tiles), then per block the merges, the scalar tail and the stores."""
        ve = VectorLanes(self.vtype)
        template = [self.init(ve)] * (self.R * self.C)  # per (row, column vector)
        S = len(_flat(template))
        store = memref.alloca(
            ir.MemRefType.get([self.G * S * self.L], self.vtype.element_type), [], []
        )
        step = self.step
        n_vec = arith.muli(arith.divui(self.n, index_const(step)), index_const(step))

        def at(block, s):
            base = arith.muli(arith.subi(block, b0), index_const(S * self.L))
            return arith.addi(base, index_const(s * self.L))

        def save(block, values):
            for s, v in enumerate(values):
                vector.store(v, store, [at(block, s)])

        def restore(block):
            return [vector.load(self.vtype, store, [at(block, s)]) for s in range(S)]

        screened = screen.Screen(self.screened, self) if self.screened is not None else None
        each = scf.ForOp(b0, b1, index_const(1), [])
        with ir.InsertionPoint(each.body):
            save(each.induction_variable, _flat(template))
            if screened is not None:
                block = each.induction_variable
                screened.rows(block, b0, self.block_row_indices(block))
            scf.YieldOp([])
        tiles = scf.ForOp(index_const(0), n_vec, index_const(self.T), [])
        with ir.InsertionPoint(tiles.body):
            t0 = tiles.induction_variable
            t1 = arith.minui(arith.addi(t0, index_const(self.T)), n_vec)
            if screened is not None:
                screened.tile(ve, t0, t1)
                screen_all, screen_first = screened.next_tile(t0)
            each = scf.ForOp(b0, self.unless_cancelled(b0, b1), index_const(1), [])
            with ir.InsertionPoint(each.body):
                block = each.induction_variable
                rows, fixed = self.block_rows(block)
                wide = [
                    {pos: [vector.broadcast(self.vtype, v) for v in ls] for pos, ls in f.items()}
                    for f in fixed
                ]
                total = restore(block)
                start = self.tile_start(template, total) if self.block_sum else total
                if screened is None:
                    tile = self.column_loop(ve, t0, t1, start, template, rows, wide)
                else:  # screened while it pays: always for the chunk's first block (a probe)
                    probe = arith.andi(screen_first, arith.cmpi(arith.CmpIPredicate.eq, block, b0))
                    use = scf.IfOp(
                        arith.ori(screen_all, probe), [v.type for v in start], has_else=True
                    )
                    with ir.InsertionPoint(use.then_block):
                        exact = self.exact_row(ve, rows, wide)

                        def screened_step(c, carried, exact=exact, block=block, rows=rows):
                            states = [s[0] for s in carried]
                            new = screened.step(ve, c, t0, block, b0, rows, states, exact)
                            scf.YieldOp([lane for state in new for lane in state])

                        results = self._loop(t0, t1, start, template, screened_step, screen.WIDTH)
                        screened.count_steps(arith.subi(t1, t0))
                        scf.YieldOp(results)
                    with ir.InsertionPoint(use.else_block):
                        scf.YieldOp(self.column_loop(ve, t0, t1, start, template, rows, wide))
                    tile = list(use.results)
                if self.block_sum:
                    tile = self.merge_tile(ve, template, total, tile)
                save(block, tile)
                scf.YieldOp([])
            scf.YieldOp([])
        each = scf.ForOp(b0, b1, index_const(1), [])
        with ir.InsertionPoint(each.body):
            block = each.induction_variable
            rows, fixed = self.block_rows(block)
            results = _unflat(restore(block), template)
            merged = []
            for r in range(self.R):
                per_column = results[r * self.C : (r + 1) * self.C]
                row = []
                for j, (red, shape, _) in enumerate(self.reds):
                    row.append(_merge_columns(ve, self.se, red, shape, per_column, j, self.L))
                merged.append(row)
            self.finish(rows, fixed, n_vec, merged)
            scf.YieldOp([])

    def _loop(self, t0, t1, start, like, body, width: int) -> list:
        """A loop over the column vectors of [t0, t1), `width` at a time, carrying the block's
        states (flat, shaped `like`): body(c, states) yields the new ones."""
        loop = scf.ForOp(t0, t1, index_const(width * self.L), start)
        with ir.InsertionPoint(loop.body):
            body(loop.induction_variable, _unflat(loop.inner_iter_args, like))
        return list(loop.results)

    def column_loop(self, ve, t0, t1, start, like, rows, wide) -> list:
        """The block's states after the columns [t0, t1), evaluated pair by pair."""

        def body(c, carried):
            self.column_step(ve, c, rows, wide, carried)

        return self._loop(t0, t1, start, like, body, self.C)

    def column_loads(self):
        return _column_loader(
            self.arrays, self.dims, self.L, lambda a, i: vector.load(self.vtype, a, [i]), True
        )

    def column_step(self, ve, c, rows, wide, carried) -> None:
        """The R x C pairs of the block's rows and the column vectors from c, yielded."""
        columns = [(arith.addi(c, index_const(cc * self.L)), cc) for cc in range(self.C)]
        given = [
            wide_values(ve, self.sums, self.arrays, rows, column, self.L, True)
            for column, _ in columns
        ]  # [column][row]
        given = [list(per_row) for per_row in zip(*given)]  # [row][column]
        loads = self.column_loads()
        _step(self.old, ve, wide, loads, columns, self.reds, self.ops, carried, given)

    def exact_row(self, ve, rows, wide):
        """(r, c, state) -> the state of row r after the column vector at c, computed as
        column_step does (for the screen's candidates: the same arithmetic, so the same bits)."""

        def update(r, c, state):
            given = wide_values(ve, [self.screened], self.arrays, [rows[r]], c, self.L, True)
            loads = self.column_loads()
            return pairs_step(
                self.old, ve, [wide[r]], loads, [(c, 0)], self.reds, self.ops, [[state]], [given]
            )

        return update

    def tile_start(self, like, total: list) -> list:
        """block_sum: the states a tile starts from (flat, shaped `like`): fresh ones for the
        reductions of lane states, merged into the running total after the tile; a state that
        is not lane states (a packed K-min list, beside a blocked Sum in a fused kernel) just
        carries on: it gains nothing from blocks and has no vector merge."""
        return _flat(
            [
                [t if red.lanes_to_scalar else f for (red, _, _), f, t in zip(self.reds, fs, ts)]
                for fs, ts in zip(like, _unflat(total, like))
            ]
        )

    def merge_tile(self, ve, like, total: list, tile: list) -> list:
        """block_sum: the states of one tile (flat, per row and column vector, shaped `like`)
        merged into the running ones (tile_start: a carried state is the tile's)."""
        merged = [
            [
                b if red.lanes_to_scalar else red.merge(ve, a, b, shape)
                for (red, shape, _), a, b in zip(self.reds, ta, tb)
            ]
            for ta, tb in zip(_unflat(total, like), _unflat(tile, like))
        ]
        return _flat(merged)

    def finish(self, rows, fixed, start, merged) -> None:
        """The scalar loop over [start, n) from the per-row states `merged`, then the stores of
        the rows of the block that exist."""
        se = self.se
        tail = scf.ForOp(start, self.n, index_const(1), _flat(merged))
        with ir.InsertionPoint(tail.body):
            c = tail.induction_variable
            loads = _column_loader(
                self.arrays, self.dims, self.L, lambda a, i: memref.load(a, [i]), False
            )
            states = _unflat(tail.inner_iter_args, merged)
            given = [[v] for v in wide_values(se, self.sums, self.arrays, rows, c, self.L, False)]
            _step(self.old, se, fixed, loads, [(c, 0)], self.reds, self.ops, states, given)
        for r, states in enumerate(_unflat(tail.results, merged)):
            row = arith.addi(rows[0], index_const(r)) if r else rows[0]
            if self.R == 1:
                _store(self.reds, states, self.outs, se, row, self.raw_states)
                continue
            guard = scf.IfOp(arith.cmpi(arith.CmpIPredicate.ult, row, self.rows))
            with ir.InsertionPoint(guard.then_block):
                _store(self.reds, states, self.outs, se, row, self.raw_states)
                scf.YieldOp([])


def _clamped_row(first, k: int, rows):
    """Row first + k of a block, clamped to the last row: the last block of rows may be partial;
    its missing rows recompute the last row and their results are not stored."""
    if k == 0:
        return first
    last = arith.subi(rows, index_const(1))
    return arith.minui(arith.addi(first, index_const(k)), last)


def _store(reds, states, outs, se, r, raw: bool = False) -> None:
    for (red, shape, spec), state, out in zip(reds, states, outs):
        lanes = state if raw else red.finalize(se, state, shape)
        width = len(lanes) if raw else spec.out_dim
        for k, lane in enumerate(lanes):
            offset = arith.addi(arith.muli(r, index_const(width)), index_const(k))
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


def _column_loader(arrays, dims: dict, L: int, load_one, vector_lanes: bool):
    """Lanes of a reduced-index variable at column c, loaded once per (variable, column) and
    shared by every row of the block. Layout "tiles": columns come in tiles of L, each tile
    stored component-major (lowering.formula.tile_offset), so a vector loop reads one contiguous
    stream."""
    cache = {}

    def load(pos, c, key):
        if (pos, key) not in cache:
            dim = dims[pos]
            base = tile_offset(c, dim, L, vector_lanes)
            cache[pos, key] = [
                load_one(arrays[pos], arith.addi(base, index_const(k * L))) for k in range(dim)
            ]
        return cache[pos, key]

    return load


def _step(old, e, fixed, loads, columns, reds, ops, states, given=None) -> None:
    """Folds the pairs (row k, column c) into states[k * len(columns) + cc] and yields them;
    given[k][cc] holds op values the micro-kernel computed for that pair."""
    scf.YieldOp(pairs_step(old, e, fixed, loads, columns, reds, ops, states, given))


def pairs_step(old, e, fixed, loads, columns, reds, ops, states, given=None, mask=None) -> list:
    """The flat new state lanes of _step, not yielded; `mask`: lanes kept out (reduce_step)."""
    new = []
    for k, row in enumerate(fixed):
        for (c, key), state in zip(columns, states[k * len(columns) : (k + 1) * len(columns)]):

            def load(cat, pos, dim, c=c, key=key, row=row):
                return row[pos] if pos in row else loads(pos, c, key)

            pair = given[k][key] if given else None
            new += reduce_step(old, e, load, e.index_to_lane(c), reds, ops, state, pair, mask)
    return new


def _merge_columns(ve, se, red, shape, per_column: list, j: int, L: int) -> list:
    """The scalar state of reduction j of one row from its C column vectors' states: merged as
    vectors, then lane by lane; or, when a vector state is not lane states (lanes_to_scalar),
    each read out first and merged as scalars."""
    if red.lanes_to_scalar is not None:
        states = [_merge_lanes(se, red, shape, column[j], L) for column in per_column]
        state = states[0]
        for other in states[1:]:
            state = red.merge(se, state, other, shape)
        return state
    state = per_column[0][j]
    for other in per_column[1:]:
        state = red.merge(ve, state, other[j], shape)
    return _merge_lanes(se, red, shape, state, L)


def _merge_lanes(se, red, shape, state: list, L: int) -> list:
    """One scalar state from the L lanes of a vector state: the vectors go to a stack buffer
    and a loop merges lane after lane, so the merge's code appears once (not L times); a
    state not made of lane states (ReductionDef.lanes_to_scalar) is read out of its lanes."""
    if red.lanes_to_scalar is not None:
        return red.lanes_to_scalar(VectorLanes(state[0].type), state, shape)
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
