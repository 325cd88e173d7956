"""KMin, ArgKMin, KMin_ArgKMin: the K smallest values per component, by online insertion.

The state is K sorted (value, index) slots per component, never an N-sized buffer, and a
threshold per component. A new value (its index larger than all in the slots: the reduced
index only grows within a state) goes in before the slots with larger values, which shift
down, with branch-free selects; the comparison is strict, so equal values keep increasing
indices and NaN is never inserted (as KeOps). Unfilled slots stay (+inf, 0).

On vector lanes (L consecutive indices at a time) the row's list is packed: per component,
P = ceil(K / L) vectors of values and P of indices, sorted across their lanes (slot k in lane
k % L of vector k // L; the lanes past K are scratch), and the threshold, the K-th best, in
every lane of one more. A vector with no lane below the threshold is skipped (after n values,
a new one enters with probability K / n, so the loop soon costs little more than the
formula); otherwise the lanes below it are inserted one by one, in index order, each by two
permutes, two compares and four blends per vector of the list (_insert_packed: ArgKMin K = 10,
D = 3, 10^4 points, 2 threads: 6.5 G pairs/s with the list in lane 0 of 2 K vectors and a
scalar insertion, 11.3 packed). After the vector loop the list is read out of the lanes
(lanes_to_scalar) into the scalar layout of the tail, where the threshold is the K-th slot
itself. Merging states (of threads, calls or column vectors) inserts one sorted list into the
other, stopping at the first entry that does not enter.
Output layout, as KeOps: out[k*D + d] for KMin and ArgKMin; blocks [values(D), indices(D)] per
k for KMin_ArgKMin.
"""

from __future__ import annotations

import numpy as np

from .base import ReductionDef, as_indices, before, by_k, reduced_last, register, without_nan


