"""Sum, Max, Min, ArgMax, ArgMin, Max_ArgMax, Min_ArgMin: per component of the formula.

Extremes use a strict comparison, so the first index wins ties and NaN is never selected (as
KeOps); an empty reduction leaves the initial value (0, -inf or +inf, index 0).
"""

from __future__ import annotations

import numpy as np

from .base import ReductionDef, as_indices, before, reduced_last, register, without_nan


def _selected_grad(t, F, v, e, g, sh, saved):
    """The derivative at the selected index: Grad(F, v, e [c == selected])."""
    picked = t.call("Equal", saved("index"), saved("selected"))
    return t.call("Grad", F, v, t.binary("mul", e, picked))


def _better(e, kind: str):
    return e.gt if kind == "max" else e.lt


def _start(kind: str) -> float:
    return float("-inf") if kind == "max" else float("inf")


def _extreme_ref(F, kind: str):
    """(value, index) over axis 1 of a (rows, reduced, dim) array, KeOps-style."""
    F = without_nan(F, kind)
    if F.shape[1] == 0:
        shape = (F.shape[0], F.shape[2])
        return np.full(shape, _start(kind), F.dtype), np.zeros(shape, F.dtype)
    arg = np.argmax(F, 1) if kind == "max" else np.argmin(F, 1)
    return np.take_along_axis(F, arg[:, None, :], 1)[:, 0], arg.astype(F.dtype)


def _extremum(kind: str) -> ReductionDef:
    def update(e, s, f, g, idx, shape):
        better = _better(e, kind)
        return [e.select(better(v, a), v, a) for a, v in zip(s, f)]

    def merge(e, a, b, sh):
        better = _better(e, kind)
        return [e.select(better(y, x), y, x) for x, y in zip(a, b)]

    return ReductionDef(
        kind.capitalize(),
        lambda sh: sh.f,
        lambda F, G, axis, sh: _extreme_ref(reduced_last(F, axis), kind)[0],
        lambda e, sh: [e.const(_start(kind))] * sh.f,
        update,
        lambda e, s, sh: s,
        f"{kind} over the reduced index, per component",
        merge=merge,
        threshold=(lambda e, s, sh: s[0]) if kind == "min" else None,
        grad=_selected_grad,
        selector=f"Arg{kind.capitalize()}",
    )


def _arg_extremum(kind: str, with_value: bool) -> ReductionDef:
    def init(e, sh):
        return [e.const(_start(kind))] * sh.f + [e.const(0.0)] * sh.f

    def update(e, s, f, g, idx, sh):
        better = _better(e, kind)
        conds = [better(v, a) for a, v in zip(s[: sh.f], f)]
        vals = [e.select(c, v, a) for c, a, v in zip(conds, s[: sh.f], f)]
        idxs = [e.select(c, idx, i) for c, i in zip(conds, s[sh.f :])]
        return vals + idxs

    def merge(e, a, b, sh):
        d, better = sh.f, _better(e, kind)
        conds = [before(e, better, a[k], a[d + k], b[k], b[d + k]) for k in range(d)]
        vals = [e.select(c, b[k], a[k]) for k, c in enumerate(conds)]
        return vals + [e.select(c, b[d + k], a[d + k]) for k, c in enumerate(conds)]

    def ref(F, G, axis, sh):
        value, index = _extreme_ref(reduced_last(F, axis), kind)
        return np.concatenate([value, index], -1) if with_value else index

    if with_value:
        name = "Max_ArgMax" if kind == "max" else "Min_ArgMin"
        doc = f"the {kind} and its index, per component (values then indices)"
    else:
        name, doc = f"Arg{kind.capitalize()}", f"index of the {kind} (first on ties), per component"
    return ReductionDef(
        name,
        (lambda sh: 2 * sh.f) if with_value else (lambda sh: sh.f),
        ref,
        init,
        update,
        (lambda e, s, sh: s) if with_value else (lambda e, s, sh: s[sh.f :]),
        doc,
        merge=merge,
        output=_value_and_index if with_value else (lambda out, k: as_indices(out)),
        indices=True,
        index_lanes=lambda sh: range(sh.f, 2 * sh.f),
        threshold=(lambda e, s, sh: s[0]) if kind == "min" else None,
    )


def _value_and_index(out, k):
    d = out.shape[-1] // 2
    return out[:, :d], as_indices(out[:, d:])


register(
    ReductionDef(
        "Sum",
        lambda sh: sh.f,
        lambda F, G, axis, sh: reduced_last(F, axis).sum(1),
        lambda e, sh: [e.const(0.0)] * sh.f,
        lambda e, s, f, g, idx, sh: [e.add(a, b) for a, b in zip(s, f)],
        lambda e, s, sh: s,
        "sum over the reduced index",
        merge=lambda e, a, b, sh: [e.add(x, y) for x, y in zip(a, b)],
        grad=lambda t, F, v, e, g, sh, saved: t.call("Grad", F, v, e),
    ),
    _extremum("max"),
    _extremum("min"),
    _arg_extremum("max", False),
    _arg_extremum("min", False),
    _arg_extremum("max", True),
    _arg_extremum("min", True),
)
