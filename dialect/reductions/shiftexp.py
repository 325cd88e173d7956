"""LogSumExp and its relatives, all from one online "max and shifted sum" scheme.

State: the running max m of the scalar formula f and s_k = sum exp(f - m) * g_k, rescaled when
m grows (KeOps' Max_SumShiftExpWeight). Unweighted reductions use g = 1.
    Max_SumShiftExp(f)           -> (m, s)               raw state, as KeOps
    Max_SumShiftExpWeight(f, g)  -> (m, s_1 .. s_D)      raw state
    LogSumExp(f [, g])           -> m + log(s_k)          log sum_j exp(f_j) g_j
    SumSoftMaxWeight(f, g)       -> s_k / s_0             sum exp(f) g / sum exp(f)
"""

from __future__ import annotations

import numpy as np

from .base import ReductionDef, reduced_last, register, scalar_formula


def weights(e, g, softmax: bool) -> list:
    g = g or [e.const(1.0)]
    return [e.const(1.0)] + list(g) if softmax else list(g)


def _init(softmax: bool):
    def init(e, sh):
        return [e.const(float("-inf"))] + [e.const(0.0)] * (max(sh.g, 1) + softmax)

    return init


def _update(softmax: bool):
    def update(e, s, f, g, idx, sh):
        m, sums, v = s[0], s[1:], f[0]
        bigger = e.gt(v, m)
        new_m = e.select(bigger, v, m)
        # the smaller of (m, v) is shifted: exp(-inf - finite) = 0 covers the first value; equal
        # values (+inf twice too) weigh 1 each and a -inf weighs 0, where the plain formula
        # would give exp(inf - inf) = NaN or exp(-inf - -inf) = NaN
        k = shift(e, e.select(bigger, m, v), new_m)
        out = []
        for acc, w in zip(sums, weights(e, g, softmax)):
            grown = e.add(e.mul(acc, k), w)
            out.append(e.select(bigger, grown, e.add(acc, e.mul(w, k))))
        return [new_m] + out

    return update


def shift(e, small, big):
    """exp(small - big) for small <= big, with exp(0) = 1 when equal (even infinite) and 0
    for small = -inf."""
    one, zero = e.const(1.0), e.const(0.0)
    k = e.select(e.eq(small, big), one, e.exp(e.sub(small, big)))
    return e.select(e.eq(small, e.const(float("-inf"))), zero, k)


def _merge(e, a, b, sh):
    """(m, s) of both halves: rescale each sum to the larger max (an empty half adds 0)."""
    m = e.select(e.gt(b[0], a[0]), b[0], a[0])
    sa, sb = shift(e, a[0], m), shift(e, b[0], m)
    return [m] + [e.add(e.mul(x, sa), e.mul(y, sb)) for x, y in zip(a[1:], b[1:])]


def _dense_state(F, G, axis, softmax: bool):
    """(m, s) from the dense formula: m (rows, 1), s (rows, Dg [+1])."""
    F = reduced_last(F, axis)
    G = np.ones_like(F) if G is None else reduced_last(G, axis)
    if softmax:
        G = np.concatenate([np.ones_like(F), G], -1)
    if F.shape[1] == 0:
        return np.full((F.shape[0], 1), -np.inf, F.dtype), np.zeros((F.shape[0], G.shape[2]))
    m = F.max(1)
    M = m[:, None, :]
    with np.errstate(invalid="ignore", over="ignore"):  # as shift(): inf - inf weighs 1
        shift = np.where(F == M, 1.0, np.where(F == -np.inf, 0.0, np.exp(F - M)))
        s = (shift * G).sum(1)
    return m, s


def _ref(finish, softmax: bool):
    def ref(F, G, axis, sh):
        m, s = _dense_state(F, G, axis, softmax)
        with np.errstate(all="ignore"):
            return finish(m, s)

    return ref


def _lse_grad(t, F, v, e, g, sh, saved):
    """d/dv log sum exp(F) g: the softmax weights w = exp(F - out) times e."""
    we = t.binary("mul", e, t.call("Exp", t.binary("sub", F, saved("out"))))
    if g is None:
        return t.call("Grad", F, v, we)
    return t.binary(
        "add",
        t.call("Grad", F, v, t.call("Sum", t.binary("mul", we, g))),
        t.call("Grad", g, v, we),
    )


def _softmax_grad(t, F, v, e, g, sh, saved):
    """d/dv of sum p g, p = exp(F - lse): Grad(g, v, p e) + Grad(F, v, p (e | g - out))."""
    out = saved("out")
    p = t.call("Exp", t.binary("sub", F, saved("lse")))
    shift = t.binary("mul", p, t.binary("scalprod", e, t.binary("sub", g, out)))
    return t.binary("add", t.call("Grad", g, v, t.binary("mul", p, e)), t.call("Grad", F, v, shift))


# Whether each reduction's state also sums the unweighted exp (the softmax denominator)
SOFTMAX = {
    "LogSumExp": False,
    "Max_SumShiftExp": False,
    "Max_SumShiftExpWeight": False,
    "SumSoftMaxWeight": True,
}


def _shift_exp(name, out_dim, finish_ref, finish, weight, doc, grad=None):
    softmax = SOFTMAX[name]

    def dim(sh):
        scalar_formula(sh)
        return out_dim(sh)

    return ReductionDef(
        name,
        dim,
        _ref(finish_ref, softmax),
        _init(softmax),
        _update(softmax),
        finish,
        doc,
        weight=weight,
        merge=_merge,
        grad=grad,
    )


def _log(e, s, sh):
    return [e.add(s[0], e.log(acc)) for acc in s[1:]]


register(
    _shift_exp(
        "LogSumExp",
        lambda sh: max(sh.g, 1),
        lambda m, s: m + np.log(s),
        _log,
        "optional",
        "log sum exp(f), or log sum exp(f) g with a weight g",
        _lse_grad,
    ),
    _shift_exp(
        "Max_SumShiftExp",
        lambda sh: 2,
        lambda m, s: np.concatenate([m, s], -1),
        lambda e, s, sh: s,
        "none",
        "(max f, sum exp(f - max f))",
    ),
    _shift_exp(
        "Max_SumShiftExpWeight",
        lambda sh: 1 + sh.g,
        lambda m, s: np.concatenate([m, s], -1),
        lambda e, s, sh: s,
        "required",
        "(max f, sum exp(f - max f) g)",
    ),
    _shift_exp(
        "SumSoftMaxWeight",
        lambda sh: sh.g,
        lambda m, s: s[:, 1:] / s[:, :1],
        lambda e, s, sh: [e.div(acc, s[1]) for acc in s[2:]],
        "required",
        "sum exp(f) g / sum exp(f): the softmax-weighted average of g",
        _softmax_grad,
    ),
)
