"""Sum_Kahan: pykeops' sum_scheme="kahan_scheme" for Sum, as a reduction of its own.

The state is the running sum s and, per component, Kahan's compensation c (the low-order part
lost by the last addition): every loop that folds values in with `update` and combines partial
states with `merge` (vector lanes, threads, keir.dask blocks) is compensated without knowing it.
The kernel builder picks it for a Sum when the options ask for Kahan (frontend/spec.py), so it
is part of the kernel IR and of its cache key.
"""

from __future__ import annotations

from .base import SCHEME_REDUCTIONS, ReductionDef, reduced_last, register


def _kahan_add(e, s, c, x):
    """s + x, carrying the compensation c: (new s, new c)."""
    y = e.sub(x, c)
    t = e.add(s, y)
    return t, e.sub(e.sub(t, s), y)


def _update(e, state, f, g, idx, sh):
    d = sh.f
    pairs = [_kahan_add(e, s, c, x) for s, c, x in zip(state[:d], state[d:], f)]
    return [p[0] for p in pairs] + [p[1] for p in pairs]


def _merge(e, a, b, sh):
    """(s1, c1) + (s2, c2): s2 - c2 folded into s1 with compensation c1."""
    d = sh.f
    pairs = [_kahan_add(e, a[k], e.add(a[d + k], b[d + k]), b[k]) for k in range(d)]
    return [p[0] for p in pairs] + [p[1] for p in pairs]


register(
    ReductionDef(
        "Sum_Kahan",
        lambda sh: sh.f,
        lambda F, G, axis, sh: reduced_last(F, axis).sum(1),
        lambda e, sh: [e.const(0.0)] * (2 * sh.f),
        _update,
        lambda e, s, sh: s[: sh.f],
        "sum over the reduced index with Kahan compensation (sum_scheme='kahan_scheme')",
        merge=_merge,
        grad=lambda t, F, v, e, g, sh, saved: t.call("Grad", F, v, e),
    ),
    table=SCHEME_REDUCTIONS,
)
