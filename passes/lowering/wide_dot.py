"""The register-blocked micro-kernel of keir-tile-cpu for long sums over the feature dimension.

A formula's SqDist(x, y), SqNorm2(x - y), Norm2(x - y) (its square root), Sum(Square(x - y)),
(x|y) or Sum(x * y) of a row variable x and a column variable y of dimension D >= WIDE is
computed for the R rows of a register block at once, by a loop over the components:

    acc[r][k % 4] += (x[r, k] - y[:, k])^2       (or x[r, k] * y[:, k]) for r < R

Each column component is loaded once for the R rows, x[r, k] is a broadcast load, and the
R x 4 accumulators stay in registers. Unrolled, the same formula held all D column components
and R x D broadcasts live at once: more than the 32 vector registers, so LLVM spilled them to
the stack and the loop ran on loads and stores (see keir-tile-cpu for the figures).

The arithmetic is the generic lowering's (dialect.ops.base.sum_lanes): the same terms,
component k into partial sum k % CHAINS, the first CHAINS terms starting the sums, the sums
added pairwise at the end. Each later term is added by an explicit multiply-add: left to
LLVM's contraction, which product of an add it fused depended on the surrounding code, so the
same sum rounded differently in two kernels (the screened search, lowering/screen.py,
recomputes it for candidates and must match). The generic lowering may still differ by the
rounding of one term. The exact form is kept: no |x|^2 + |y|^2 - 2 x.y (see keir-tile-cpu).
"""

from __future__ import annotations

from mlir import ir
from mlir.dialects import arith, memref, scf, vector

from ...dialect.kernel import formula_ops, int_attr
from ...dialect.ops.base import CHAINS, add_pairwise
from .formula import index_const, tile_offset

WIDE = 16  # shorter sums stay unrolled: their operands fit in registers


class WideSum:
    """One matched op: its result is sum_k term(x[k], y[k]) with x a row variable, y a column
    variable (argument positions), `square` for (x - y)^2 terms, else x * y; with `root`, the
    square root of that sum (Norm2)."""

    def __init__(self, op, x_pos, y_pos, dim, square: bool, x_first: bool, root: bool):
        self.op, self.x_pos, self.y_pos, self.dim = op, x_pos, y_pos, dim
        self.square, self.x_first, self.root = square, x_first, root


def find_wide_sums(func, out_cat: int) -> list[WideSum]:
    """The ops of `func`'s formula that the micro-kernel computes."""
    found = []
    for op in formula_ops(func):
        match = _match(op, out_cat)
        if match is not None:
            found.append(match)
    return found


def _kind(value) -> str:
    owner = value.owner
    return owner.name.removeprefix("keir.") if isinstance(owner, ir.OpView) else ""


def _match(op, out_cat: int) -> WideSum | None:
    kind = op.name.removeprefix("keir.")
    operands = list(op.operands)
    if kind == "sqdist":
        return _pair(op, operands, out_cat, square=True)
    if kind == "scalprod":
        return _pair(op, operands, out_cat, square=False)
    if kind in ("sqnorm2", "norm2") and _kind(operands[0]) == "subtract":  # (Sq)Norm2(x - y)
        # Norm2: the square root of the same sum, as its rule
        return _pair(op, list(operands[0].owner.operands), out_cat, True, kind == "norm2")
    if kind == "sum" and _kind(operands[0]) == "square":  # Sum(Square(x - y))
        inner = operands[0].owner.operands[0]
        if _kind(inner) == "subtract":
            return _pair(op, list(inner.owner.operands), out_cat, square=True)
    if kind == "sum" and _kind(operands[0]) == "mult":  # Sum(x * y)
        return _pair(op, list(operands[0].owner.operands), out_cat, square=False)
    return None


def _pair(op, operands, out_cat: int, square: bool, root: bool = False) -> WideSum | None:
    if len(operands) != 2 or not all(_kind(v) == "var" for v in operands):
        return None
    (cat_a, pos_a, dim_a), (cat_b, pos_b, dim_b) = (
        tuple(int_attr(v.owner, a) for a in ("cat", "pos", "dim")) for v in operands
    )
    if dim_a != dim_b or dim_a < WIDE or {cat_a, cat_b} != {out_cat, 1 - out_cat}:
        return None
    x_first = cat_a == out_cat
    x_pos, y_pos = (pos_a, pos_b) if x_first else (pos_b, pos_a)
    return WideSum(op, x_pos, y_pos, dim_a, square, x_first, root)


def wide_values(e, sums: list[WideSum], arrays, rows: list, column, L: int, vector_lanes: bool):
    """Per row of the block, {op result: [lanes]} of every matched op at `column` of the
    reduced index (with `vector_lanes`, the L columns from there; lowering.formula.tile_offset)."""
    given = [{} for _ in rows]
    for s in sums:
        y_base = tile_offset(column, s.dim, L, vector_lanes)
        for r, value in enumerate(_block_sums(e, s, arrays, rows, y_base, L)):
            given[r][s.op.result] = [e.sqrt(value) if s.root else value]
    return given


def _block_sums(e, s: WideSum, arrays, rows: list, y_base, L: int) -> list:
    D, R = s.dim, len(rows)
    x_rows = [arith.muli(r, index_const(D)) for r in rows]

    def terms(k):
        """The two factors of term(x[r, k], y[:, k]) for each row; k an index value."""
        offset = arith.addi(y_base, arith.muli(k, index_const(L)))
        if e.is_vector:
            y = vector.load(e.type, arrays[s.y_pos], [offset])
        else:
            y = memref.load(arrays[s.y_pos], [offset])
        out = []
        for x_row in x_rows:
            x = e.splat(memref.load(arrays[s.x_pos], [arith.addi(x_row, k)]))
            if s.square:  # y - x = -(x - y) exactly; x as the subtrahend becomes the
                d = e.sub(y, x)  # memory operand of the subtract (a broadcast load folded in)
                out.append((d, d))
            else:
                out.append((x, y) if s.x_first else (y, x))
        return out

    # the first CHAINS components start the partial sums (as sum_lanes: D >= WIDE >= 2 CHAINS)
    acc = [[None] * CHAINS for _ in range(R)]
    for k in range(CHAINS):
        for r, t in enumerate(terms(index_const(k))):
            acc[r][k] = e.mul(*t)
    whole = CHAINS + (D - CHAINS) // CHAINS * CHAINS
    loop = scf.ForOp(index_const(CHAINS), index_const(whole), index_const(CHAINS), _flat(acc))
    with ir.InsertionPoint(loop.body):
        carried = _unflat(list(loop.inner_iter_args), R)
        for j in range(CHAINS):
            k = arith.addi(loop.induction_variable, index_const(j))
            for r, t in enumerate(terms(k)):
                carried[r][j] = e.fma(*t, carried[r][j])
        scf.YieldOp(_flat(carried))
    acc = _unflat(list(loop.results), R)
    for k in range(whole, D):  # the last D % CHAINS components
        for r, t in enumerate(terms(index_const(k))):
            acc[r][k % CHAINS] = e.fma(*t, acc[r][k % CHAINS])
    return [add_pairwise(e, chains) for chains in acc]


def _flat(acc):
    return [v for chains in acc for v in chains]


def _unflat(values, R: int):
    return [values[r * CHAINS : (r + 1) * CHAINS] for r in range(R)]
