"""The reductions of the keir dialect, each defined once.

A `ReductionDef` gives the output dimension, the numpy reference (the oracle for tests) and the
online scheme used by compiled kernels: `init` makes the running state, `update` folds in one
formula value at reduced index `idx`, `finalize` turns the state into output components. State
lanes all have the kernel's float type (an index is stored as a float, as pykeops returns it).

`axis` follows pykeops' Genred: axis=1 reduces over j (output indexed by i), axis=0 over i.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .ops import DimRuleError


@dataclass(frozen=True)
class ReductionDef:
    name: str
    out_dim: Callable[[int], int]  # formula dim -> output dim
    ref: Callable[[np.ndarray, int], np.ndarray]  # dense F (M, N, D), axis -> (rows, out_dim)
    init: Callable  # (emitter, dim) -> state lanes
    update: Callable  # (emitter, state, f lanes, idx lane) -> state lanes
    finalize: Callable  # (emitter, state) -> output lanes
    doc: str


def _same(d: int) -> int:
    return d


def _scalar_only(d: int) -> int:
    if d != 1:
        raise DimRuleError(f"expected a formula of dimension 1, got {d}")
    return 1


# ---------------------------------------------------------------- Sum
def _sum_update(e, s, f, idx):
    return [e.add(a, b) for a, b in zip(s, f)]


SUM = ReductionDef(
    "Sum",
    _same,
    lambda F, axis: F.sum(axis),
    lambda e, d: [e.const(0.0)] * d,
    _sum_update,
    lambda e, s: s,
    "sum over the reduced index",
)


# ---------------------------------------------------------------- Max / Min and their arguments
def _better(e, kind: str):
    return e.gt if kind == "max" else e.lt


def _reduce_rows(fn, F: np.ndarray, axis: int, empty: float) -> np.ndarray:
    """fn over `axis`, with the kernel's initial value when there is nothing to reduce."""
    if F.shape[axis] == 0:
        shape = F.shape[:axis] + F.shape[axis + 1 :]
        return np.full(shape, empty, dtype=F.dtype)
    return fn(F, axis)


def _without_nan(F: np.ndarray, kind: str) -> np.ndarray:
    """KeOps compares strictly, so a NaN is never selected: it acts as the neutral element."""
    return np.where(np.isnan(F), -np.inf if kind == "max" else np.inf, F)


def _extremum(kind: str) -> ReductionDef:
    start = float("-inf") if kind == "max" else float("inf")

    def update(e, s, f, idx):
        better = _better(e, kind)
        return [e.select(better(v, a), v, a) for a, v in zip(s, f)]

    ext = np.max if kind == "max" else np.min

    def ref(F, axis):
        return _reduce_rows(ext, _without_nan(F, kind), axis, start)

    return ReductionDef(
        kind.capitalize(),
        _same,
        ref,
        lambda e, d: [e.const(start)] * d,
        update,
        lambda e, s: s,
        f"{kind} over the reduced index, per component",
    )


def _arg_extremum(kind: str, with_value: bool) -> ReductionDef:
    """ArgMin-like reductions: the first index reaching the extremum, per component."""
    start = float("-inf") if kind == "max" else float("inf")

    def init(e, d):
        return [e.const(start)] * d + [e.const(0.0)] * d

    def update(e, s, f, idx):
        d = len(f)
        better = _better(e, kind)
        conds = [better(v, a) for a, v in zip(s[:d], f)]
        vals = [e.select(c, v, a) for c, a, v in zip(conds, s[:d], f)]
        idxs = [e.select(c, idx, i) for c, i in zip(conds, s[d:])]
        return vals + idxs

    def finalize(e, s):
        return s if with_value else s[len(s) // 2 :]

    arg = np.argmax if kind == "max" else np.argmin
    ext = np.max if kind == "max" else np.min

    def ref(F, axis):
        F = _without_nan(F, kind)
        idx = _reduce_rows(arg, F, axis, 0).astype(F.dtype)
        F = _reduce_rows(ext, F, axis, start)
        return np.concatenate([F, idx], -1) if with_value else idx

    name = (
        ("Max_ArgMax" if kind == "max" else "Min_ArgMin")
        if with_value
        else f"Arg{kind.capitalize()}"
    )
    out = (lambda d: 2 * d) if with_value else _same
    return ReductionDef(name, out, ref, init, update, finalize, f"index of the {kind}")


# ---------------------------------------------------------------- LogSumExp
def _lse_init(e, d):
    return [e.const(float("-inf"))] * d + [e.const(0.0)] * d


def _lse_update(e, s, f, idx):
    """Online log-sum-exp: keep the running max m and sum(exp(f - m)), rescaled on a new max."""
    d = len(f)
    out_m, out_s = [], []
    for m, acc, v in zip(s[:d], s[d:], f):
        bigger = e.gt(v, m)
        new_m = e.select(bigger, v, m)
        # exp(-inf - finite) = 0 covers the first value; the smaller of (m, v) is shifted.
        shifted = e.exp(e.sub(e.select(bigger, m, v), new_m))
        out_m.append(new_m)
        out_s.append(
            e.select(bigger, e.add(e.mul(acc, shifted), e.const(1.0)), e.add(acc, shifted))
        )
    return out_m + out_s


def _lse_finalize(e, s):
    d = len(s) // 2
    return [e.add(m, e.log(acc)) for m, acc in zip(s[:d], s[d:])]


def _lse_ref(F, axis):
    m = np.expand_dims(_reduce_rows(np.max, F, axis, float("-inf")), axis)
    with np.errstate(invalid="ignore"):
        out = m + np.log(np.exp(F - m).sum(axis, keepdims=True))
    return np.squeeze(out, axis)


LOGSUMEXP = ReductionDef(
    "LogSumExp",
    _scalar_only,
    _lse_ref,
    _lse_init,
    _lse_update,
    _lse_finalize,
    "log(sum(exp(f))) computed stably with a running maximum",
)

REDUCTIONS: dict[str, ReductionDef] = {
    r.name: r
    for r in (
        SUM,
        _extremum("max"),
        _extremum("min"),
        _arg_extremum("max", False),
        _arg_extremum("min", False),
        _arg_extremum("max", True),
        _arg_extremum("min", True),
        LOGSUMEXP,
    )
}
