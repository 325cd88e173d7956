"""keir-simplify: constant folding and algebraic identities that are exact in IEEE arithmetic.

    x * 1, 1 * x, x / 1     ->  x          x * -1, x / -1   ->  -x
    x - 0, x + (-0)         ->  x          x + 0            ->  x  when x is never -0 (Exp, ...)
    -(-x)                   ->  x          x - (-y)         ->  x + y
    x + (-y), (-y) + x      ->  x - y      (-x) * (-y)      ->  x * y
    Square(-x)              ->  Square(x)  Abs(-x)          ->  Abs(x)
    Pow(x, 1), Pow(x, 2), Pow(x, -1)  ->  x, Square(x), Inv(x)    Sum(x), x of dim 1  ->  x
    an op on constants      ->  its value (+ - * / neg, Square, Inv, Sqrt, Abs, comparisons)

Every rewrite gives the same bits for every input, inf, NaN and -0 included, so the pass is
safe in the default pipeline. Hence what it leaves alone: x * 0 (inf * 0 is NaN), x + 0 when x
may be -0 (-0 + 0 is +0), Exp(Log(x)) (Log's domain), Square(Sqrt(x)) and reassociation
(rounding), and constant transcendentals (the compiled Exp is a polynomial, not numpy's).
Constants are folded in the kernel's dtype with the ops' numpy rules, which round like the
compiled arithmetic; only results of dim 1 (a keir.cst) or all +0 (a Zero) are materialised.
Identities only apply when the kept operand has the result's dim (no broadcast is lost).
"""

from __future__ import annotations

import numpy as np
from mlir import ir
from mlir.rewrite import RewritePatternSet, apply_patterns_and_fold_greedily

from ..dialect.builders import OpFactory, dim_of
from ..dialect.kernel import dtype_of, float_attr, int_attr, kernel_funcs, param_values
from ..dialect.ops import BY_MNEMONIC
from .autodiff import erase_dead_ops

NAME = "keir-simplify"
DESCRIPTION = "fold constants and exact algebraic identities (x*1, -(-x), x-0, ...)"


def run_on(module_op) -> None:
    """The rules as MLIR rewrite patterns (one per op with a rule, plus constant folding),
    applied by MLIR's greedy driver; dead keir ops are erased after, since IRDL ops carry no
    purity trait the driver could use."""
    from mlir.rewrite import GreedyRewriteConfig, GreedySimplifyRegionLevel

    config = GreedyRewriteConfig()
    config.region_simplification_level = GreedySimplifyRegionLevel.DISABLED
    patterns = _patterns()
    for func in kernel_funcs(module_op):
        block = func.regions[0].blocks[0]
        erase_dead_ops(block)  # so that dead ops are not rewritten
        apply_patterns_and_fold_greedily(func, patterns, config)
        erase_dead_ops(block)


def _patterns():
    patterns = RewritePatternSet()
    for kind in sorted(set(_RULES) | {d.mnemonic for d in BY_MNEMONIC.values() if d.foldable}):
        patterns.add(f"keir.{kind}", _pattern(kind))
    return patterns.freeze()


def _pattern(kind: str):
    def rewrite(op, rewriter):
        with rewriter.ip, op.location:
            new = _fold(op, kind)
            if new is None:
                new = _identity(op, kind)
        if new is None:
            return True  # no match
        rewriter.replace_op(op, [new])
        return None

    return rewrite


def _factory(op) -> OpFactory:
    """Creates the replacement ops just before `op` (the rewriter's insertion point)."""
    elem = ir.VectorType(op.result.type).element_type
    return OpFactory(elem, ir.InsertionPoint(op), location=op.location)


# ------------------------------------------------------------------ constants
def constant(value) -> np.ndarray | None:
    """The lanes of a constant keir value in its dtype, as the lowering materialises them."""
    owner = value.owner
    if isinstance(owner, ir.Block):
        return None
    op = owner.operation
    kind = op.name.removeprefix("keir.")
    if kind == "cst":
        lanes = [float_attr(op, "value")]
    elif kind == "intcst":
        lanes = [float(int_attr(op, "value"))]
    elif kind in BY_MNEMONIC and BY_MNEMONIC[kind].arity == 0:  # Zero, RatCst, IntInv
        d = BY_MNEMONIC[kind]
        lanes = np.asarray(d.ref(**param_values(op, d.params)), np.float64).reshape(-1)
    else:
        return None
    return np.asarray(lanes, np.float64).astype(dtype_of(value))


