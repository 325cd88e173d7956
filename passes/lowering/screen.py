"""Screened nearest-neighbour search in keir-tile-cpu: a cheap lower bound of SqDist(x, y) first,
the exact distance only where that bound could change the state.

For a Min-like reduction (ReductionDef.threshold: KMin, ArgKMin, Min, ArgMin, ...) of exactly a
long SqDist(x, y) (passes/lowering/wide_dot.py), each row of a register block and each of
WIDTH column vectors first gets

    a = (1 - g) |x|^2 + ((1 - g) |y|^2 - mu) - 2 x.y

x.y by one multiply-add per component (x broadcast once for the WIDTH column vectors, each
column component loaded once for the R rows: the loop is bound by multiply-adds, not loads),
half the exact form's subtract + multiply-add. Only a row whose a is below its state's
threshold in some lane (or NaN) computes the exact distances of that vector, with the very
arithmetic of the unscreened kernel (wide_dot's explicit multiply-adds: the same bits), and
updates its state; the others skip it. a never exceeds the exact form's computed value, so a
skipped vector could not have changed the state: the results are those of the exact form, bit
for bit, including ties and NaN.

The bound, with u the unit roundoff, S = |x|^2 + |y|^2, d the true squared distance and E the
exact form's computed one (E >= d (1 - gamma_{D+3}): all its terms are >= 0): the dot product
is off by at most gamma_D sum |x_k y_k| <= gamma_D S / 2, the norms by gamma_{D+2} S, the two
roundings of a by u (1 + ...) S, and E's own error is gamma_{D+3} d <= 2 gamma_{D+3} S: at most
(4 D + 12) u S in all, and g = 8 (D + 4) u covers it, so a <= E. Underflow adds at most a few
D 2^-150 (float32) or D 2^-1075 (float64) absolutely: mu = (D + 4) times 2^10 of that. A norm
not below 2^100 (huge, inf or NaN) makes a NaN: every lane of its row or column is a
candidate, and nothing in a overflows.

The matrix-product form is only a filter here, never a result. Where it does not pay, the
chunk stops screening (Screen.next_tile): ArgKMin K = 10, D = 64, 10^4 points, 2 threads, G
pairs/s screened / unscreened (one process, one A/B run): uniform points 1.43 / 1.25, 10^5
points 2.15 / 1.35; a cluster far from the origin, where |x|^2 + |y|^2 - 2 x.y cancels and every
vector is a candidate, 1.07 / 1.25 (the probe blocks and the warm-up); K = 32 at 10^4 1.11 /
1.09. The machine's multiply-add rate bounds the screen at ~3.5 G pairs/s for D = 64.
"""

from __future__ import annotations

from mlir import ir
from mlir.dialects import arith, memref, scf, vector

from .formula import index_const, tile_offset

WIDTH = 2  # column vectors screened per step: one broadcast of x[r, k] serves WIDTH of them
WARM = 8  # columns per selected value (and lane) before screening starts (Screen.next_tile)
PAYS = 4  # screen while at most 1 in PAYS row steps has a candidate (Screen.next_tile)
BIG = 2.0**100  # norms at or above this make the bound NaN: every lane a candidate


def screened_sum(k, enabled: bool):
    """The WideSum of `k` (keir-tile-cpu's _Kernel) that is the whole formula of its one
    Min-like reduction, if the kernel can be screened; else None."""
    if not enabled or len(k.reds) != 1 or k.C != 1 or k.L < 2:
        return None
    red, shape, _ = k.reds[0]
    if red.threshold is None or shape.f != 1 or shape.g:
        return None
    formula = k.ops[0].operands[0]
    for s in k.sums:
        if s.op.result == formula and s.square and not s.root:
            return s
    return None


