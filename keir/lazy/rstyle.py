"""RKeOps' function-call style: sum(K_ij, index = "i"), exp(x), sqdist(x, y), Re(z), ...

In R, LazyTensor operations are functions taking the LazyTensor first, and reductions name the
reduced index: sum(f, "j") is sum_j f_ij (pykeops' f.sum(axis=1)), sum(f, "i") is sum_i f_ij
(axis=0); without an index, sum(f) sums the inner dimension and stays symbolic. As in RKeOps,
a function given no LazyTensor falls back to the numpy function of the same name, if any.

Each function here is generated from the LazyTensor method of the same name; this module
shadows the builtins sum, min, max, abs and round, so import it qualified.
"""

from __future__ import annotations

import builtins

import numpy as np

from ..errors import ArgumentError
from .core import LazyTensor
from .methods import METHODS

_REDUCING = ("sum", "min", "max", "argmin", "argmax")  # vector op without an index
_K_INDEXED = ("Kmin", "argKmin", "Kmin_argKmin")
_COMPLEX = {"Re": "real", "Im": "imag", "Arg": "angle", "Mod": "abs", "Conj": "conj"}


def _axis(x: LazyTensor, index) -> int:
    if index not in ("i", "j"):
        raise ArgumentError(f'index must be "i" (reduce over i) or "j" (over j), got {index!r}')
    return x.nbatchdims + (0 if index == "i" else 1)


def _fallback(name: str, x, *args, **kwargs):
    f = getattr(np, name.lower(), None)
    if f is None:
        raise ArgumentError(f"{name}: expected a LazyTensor, got {type(x).__name__}")
    return f(x, *args, **kwargs)


def _function(name: str):
    def f(x, *args, **kwargs):
        if not isinstance(x, LazyTensor):
            return _fallback(name, x, *args, **kwargs)
        return getattr(x, name)(*args, **kwargs)

    f.__name__, f.__doc__ = name, f"{name}(x, ...) is x.{name}(...)."
    return f


def _reducing(name: str, method: str, needs_index: bool):
    def f(x, index=None, *args, **kwargs):
        if not isinstance(x, LazyTensor) and index is None:
            return _fallback(method, x)
        if not isinstance(x, LazyTensor):
            raise ArgumentError(f"{name}(x, index): x must be a LazyTensor")
        if index is None and not needs_index:
            return getattr(x, method)(-1)
        return getattr(x, method)(*args, axis=_axis(x, index), **kwargs)

    f.__name__ = name
    f.__doc__ = f'{name}(x, index): the {method} reduction over "i" or "j"' + (
        "; without index, over the inner dimension (symbolic)." if not needs_index else "."
    )
    return f


def _k_reducing(name: str):
    def f(x, K, index, **kwargs):
        return getattr(x, name)(K, axis=_axis(x, index), **kwargs)

    f.__name__, f.__doc__ = name, f'{name}(x, K, index): x.{name}(K) over "i" or "j".'
    return f


def logsumexp(x, index, weight=None, **kwargs):
    """logsumexp(f, "j", w): log sum_j exp(f_ij) w_j."""
    return x.logsumexp(axis=_axis(x, index), weight=weight, **kwargs)


def sumsoftmaxweight(x, index, weight, **kwargs):
    """sumsoftmaxweight(f, "j", w): sum_j exp(f_ij) w_j / sum_j exp(f_ij)."""
    return x.sumsoftmaxweight(weight, axis=_axis(x, index), **kwargs)


def grad(x, gradin, opstr, var, index):
    """RKeOps' grad(x, gradin, opstr, var, index): the reduction opstr (e.g. "Sum") over index
    of Grad(x, var, gradin)."""
    return x.grad(var, gradin).reduction(opstr, axis=_axis(x, index))


def _generate() -> dict:
    out = {}
    for line in METHODS.strip().splitlines():
        name = line.split("(")[0].strip()
        out[name] = _function(name)
    for name in ("abs", "clamp", "concat"):
        out[name] = _function(name)
    for name in _REDUCING:
        out[name] = _reducing(name, name, needs_index=False)
        out[f"{name}_reduction"] = _reducing(f"{name}_reduction", name, needs_index=True)
    for name in ("min_argmin", "max_argmax"):
        out[name] = _reducing(name, name, needs_index=True)
        out[f"{name}_reduction"] = _reducing(f"{name}_reduction", name, needs_index=True)
    for name in _K_INDEXED:
        out[name] = _k_reducing(name)
        out[f"{name}_reduction"] = _k_reducing(name)
    out["logsumexp_reduction"] = _alias(logsumexp)
    out["sumsoftmaxweight_reduction"] = _alias(sumsoftmaxweight)
    for rname, attr in _COMPLEX.items():
        out[rname] = _complex_part(rname, attr)
    return out


def _alias(f):
    def alias(*args, **kwargs):
        return f(*args, **kwargs)

    alias.__doc__ = f.__doc__
    return alias


def _complex_part(rname: str, attr: str):
    def f(z):
        value = getattr(z, attr)
        return value if attr in ("real", "imag") else value()

    f.__name__, f.__doc__ = rname, f"{rname}(z) is z.{attr} (RKeOps' complex {rname})."
    return f


FUNCTIONS = _generate()
for _name, _f in FUNCTIONS.items():
    _f.__qualname__ = _name
globals().update(FUNCTIONS)
FUNCTIONS.update(logsumexp=logsumexp, sumsoftmaxweight=sumsoftmaxweight, grad=grad)
__all__ = builtins.sorted(FUNCTIONS)