def _fold(op, kind: str):
    if kind not in BY_MNEMONIC or not BY_MNEMONIC[kind].foldable:
        return None
    values = [constant(v) for v in op.operands]
    if any(v is None for v in values):
        return None
    with np.errstate(all="ignore"):
        out = BY_MNEMONIC[kind].ref(*(v.reshape(1, 1, -1) for v in values))
    out = np.asarray(out).astype(dtype_of(op.result)).reshape(-1)
    if out.size == 1:
        return _factory(op).cst(float(out[0]))
    if not np.any(out) and not np.any(np.signbit(out)):
        return _factory(op).op("Zero", [], {"n": out.size})
    return None


def _is(value, target: float) -> bool:
    """All lanes of a constant equal `target`, sign of zero included."""
    lanes = constant(value)
    if lanes is None:
        return False
    same_sign = np.signbit(lanes) == np.signbit(np.float64(target))
    return bool(np.all(lanes == target) and np.all(same_sign))


# ------------------------------------------------------------------ identities
def _negated(value):
    """x if value is keir.minus(x), else None."""
    owner = value.owner
    if isinstance(owner, ir.Block) or owner.operation.name != "keir.minus":
        return None
    return owner.operation.operands[0]


def _never_minus_zero(value) -> bool:
    owner = value.owner
    if isinstance(owner, ir.Block):
        return False
    d = BY_MNEMONIC.get(owner.operation.name.removeprefix("keir."))
    if d is not None and d.never_minus_zero:
        return True
    lanes = constant(value)
    return lanes is not None and not np.any((lanes == 0) & np.signbit(lanes))


def _identity(op, kind: str):
    rule = _RULES.get(kind)
    return rule(op, _factory(op), *op.operands) if rule else None


def _keep(op, value):
    """`value` in place of op's result, if no broadcast is lost."""
    return value if dim_of(value) == dim_of(op.result) else None


def _mult(op, f, a, b):
    for x, c in ((a, b), (b, a)):
        if _is(c, 1.0) and _keep(op, x) is not None:
            return x
        if _is(c, -1.0) and _keep(op, x) is not None:
            return f.op("Minus", [x])
    na, nb = _negated(a), _negated(b)
    if na is not None and nb is not None:
        return f.op("Mult", [na, nb])
    return None


def _divide(op, f, a, b):
    if _is(b, 1.0):
        return _keep(op, a)
    if _is(b, -1.0) and _keep(op, a) is not None:
        return f.op("Minus", [a])
    return None


def _add(op, f, a, b):
    for x, c in ((a, b), (b, a)):
        if (_is(c, -0.0) or _is(c, 0.0) and _never_minus_zero(x)) and _keep(op, x) is not None:
            return x
    if (nb := _negated(b)) is not None:
        return f.op("Subtract", [a, nb])
    if (na := _negated(a)) is not None:
        return f.op("Subtract", [b, na])
    return None


def _subtract(op, f, a, b):
    if _is(b, 0.0):
        return _keep(op, a)
    if (nb := _negated(b)) is not None:
        return f.op("Add", [a, nb])
    return None


def _unary_of_negated(name: str):
    def rule(op, f, a):
        x = _negated(a)
        if x is None:
            return None
        return x if name == "Minus" else f.op(name, [x])  # -(-x) is x

    return rule


def _pow(op, f, a):
    n = param_values(op, ("n",))["n"]
    if n == 1:
        return a
    if n == 2:
        return f.op("Square", [a])
    if n == -1:
        return f.op("Inv", [a])
    return None


def _sum(op, f, a):
    return a if dim_of(a) == 1 else None


_RULES = {
    "mult": _mult,
    "divide": _divide,
    "add": _add,
    "subtract": _subtract,
    "minus": _unary_of_negated("Minus"),
    "square": _unary_of_negated("Square"),
    "abs": _unary_of_negated("Abs"),
    "pow": _pow,
    "sum": _sum,
}