def _values_and_indices(out, k):
    pairs = out.reshape(out.shape[0], k, 2, out.shape[1] // (2 * k))
    vals, idx = pairs[:, :, 0], as_indices(pairs[:, :, 1])
    return (vals[..., 0], idx[..., 0]) if vals.shape[-1] == 1 else (vals, idx)


def _kmin_grad(t, F, v, e, g, sh, saved):
    """Each of the K selected values passes its adjoint back: sum over k of
    Grad(F, v, e_k [c == selected_k]), written as a product with a K-vector of ones."""
    picked = t.call("Equal", saved("index"), saved("selected"))
    ones = t.call("SumT", t.call("IntCst", 1), sh.k)
    return t.call("Grad", F, v, t.call("VecMatMult", ones, t.binary("mul", e, picked)))


def _index_lanes(sh):
    return range(sh.k * sh.f, 2 * sh.k * sh.f)


def _vectors(e, sh) -> int:
    """Vectors per component and slot kind: P = ceil(K / L) packed on vector lanes, else K
    (one slot per scalar lane)."""
    if getattr(e, "is_vector", False):  # not on _ConstantsOnly (state_len): the scalar layout
        return -(-sh.k // e.type.shape[0])
    return sh.k


def _init(e, sh):
    inf = e.const(float("inf"))
    n = _vectors(e, sh) * sh.f
    return [inf] * n + [e.const(0.0)] * n + [inf] * sh.f


def _insert_newest(e, vals, idxs, d, v, i, K, D):
    """Inserts (v, i), whose index is larger than every index in the K sorted slots of
    component d: it goes before exactly the slots holding a larger value (strictly), and
    those shift down one. The K comparisons are independent (no chain through a displaced
    entry, no index comparisons: a bubble needs them, since a displaced entry may tie with
    the next slot), so an insertion is K compares and 4 K selects of short latency."""
    slots = [k * D + d for k in range(K)]
    goes = [e.lt(v, vals[s]) for s in slots]  # monotone in k: the list is sorted
    new_vals, new_idxs = [], []
    for k, s in enumerate(slots):
        if k == 0:
            into_v, into_i = v, i
        else:  # the new entry, or the slot above when the new entry went above
            above = slots[k - 1]
            into_v = e.select(goes[k - 1], vals[above], v)
            into_i = e.select(goes[k - 1], idxs[above], i)
        new_vals.append(e.select(goes[k], into_v, vals[s]))
        new_idxs.append(e.select(goes[k], into_i, idxs[s]))
    for k, s in enumerate(slots):
        vals[s], idxs[s] = new_vals[k], new_idxs[k]


def _insert(e, vals, idxs, d, v, i, K, D, smaller):
    """Bubbles (v, i) down the K sorted slots of component d (any index: merges)."""
    for k in range(K):
        slot = k * D + d
        c = smaller(v, i, vals[slot], idxs[slot])
        vals[slot], v = e.select(c, v, vals[slot]), e.select(c, vals[slot], v)
        idxs[slot], i = e.select(c, i, idxs[slot]), e.select(c, idxs[slot], i)


def _insert_packed(e, vals, idxs, v, i):
    """(v, i), splat, into the sorted list held across the lanes of the vectors vals and idxs:
    slot k takes slot k - 1 if that one is larger than v (it moves down), else v if slot k is
    larger (strictly: v goes after equal values), else stays. Lanes past K take what moves
    down. Slot k - 1 of lane 0 is the last lane of the vector before (-inf before the first:
    nothing moves into slot 0)."""
    new_vals, new_idxs = [], []
    for p, (a, ai) in enumerate(zip(vals, idxs)):
        up = e.shifted_up(a, vals[p - 1] if p else float("-inf"))
        up_idx = e.shifted_up(ai, idxs[p - 1] if p else 0.0)
        down, here = e.lt(v, up), e.lt(v, a)
        new_vals.append(e.select(down, up, e.select(here, v, a)))
        new_idxs.append(e.select(down, up_idx, e.select(here, i, ai)))
    return new_vals + new_idxs


def _update(e, s, f, g, idx, sh):
    if e.is_vector:
        return _update_packed(e, s, f, idx, sh)
    K, D = sh.k, sh.f
    state = list(s)
    for d in range(D):  # indices only grow here: a strict comparison keeps ties in order
        enters = e.lt(f[d], state[2 * K * D + d])

        def insert(d=d, state=state):
            vals, idxs, thresholds = _split(state, sh)
            _insert_newest(e, vals, idxs, d, f[d], idx, K, D)
            thresholds[d] = vals[(K - 1) * D + d]
            return vals + idxs + thresholds

        state = e.when_any(enters, state, insert)
    return state


def _update_packed(e, s, f, idx, sh):
    """The vector update of packed lists: the entering lanes (below the threshold), in index
    order, each inserted into the whole list; a lane that no longer beats the K-th best after
    earlier insertions only changes the scratch lanes past K."""
    K, D, P = sh.k, sh.f, _vectors(e, sh)
    L = e.type.shape[0]
    lists = [
        (list(s[d * P : (d + 1) * P]), list(s[(D + d) * P : (D + d + 1) * P])) for d in range(D)
    ]
    thresholds = list(s[2 * D * P :])
    for d, (vals, idxs) in enumerate(lists):
        enters = e.lt(f[d], thresholds[d])

        def insert(d=d, enters=enters, vals=vals, idxs=idxs):
            def one_lane(lane, carried):
                return _insert_packed(e, carried[:P], carried[P:], *map(e.splat, lane))

            new = e.each_set_lane(enters, [f[d], idx], vals + idxs, one_lane)
            return [*new, e.lane_everywhere(new[(K - 1) // L], (K - 1) % L)]

        *new, thresholds[d] = e.when_any(enters, [*vals, *idxs, thresholds[d]], insert)
        lists[d] = (new[:P], new[P:])
    return (
        [v for vals, _ in lists for v in vals] + [i for _, idxs in lists for i in idxs] + thresholds
    )


def _threshold(e, s, sh):
    """The K-th best of a one-component list, in every lane: what a new value must beat."""
    return s[2 * sh.f * _vectors(e, sh)]


def _lanes_to_scalar(e, s, sh):
    """The scalar layout (K D values, K D indices, D thresholds) of a packed vector state: slot
    k of component d from lane k % L of its vector k // L."""
    K, D, P = sh.k, sh.f, _vectors(e, sh)
    L = e.type.shape[0]

    def slot(kind, k, d):
        return e.lane(s[(kind * D + d) * P + k // L], k % L)

    vals = [slot(0, k, d) for k in range(K) for d in range(D)]
    idxs = [slot(1, k, d) for k in range(K) for d in range(D)]
    return vals + idxs + vals[(K - 1) * D :]


def _beats(e):
    """(v, i) goes ahead of slot (a, ia): smaller, or equal with a smaller index. A new value
    only ties with earlier indices, but an entry it displaces may tie with the next slot."""
    return lambda v, i, a, ia: before(e, e.lt, a, ia, v, i)


def _split(state, sh):
    """(values, indices, thresholds) as fresh lists."""
    n = sh.k * sh.f
    return list(state[:n]), list(state[n : 2 * n]), list(state[2 * n :])


def _merge(e, a, b, sh):
    """Inserts b's K entries into a's; ties go to the smaller index. b's entries are sorted, so
    each insertion is skipped once the entry does not beat a's K-th best."""
    K, D = sh.k, sh.f
    state = list(a)
    for d in range(D):
        worst = (K - 1) * D + d

        def one_entry(entry, state, d=d, worst=worst):
            v, i = entry

            def insert():
                vals, idxs, thresholds = _split(state, sh)
                _insert(e, vals, idxs, d, v, i, K, D, _beats(e))
                thresholds[d] = e.lanes_min(vals[worst])
                return vals + idxs + thresholds

            beats = before(e, e.lt, state[worst], state[K * D + worst], v, i)
            return e.when_any(beats, state, insert)

        entries = [(b[k * D + d], b[K * D + k * D + d]) for k in range(K)]
        state = e.fold_items(entries, state, one_entry)
    return state


def _kmin_ref(F, axis, K):
    """(values, indices), each (rows, K, D): the K smallest along the reduced index. As KeOps,
    which compares strictly with slots that start at +inf: a NaN or +inf value never enters,
    so the slots it would fill stay (+inf, 0)."""
    F = without_nan(reduced_last(F, axis), "min")
    rows, n, D = F.shape
    order = np.argsort(F, axis=1, kind="stable")[:, :K]
    vals = np.take_along_axis(F, order, 1)
    order = np.where(vals == np.inf, 0, order)
    pad = K - vals.shape[1]
    vals = np.concatenate([vals, np.full((rows, pad, D), np.inf, F.dtype)], 1)
    order = np.concatenate([order, np.zeros((rows, pad, D), order.dtype)], 1)
    return vals, order.astype(F.dtype)


def _values(e, s, sh):
    return s[: sh.k * sh.f]


def _indices(e, s, sh):
    return s[sh.k * sh.f : 2 * sh.k * sh.f]


def _both(e, s, sh):
    K, D = sh.k, sh.f
    vals, idxs = s[: K * D], s[K * D : 2 * K * D]
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
        lanewise=False,
        lanes_to_scalar=_lanes_to_scalar,
        threshold=_threshold,
        merge=_merge,
        index_lanes=_index_lanes,
        output=lambda out, k: by_k(out, k),
        grad=_kmin_grad,
        selector="ArgKMin",
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
        lanewise=False,
        lanes_to_scalar=_lanes_to_scalar,
        threshold=_threshold,
        merge=_merge,
        index_lanes=_index_lanes,
        output=lambda out, k: as_indices(by_k(out, k)),
        indices=True,
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
        lanewise=False,
        lanes_to_scalar=_lanes_to_scalar,
        threshold=_threshold,
        merge=_merge,
        index_lanes=_index_lanes,
        output=_values_and_indices,
        indices=True,
    ),
)
