"""pykeops' sum_scheme="kahan_scheme": compensated variants of the sum-like reductions.

Each is a reduction of its own, `<name>_Kahan` (Sum_Kahan, LogSumExp_Kahan, ...): its state is
the plain one followed, per running sum s, by Kahan's compensation c (the low-order part lost by
the last addition), so every loop that folds values in with `update` and combines partial states
with `merge` (vector lanes, threads, ranged blocks, keir.dask blocks) is compensated without
knowing it. The kernel builder picks it when the options ask for Kahan (frontend/spec.py
Options.reduction_kind), so it is part of the kernel IR and of its cache key.

For the shifted-exp family (m, s_k = sum exp(f - m) g_k) the compensation is kept in the scale
of s: when a new value raises the max, both s and c are multiplied by exp(m_old - m_new) before
the new term is added, as keopscore's Max_SumShiftExpWeight_Reduction.KahanScheme does (pykeops
2.3 itself fails to compile that scheme: it lacks the reduction's dim_kahan).

The numpy reference (the interpreter's rule) sums the kernel-dtype formula values in float64:
what the compensated sum approximates.
"""

from __future__ import annotations

import numpy as np

from . import shiftexp
from .base import REDUCTIONS, SCHEME_REDUCTIONS, ReductionDef, register

SUFFIX = "_Kahan"


def _kahan_add(e, s, c, x):
    """s + x, carrying the compensation c: (new s, new c). A NaN compensation (inf - inf, once
    the sum is infinite) is 0, so an infinite sum stays infinite as in the plain sum."""
    y = e.sub(x, c)
    t = e.add(s, y)
    c = e.sub(e.sub(t, s), y)
    return t, e.select(e.eq(c, c), c, e.const(0.0))


def _fold(e, sums, comps, terms) -> list:
    """Each term Kahan-added to its (sum, compensation): the new sums, then the new comps."""
    pairs = [_kahan_add(e, s, c, x) for s, c, x in zip(sums, comps, terms)]
    return [p[0] for p in pairs] + [p[1] for p in pairs]


def _merge_sums(e, a_sums, a_comps, b_sums, b_comps) -> list:
    """(s1, c1) + (s2, c2): s2 folded into s1 with compensation c1 + c2 (the represented sums
    are s - c)."""
    comps = [e.add(ca, cb) for ca, cb in zip(a_comps, b_comps)]
    return _fold(e, a_sums, comps, b_sums)


def _in_float64(ref):
    def wide(F, G, axis, sh):
        return ref(F.astype(np.float64), None if G is None else G.astype(np.float64), axis, sh)

    return wide


# ---------------------------------------------------------------- Sum
def _sum_update(e, state, f, g, idx, sh):
    return _fold(e, state[: sh.f], state[sh.f :], f)


def _sum_merge(e, a, b, sh):
    d = sh.f
    return _merge_sums(e, a[:d], a[d:], b[:d], b[d:])


def _sum_kahan(plain: ReductionDef) -> ReductionDef:
    return ReductionDef(
        plain.name + SUFFIX,
        plain.out_dim,
        _in_float64(plain.ref),
        lambda e, sh: [e.const(0.0)] * (2 * sh.f),
        _sum_update,
        lambda e, s, sh: s[: sh.f],
        "sum over the reduced index with Kahan compensation (sum_scheme='kahan_scheme')",
        merge=_sum_merge,
        grad=plain.grad,
    )


# ---------------------------------------------------------------- max and shifted sums
def _shift_exp_kahan(plain: ReductionDef, softmax: bool) -> ReductionDef:
    """State (m, s_1..s_n, c_1..c_n): the plain one, then a compensation per sum."""

    def sums(sh) -> int:
        return plain.state_len(sh) - 1

    def init(e, sh):
        return plain.init(e, sh) + [e.const(0.0)] * sums(sh)

    def update(e, s, f, g, idx, sh):
        n, m, v = sums(sh), s[0], f[0]
        bigger = e.gt(v, m)
        new_m = e.select(bigger, v, m)
        shift = shiftexp.shift(e, e.select(bigger, m, v), new_m)
        one = e.const(1.0)
        old, new = e.select(bigger, shift, one), e.select(bigger, one, shift)  # x 1 is exact
        terms = [e.mul(w, new) for w in shiftexp.weights(e, g, softmax)]
        scaled = [e.mul(x, old) for x in s[1:]]  # sums and compensations to the new max
        return [new_m] + _fold(e, scaled[:n], scaled[n:], terms)

    def merge(e, a, b, sh):
        n = sums(sh)
        m = e.select(e.gt(b[0], a[0]), b[0], a[0])
        sa, sb = shiftexp.shift(e, a[0], m), shiftexp.shift(e, b[0], m)
        a_s, b_s = [e.mul(x, sa) for x in a[1:]], [e.mul(x, sb) for x in b[1:]]
        return [m] + _merge_sums(e, a_s[:n], a_s[n:], b_s[:n], b_s[n:])

    return ReductionDef(
        plain.name + SUFFIX,
        plain.out_dim,
        _in_float64(plain.ref),
        init,
        update,
        lambda e, s, sh: plain.finalize(e, s[: 1 + sums(sh)], sh),
        plain.doc + ", with Kahan compensation of the sums (sum_scheme='kahan_scheme')",
        weight=plain.weight,
        merge=merge,
        output=plain.output,
        grad=plain.grad,
    )


register(
    _sum_kahan(REDUCTIONS["Sum"]),
    *(_shift_exp_kahan(REDUCTIONS[name], soft) for name, soft in shiftexp.SOFTMAX.items()),
    table=SCHEME_REDUCTIONS,
)
