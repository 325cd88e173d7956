"""KMin, ArgKMin, KMin_ArgKMin: the K smallest values per component, by online insertion.

The state is K sorted (value, index) slots per component, never an N-sized buffer. A new value
bubbles down the slots with branch-free selects; the comparison is strict, so equal values
keep increasing indices and NaN is never inserted (as KeOps). Unfilled slots stay (+inf, 0).
Output layout, as KeOps: out[k*D + d] for KMin and ArgKMin; blocks [values(D), indices(D)] per
k for KMin_ArgKMin.
"""

from __future__ import annotations

import numpy as np

from .base import ReductionDef, before, reduced_last, register, without_nan


def _init(e, sh):
    return [e.const(float("inf"))] * (sh.k * sh.f) + [e.const(0.0)] * (sh.k * sh.f)


def _insert(e, vals, idxs, d, v, i, K, D, smaller):
    """Bubbles (v, i) down the K sorted slots of component d."""
    for k in range(K):
        slot = k * D + d
        c = smaller(v, i, vals[slot], idxs[slot])
        vals[slot], v = e.select(c, v, vals[slot]), e.select(c, vals[slot], v)
        idxs[slot], i = e.select(c, i, idxs[slot]), e.select(c, idxs[slot], i)


def _update(e, s, f, g, idx, sh):
    K, D = sh.k, sh.f
    vals, idxs = list(s[: K * D]), list(s[K * D :])
    for d in range(D):  # indices only grow here: a strict comparison keeps ties in order
        _insert(e, vals, idxs, d, f[d], idx, K, D, lambda v, i, a, ia: e.lt(v, a))
    return vals + idxs


def _merge(e, a, b, sh):
    """Inserts b's K entries into a's; ties go to the smaller index."""
    K, D = sh.k, sh.f
    vals, idxs = list(a[: K * D]), list(a[K * D :])
    for d in range(D):
        for k in range(K):
            v, i = b[k * D + d], b[K * D + k * D + d]
            _insert(e, vals, idxs, d, v, i, K, D, lambda v, i, a, ia: before(e, e.lt, a, ia, v, i))
    return vals + idxs


def _kmin_ref(F, axis, K):
    """(values, indices), each (rows, K, D): the K smallest along the reduced index."""
    F = without_nan(reduced_last(F, axis), "min")
    rows, n, D = F.shape
    order = np.argsort(F, axis=1, kind="stable")[:, :K]
    vals = np.take_along_axis(F, order, 1)
    pad = K - vals.shape[1]
    vals = np.concatenate([vals, np.full((rows, pad, D), np.inf, F.dtype)], 1)
    order = np.concatenate([order, np.zeros((rows, pad, D), order.dtype)], 1)
    return vals, order.astype(F.dtype)


def _values(e, s, sh):
    return s[: sh.k * sh.f]


def _indices(e, s, sh):
    return s[sh.k * sh.f :]


def _both(e, s, sh):
    K, D = sh.k, sh.f
    vals, idxs = s[: K * D], s[K * D :]
    return [
        lane for k in range(K) for lane in vals[k * D : (k + 1) * D] + idxs[k * D : (k + 1) * D]
    ]


def _ref_values(F, G, axis, sh):
    vals, _ = _kmin_ref(F, axis, sh.k)
    return vals.reshape(len(vals), -1)


def _ref_indices(F, G, axis, sh):
    _, idx = _kmin_ref(F, axis, sh.k)
    return idx.reshape(len(idx), -1)


def _ref_both(F, G, axis, sh):
    vals, idx = _kmin_ref(F, axis, sh.k)
    return np.stack([vals, idx], 2).reshape(len(vals), -1)


register(
    ReductionDef(
        "KMin",
        lambda sh: sh.k * sh.f,
        _ref_values,
        _init,
        _update,
        _values,
        "the K smallest values, in increasing order, per component",
        uses_k=True,
        merge=_merge,
    ),
    ReductionDef(
        "ArgKMin",
        lambda sh: sh.k * sh.f,
        _ref_indices,
        _init,
        _update,
        _indices,
        "the indices of the K smallest values, per component",
        uses_k=True,
        merge=_merge,
    ),
    ReductionDef(
        "KMin_ArgKMin",
        lambda sh: 2 * sh.k * sh.f,
        _ref_both,
        _init,
        _update,
        _both,
        "the K smallest values and their indices, per component",
        uses_k=True,
        merge=_merge,
    ),
)