class Screen:
    """The norms and code of one kernel's screen: `rows` and `tile` fill the norm buffers (per
    chunk and per column tile), `step` screens WIDTH column vectors for a block."""

    def __init__(self, s, k):
        self.s, self.k = s, k
        f64 = isinstance(k.vtype.element_type, ir.F64Type)
        u, tiny = (2.0**-53, 2.0**-1074) if f64 else (2.0**-24, 2.0**-149)
        self.g = 8 * (s.dim + 4) * u
        self.mu = (s.dim + 4) * 2.0**10 * tiny
        elem = k.vtype.element_type
        # candidate rows and screened row steps of the chunk in this tile (next_tile)
        self.counts = memref.alloca(ir.MemRefType.get([2], ir.IndexType.get()), [], [])
        for i in range(2):
            memref.store(index_const(0), self.counts, [index_const(i)])
        self.x_norms = memref.alloca(ir.MemRefType.get([k.G * k.R], elem), [], [])
        self.y_norms = memref.alloca(ir.MemRefType.get([k.T], elem), [], [])

    def next_tile(self, t0):
        """(whether every block of the chunk screens the tile from column t0, whether its
        first block does, as a probe): not before WARM columns per selected value, while a new
        value still enters so often that the candidates' exact recomputation costs more than
        the screen saves (ArgKMin D = 64, 10^4 points, K = 32: 12 % slower screened from the
        start); then every block if at most one in PAYS of the row steps screened in the last
        tile had a candidate, else only the probe (a cluster far from the origin, where every
        vector is a candidate, ran 2x slower screened). Resets the counts."""
        red, shape, _ = self.k.reds[0]
        warm = WARM * self.k.L * (shape.k if red.uses_k else self.k.L)
        warm = arith.cmpi(arith.CmpIPredicate.uge, t0, index_const(warm))
        hits, seen = (memref.load(self.counts, [index_const(i)]) for i in range(2))
        pays = arith.cmpi(arith.CmpIPredicate.ule, arith.muli(hits, index_const(PAYS)), seen)
        for i in range(2):
            memref.store(index_const(0), self.counts, [index_const(i)])
        return arith.andi(pays, warm), warm

    def count_steps(self, columns) -> None:
        """Counts the row steps of a block screened over `columns` columns."""
        steps = arith.divui(columns, index_const(WIDTH * self.k.L))
        steps = arith.muli(steps, index_const(self.k.R))
        self._add(1, steps)

    def _add(self, i: int, n) -> None:
        at = [index_const(i)]
        memref.store(arith.addi(memref.load(self.counts, at), n), self.counts, at)

    def _norm(self, e, component, zero):
        """sum_k component(k)^2 on two chains."""
        D = self.s.dim
        loop = scf.ForOp(index_const(0), index_const(D // 2 * 2), index_const(2), [zero, zero])
        with ir.InsertionPoint(loop.body):
            m = loop.induction_variable
            v0, v1 = component(m), component(arith.addi(m, index_const(1)))
            even, odd = loop.inner_iter_args
            scf.YieldOp([e.fma(v0, v0, even), e.fma(v1, v1, odd)])
        even, odd = loop.results
        if D % 2:
            v = component(index_const(D - 1))
            even = e.fma(v, v, even)
        return arith.addf(even, odd)

    def _store_norm(self, e, norm, buffer, at, shift: float) -> None:
        """(1 - g) norm + shift, or NaN unless norm < 2^100 (also for inf and NaN norms)."""
        scaled = e.fma(norm, e.const(1.0 - self.g), e.const(shift))
        small = arith.cmpf(arith.CmpFPredicate.OLT, norm, e.const(BIG))
        value = arith.select(small, scaled, e.const(float("nan")))
        if e.is_vector:
            vector.store(value, buffer, [at])
        else:
            memref.store(value, buffer, [at])

    def rows(self, block, b0, rows) -> None:
        """(1 - g) |x|^2 of the rows of `block`, into the chunk's buffer."""
        se, k = self.k.se, self.k
        x = k.arrays[self.s.x_pos]
        for r, row in enumerate(rows):
            local = arith.addi(arith.muli(arith.subi(block, b0), index_const(k.R)), index_const(r))
            first = arith.muli(row, index_const(self.s.dim))
            norm = self._norm(
                se, lambda i, f=first: memref.load(x, [arith.addi(f, i)]), se.const(0.0)
            )
            self._store_norm(se, norm, self.x_norms, local, 0.0)

    def tile(self, ve, t0, t1) -> None:
        """(1 - g) |y|^2 - mu of the columns of the tile [t0, t1), into the tile's buffer."""
        k = self.k
        y = k.arrays[self.s.y_pos]
        each = scf.ForOp(t0, t1, index_const(k.L), [])
        with ir.InsertionPoint(each.body):
            c = each.induction_variable
            base = tile_offset(c, self.s.dim, k.L, True)

            def component(i):
                return vector.load(k.vtype, y, [arith.addi(base, arith.muli(i, index_const(k.L)))])

            norm = self._norm(ve, component, ve.const(0.0))
            self._store_norm(ve, norm, self.y_norms, arith.subi(c, t0), -self.mu)
            scf.YieldOp([])

    def step(self, ve, c, t0, block, b0, rows, states: list, exact_row) -> list:
        """New per-row states after the WIDTH column vectors from c: exact_row(r, column,
        state) only for a row and column vector where some lane's bound is below the
        threshold. A row's WIDTH column vectors are tested together first (one branch per
        row and step in the hot loop), then go through one loop, in order (indices only grow
        within a state). LLVM unrolls that loop, so it does not shrink the code: ArgKMin
        D = 64 compiled in 0.42 s with it or with the vectors written out (0.22 s
        unscreened; 0.52 s now that the kernel also holds the unscreened fallback)."""
        k = self.k
        columns = [arith.addi(c, index_const(w * k.L)) for w in range(WIDTH)]
        dots = self._dots(ve, columns, rows)  # [row][column]
        first_row = arith.muli(arith.subi(block, b0), index_const(k.R))
        ny = [vector.load(k.vtype, self.y_norms, [arith.subi(col, t0)]) for col in columns]
        new = []
        for r, state in enumerate(states):
            nx = ve.splat(memref.load(self.x_norms, [arith.addi(first_row, index_const(r))]))
            bounds = [ve.fma(d, ve.const(-2.0), arith.addf(nx, n)) for d, n in zip(dots[r], ny)]
            new.append(self._row(ve, c, bounds, state, lambda col, st, r=r: exact_row(r, col, st)))
        return new

    def _row(self, ve, c, bounds: list, state: list, exact) -> list:
        """One row's state after its WIDTH column vectors (bounds[w]: of the one from
        c + w L): skipped at once when no lane of any is a candidate."""
        red, shape, _ = self.k.reds[0]

        def candidates(bound, state):
            return arith.cmpf(arith.CmpFPredicate.ULT, bound, red.threshold(ve, state, shape))

        def each_column():
            loop = scf.ForOp(index_const(0), index_const(WIDTH), index_const(1), state)
            with ir.InsertionPoint(loop.body):
                w = loop.induction_variable
                bound = bounds[0]
                for j in range(1, WIDTH):
                    here = arith.cmpi(arith.CmpIPredicate.eq, w, index_const(j))
                    bound = arith.select(here, bounds[j], bound)
                col = arith.addi(c, arith.muli(w, index_const(self.k.L)))
                carried = list(loop.inner_iter_args)
                hit = candidates(bound, carried)
                scf.YieldOp(ve.when_any(hit, carried, lambda: exact(col, carried)))
            return list(loop.results)

        def counted():
            self._add(0, index_const(1))
            return each_column()

        first = [candidates(b, state) for b in bounds]
        anywhere = first[0]
        for other in first[1:]:
            anywhere = arith.ori(anywhere, other)
        return ve.when_any(anywhere, state, counted)

    def _dots(self, ve, columns, rows) -> list:
        """x_r . y for the block's rows and the column vectors from `columns`: one chain per
        (row, column vector), R x WIDTH of them (12 for 6 rows: enough multiply-adds in flight
        for two per cycle at a latency of 4)."""
        k, D = self.k, self.s.dim
        x, y = k.arrays[self.s.x_pos], k.arrays[self.s.y_pos]
        x_rows = [arith.muli(row, index_const(D)) for row in rows]
        y_bases = [tile_offset(col, D, k.L, True) for col in columns]
        zero = ve.const(0.0)
        loop = scf.ForOp(
            index_const(0), index_const(D), index_const(1), [zero] * (len(rows) * WIDTH)
        )
        with ir.InsertionPoint(loop.body):
            i = loop.induction_variable
            at = arith.muli(i, index_const(k.L))
            ys = [vector.load(k.vtype, y, [arith.addi(base, at)]) for base in y_bases]
            acc = list(loop.inner_iter_args)
            out = []
            for r, x_row in enumerate(x_rows):
                xr = ve.splat(memref.load(x, [arith.addi(x_row, i)]))
                out += [ve.fma(xr, yw, acc[r * WIDTH + w]) for w, yw in enumerate(ys)]
            scf.YieldOp(out)
        acc = list(loop.results)
        return [acc[r * WIDTH : (r + 1) * WIDTH] for r in range(len(rows))]
