"""What a reduction is: `ReductionDef`, its shape parameters and the registry.

A `ReductionDef` gives the output dimension, the numpy reference (the oracle for tests) and the
online scheme compiled kernels use: `init` makes the running state, `update` folds in the
formula value f (and the weight g, for weighted reductions) at reduced index `idx`, `finalize`
turns the state into the output components. State lanes all have the kernel's float type: an
index is stored as a float, as in KeOps (exact below 2**24 in float32).

`axis` follows pykeops' Genred: axis=1 reduces over j (output indexed by i), axis=0 over i.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..ops import DimRuleError

MAX_K = 256  # KMin-like state is K * dim lanes: beyond this the kernel would not fit registers


@dataclass(frozen=True)
class RedShape:
    """The sizes a reduction depends on: formula dim, weight dim (0: none), K (0: none)."""

    f: int
    g: int = 0
    k: int = 0


@dataclass(frozen=True)
class ReductionDef:
    name: str
    out_dim: Callable[[RedShape], int]  # raises DimRuleError
    ref: Callable  # (F (M, N, f), G (M, N, g) or None, axis, shape) -> (rows, out_dim)
    init: Callable  # (emitter, shape) -> state lanes
    update: Callable  # (emitter, state, f lanes, g lanes, idx lane, shape) -> state lanes
    finalize: Callable  # (emitter, state, shape) -> output lanes
    doc: str
    weight: str = "none"  # "none" | "optional" | "required": a second formula g
    uses_k: bool = False  # KMin-like: takes K (Genred's opt_arg)
    # (emitter, state a, state b, shape) -> the state of both: combines partial states (vector
    # lanes, threads); ties go to the smaller index, so the result is as if sequential.
    merge: Callable | None = None
    # (raw (rows, out_dim) output, K) -> the result in pykeops' form (int64 indices, pairs)
    output: Callable = lambda out, k: out
    # The gradient as a formula: (t, F, v, e, g, shape, saved) -> a formula tree, where t
    # builds trees (t.call, t.binary; keir.frontend.spec), F and g are the formula and weight
    # trees, v the variable, e the output adjoint and saved(role) a value of the forward pass
    # passed as an extra argument (see SAVED_ROLES); None: not differentiable.
    grad: Callable | None = None
    # For a selecting reduction (Min, KMin, ...): the reduction giving the selected indices.
    selector: str | None = None
    indices: bool = False  # its output holds indices (exact in float32 below 2**24 only)
    # Positions of the state lanes that hold reduced indices (counted from 0 in each kernel
    # call): a caller merging states of several calls shifts them by each call's start.
    index_lanes: Callable = lambda shape: range(0)
    # Whether the vector update acts lane by lane. A masked vector step (block-sparse ranges,
    # passes/lowering/ranged.py) then keeps the old state in the masked lanes; KMin-like
    # updates move values across lanes (into lane 0), so there the masked lanes' formula
    # values become NaN instead, which they never insert.
    lanewise: bool = True
    # (vector emitter, vector state, shape) -> the scalar state of all its lanes, for a vector
    # state that is not L states side by side (KMin: one sorted list packed in the lanes of a
    # vector); None: L lane states, merged lane after lane (`merge`).
    lanes_to_scalar: Callable | None = None
    # (vector emitter, vector state, shape) -> per lane, the value a one-component formula
    # value must be below (or NaN against) for the update to change the state: a minimum-like
    # reduction; keir-tile-cpu then skips a vector whose lower bounds are all at least that
    # (passes/lowering/screen.py). None: every value may count.
    threshold: Callable | None = None

    def state_len(self, shape: RedShape) -> int:
        """Lanes of the running state, from `init` (no IR: init only makes constants)."""
        return len(self.init(_ConstantsOnly(), shape))


# What a gradient rule may ask the forward pass for (keir.gradients computes them):
#     out       the reduction's output          (indexed like the output, out_dim)
#     selected  the selector's indices          (indexed like the output, out_dim)
#     lse       the formula's LogSumExp         (indexed like the output, 1)
#     index     the row numbers of the reduced index (indexed by it, 1)
SAVED_ROLES = ("out", "selected", "lse", "index")


class _ConstantsOnly:
    """Stands in for an emitter where a rule only creates constants (a reduction's init)."""

    def const(self, value):
        return value


def by_k(out: np.ndarray, k: int) -> np.ndarray:
    """(rows, K*D) -> (rows, K, D), squeezed to (rows, K) when D == 1, as pykeops."""
    out = out.reshape(out.shape[0], k, out.shape[1] // k)  # not -1: rows may be 0
    return out[..., 0] if out.shape[-1] == 1 else out


def as_indices(out: np.ndarray) -> np.ndarray:
    """int64 indices; the output rules (reshapes, slices, this) also take the torch CUDA
    tensors of keir.torch's device path, which have .long() where numpy has .astype."""
    return out.astype(np.int64) if isinstance(out, np.ndarray) else out.long()


REDUCTIONS: dict[str, ReductionDef] = {}  # the reductions formulas and Genred may name
# Dialect-only reductions a front end compiles a named one to under pykeops' accumulation
# options (Sum under kahan_scheme -> Sum_Kahan): in kernel IR, never in a formula.
SCHEME_REDUCTIONS: dict[str, ReductionDef] = {}


def register(*defs: ReductionDef, table: dict | None = None) -> None:
    for d in defs:
        (REDUCTIONS if table is None else table)[d.name] = d


def reduction_def(kind: str) -> ReductionDef:
    """The ReductionDef of a keir.reduction's kind in kernel IR (named or dialect-only)."""
    return REDUCTIONS[kind] if kind in REDUCTIONS else SCHEME_REDUCTIONS[kind]


def check_shape(red: ReductionDef, shape: RedShape) -> int:
    """The output dim of `red` for `shape`, after checking K and the weight."""
    if red.uses_k and not 1 <= shape.k <= MAX_K:
        raise DimRuleError(f"{red.name} needs 1 <= K <= {MAX_K}, got K = {shape.k}")
    if red.weight == "required" and not shape.g:
        raise DimRuleError(f"{red.name} needs a weight formula")
    if red.weight == "none" and shape.g:
        raise DimRuleError(f"{red.name} takes no weight formula")
    return red.out_dim(shape)


def scalar_formula(shape: RedShape) -> None:
    if shape.f != 1:
        raise DimRuleError(f"expected a formula of dimension 1, got {shape.f}")


def before(e, better, va, ia, vb, ib):
    """b should replace a: strictly better, or equal with a smaller index."""
    return e.or_(better(vb, va), e.and_(e.eq(vb, va), e.lt(ib, ia)))


def reduced_last(F: np.ndarray, axis: int) -> np.ndarray:
    """(rows, reduced, dim): the dense formula with the reduced index second."""
    return F if axis == 1 else np.swapaxes(F, 0, 1)


def without_nan(F: np.ndarray, kind: str) -> np.ndarray:
    """KeOps compares strictly, so a NaN is never selected: it acts as the neutral element."""
    return np.where(np.isnan(F), -np.inf if kind == "max" else np.inf, F)
