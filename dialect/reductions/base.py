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


REDUCTIONS: dict[str, ReductionDef] = {}


def register(*defs: ReductionDef) -> None:
    for d in defs:
        REDUCTIONS[d.name] = d


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
