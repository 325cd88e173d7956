"""What a formula operation is: `OpDef`, the dimension rules, element-wise families, registry.

An `OpDef` holds everything keir knows about one KeOps operation: its spelling, arity, integer
parameters, dimension rule, numpy reference semantics (the test oracle), its lowering to lane
arithmetic, a one-line meaning and an example. The lowering only calls methods of an *emitter*
(keir.passes.lowering.lanes.LaneEmitter), so the dialect never imports the passes and the same rule
serves scalar lanes and vector lanes.

Values are vectors of `dim` components; in element-wise operations an operand of dimension 1
broadcasts against any other dimension, as in KeOps.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np


class DimRuleError(ValueError):
    """Raised by a dimension rule; the builder adds the op name and formula position."""


@dataclass(frozen=True)
class OpDef:
    name: str  # KeOps spelling, e.g. "SqDist"
    arity: int  # number of formula operands
    dim: Callable[..., int]  # (operand dims..., **params) -> result dim; raises DimRuleError
    ref: Callable[..., np.ndarray]  # numpy arrays with components on the last axis
    lower: Callable[..., list]  # (emitter, operand lane lists..., **params) -> lane list
    doc: str  # meaning, one line
    example: str  # a formula over the standard test variables (see tests/formulas.py)
    params: tuple[str, ...] = field(default=())  # integer parameters after the operands
    tuple_params: frozenset[str] = field(default=frozenset())  # those that are int tuples
    defaults: dict = field(default_factory=dict)  # optional trailing parameters
    dim_rule: str = ""  # the dimension rule in words, for docs/formulas.md
    # Reverse-mode rule: (b, g, out, *operands, **params) -> one adjoint (or None: zero) per
    # operand, as keir.dialect.symbolic.Sym values; None here: not differentiable.
    vjp: Callable[..., list] | None = None
    # Correctly rounded in IEEE arithmetic: numpy and the compiled code agree bit for bit, so
    # keir-simplify may fold it on constants.
    foldable: bool = False
    # Its result is never -0, so x + 0 == x for it (keir-simplify).
    never_minus_zero: bool = False
    # How it treats the interleaved (re, im) pairs of complex values (LazyTensor's checks):
    # "" real only; "safe" means the same on pairs as on complex numbers; "complex" a complex
    # op; "to_complex" / "to_real" turn reals into complex numbers or complex into reals.
    complex: str = ""

    @property
    def mnemonic(self) -> str:
        return self.name.lower()


OPS: dict[str, OpDef] = {}


def register(*defs: OpDef) -> None:
    for d in defs:
        if d.name in OPS:
            raise ValueError(f"operation {d.name} is defined twice")
        OPS[d.name] = d


def set_properties(names: str, **fields) -> None:
    """Sets properties (foldable, never_minus_zero, complex) of ops registered above."""
    for name in names.split():
        OPS[name] = replace(OPS[name], **fields)


def attach_vjps(rules: dict) -> None:
    """Sets the derivative rules of ops registered above in the same module."""
    for name, rule in rules.items():
        OPS[name] = replace(OPS[name], vjp=rule)


# ---------------------------------------------------------------- dimension rules
def broadcast_dims(*dims: int, **_) -> int:
    """Equal dims, or dims {1, d}: the dim-1 operands broadcast."""
    big = {d for d in dims if d != 1}
    if len(big) > 1:
        shown = " and ".join(str(d) for d in dims)
        raise DimRuleError(f"dimensions {shown} differ and are not 1")
    return big.pop() if big else 1


def equal_dims_to_scalar(a: int, b: int, **_) -> int:
    if a != b:
        raise DimRuleError(f"expected operands of equal dimension, got {a} and {b}")
    return 1


def to_scalar(*dims: int, **_) -> int:
    return 1


def broadcast_to_scalar(*dims: int, **_) -> int:
    broadcast_dims(*dims)
    return 1


def require(condition: bool, message: str) -> None:
    if not condition:
        raise DimRuleError(message)


# ---------------------------------------------------------------- lane helpers
def broadcast_lanes(*lanes: list) -> list[list]:
    """Repeats one-component operands to the common length (KeOps broadcasting)."""
    n = max(len(x) for x in lanes)
    return [x * n if len(x) == 1 else x for x in lanes]


CHAINS = 4  # independent partial sums for long sums


def sum_lanes(e, lanes: list, term=None):
    """The sum of term(lane) over `lanes` (term defaults to the lane itself).

    One chain of D dependent adds (FMAs after contraction) costs D latencies per pair; from
    D = 8 on, CHAINS interleaved chains added at the end let the CPU overlap them (numpy sums
    the same way).
    """
    term = term or (lambda lane: lane)
    n_chains = CHAINS if len(lanes) >= 2 * CHAINS else 1
    chains = [term(lane) for lane in lanes[:n_chains]]
    for k, lane in enumerate(lanes[n_chains:]):
        chains[k % n_chains] = e.add(chains[k % n_chains], term(lane))
    return add_pairwise(e, chains)


def add_pairwise(e, chains: list):
    """((c0 + c1) + (c2 + c3)) ...: how sum_lanes joins its partial sums."""
    while len(chains) > 1:
        chains = [e.add(a, b) for a, b in zip(chains[::2], chains[1::2])] + chains[
            len(chains) & ~1 :
        ]
    return chains[0]


def ref_sum(x: np.ndarray) -> np.ndarray:
    return x.sum(-1, keepdims=True)


# ---------------------------------------------------------------- element-wise family
def elementwise(
    name: str,
    arity: int,
    ref: Callable,
    scalar: Callable,
    doc: str,
    example: str,
    params: tuple[str, ...] = (),
    vjp: Callable | None = None,
) -> OpDef:
    """An op applied component by component; dim-1 operands broadcast.

    Its `vjp` may return adjoints of the broadcast dimension: autodiff sums them back down to a
    dim-1 operand."""

    def lower(e, *xs, **p):
        return [scalar(e, *lanes, **p) for lanes in zip(*broadcast_lanes(*xs))]

    rule = "same dim" if arity == 1 else "equal dims or 1 (broadcast); result: the larger"
    return OpDef(
        name, arity, broadcast_dims, ref, lower, doc, example, params, dim_rule=rule, vjp=vjp
    )


def zero_vjp(b, g, out, *operands, **params) -> list:
    """Piecewise-constant operations: a zero derivative almost everywhere."""
    return [None] * len(operands)


def select_ref(cond, a, b):
    """np.where with the result in the operands' float dtype."""
    return np.where(cond, a, b)
