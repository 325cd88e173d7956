"""keir.grad: the gradient of a reduction is itself a keir reduction, compiled like any other.

    g = keir.grad(f, "x")          # f: a Genred
    dx = g(x, y, b, gradin=e)      # d/dx of sum_r e_r . f(x, y, b)_r, shaped like x

The gradient formula is built with Grad (eliminated by keir-autodiff) and reduced over the
index that the variable does not carry: over j for an i-variable, over i for a j-variable, over
both for a parameter. Each reduction's rule (ReductionDef.grad, in keir.dialect.reductions)
builds the formula tree; reductions other than Sum need values of the forward pass, passed as
extra arguments ("saved forward", as keopscore's Grad_WithSavedForward):
    LogSumExp         sum_c Grad(F, v, e exp(F - out))
    SumSoftMaxWeight  sum_c Grad(g, v, p e) + Grad(F, v, p (e | g - out)),  p = exp(F - lse)
    Min, Max, KMin    the derivative at the selected index: Grad(F, v, e [c == argmin])
KeOps itself raises NotImplementedError for the last three; here the selected index is compared
with the reduced index, passed as an extra array of row numbers.

The gradient's Sum and the saved forward reductions keep f's accumulation options (sum_scheme,
dtype_acc), as pykeops.torch's backward does: a Kahan LogSumExp has a Kahan-summed gradient.
Every option valid for some reduction is valid for a Sum, so they always apply.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from .api import Genred, _infer_dtype
from .dialect.reductions import REDUCTIONS, RedShape
from .errors import ArgumentError, NotSupportedError
from .frontend import spec as trees
from .frontend.formula import ReductionSpec
from .frontend.spec import KernelSpec


class GradFunction:
    """d/d(wrt) of sum_r gradin_r . f(args)_r; call with f's arguments and gradin=."""

    def __init__(self, f, wrt):
        if not isinstance(f, (Genred, GradFunction)):
            raise ArgumentError("keir.grad differentiates a keir.Genred or another keir.grad")
        self.f = f
        base = f.spec
        self.var = _find(base, wrt)
        self.n_args = len(base.aliases)
        if isinstance(f, GradFunction):
            self._check_higher_order()
        rule = REDUCTIONS[f.kind].grad
        if rule is None:
            raise NotSupportedError(f"the gradient of a {f.kind} reduction is not supported")
        out_cat = 0 if f.axis == 1 else 1
        shapes = {  # (category, dim) of each value the rule may ask for (SAVED_ROLES)
            "out": (out_cat, f.out_dim_hint()),
            "selected": (out_cat, f.out_dim_hint()),
            "lse": (out_cat, 1),
            "index": (1 - out_cat, 1),
        }
        self._roles = ["gradin"]  # the extra arguments, in order: gradin, then saved forward
        spec, (e,) = base.with_arguments(("gradin", out_cat, f.out_dim_hint()))

        def saved(role: str):
            nonlocal spec
            self._roles.append(role)
            spec, (node,) = spec.with_arguments((role, *shapes[role]))
            return node

        g = base.reduction.weight
        shape = RedShape(f.out_dim_hint(), 0, f.k)
        formula = rule(trees, base.formula, trees.var(self.var.name), e, g, shape, saved)
        self.kind, self.k, self.formula2 = "Sum", 0, None
        self.axis = 0 if self.var.cat == 1 else 1
        red = ReductionSpec("Sum", self.axis)
        self.spec = KernelSpec(
            formula, spec.aliases, red, base.text, base.weight_text, base.options
        )
        self._genred = Genred.from_spec(self.spec)

    @property
    def needs_saved_forward(self) -> bool:
        return len(self._roles) > 1

    def _check_higher_order(self) -> None:
        if self.f.var.cat == 2:
            raise NotSupportedError("gradients of a parameter gradient are not supported")

    # ------------------------------------------------------------ what front ends reuse
    @property
    def genred(self) -> Genred:
        """The Sum reduction computing the gradient from (*args, gradin, *saved values)."""
        return self._genred

    @property
    def saved_roles(self) -> list[str]:
        """What each argument after gradin holds (keir.dialect.reductions.SAVED_ROLES): "out"
        (the forward output), "selected" (the indices Min, Max or KMin selected), "lse" (the
        LogSumExp of the formula) or "index" (row numbers of the reduced index). keir.torch
        and keir.dask compute them as tensors or dask arrays."""
        return list(self._roles[1:])

    # ------------------------------------------------------------ evaluation
    def out_dim_hint(self) -> int:
        return self.var.dim

    def _saved(self, args, dtype, ranges=None) -> list[np.ndarray]:
        f, saved = self.f, []
        for role in self._roles[1:]:
            if role == "out":
                saved.append(np.asarray(f(*args, ranges=ranges)))
            elif role == "selected":
                saved.append(_selected_indices(f, args, ranges))
            elif role == "lse":
                saved.append(Genred.from_spec(forward_spec(f, "lse"))(*args, ranges=ranges))
            elif role == "index":
                reduced = _rows(f, args, 1 if f.axis == 1 else 0)
                saved.append(np.arange(reduced, dtype=dtype)[:, None])
        return saved

    def __call__(self, *args, gradin=None, ranges=None):
        """`ranges`: the forward call's block-sparse 6-tuple; the gradient's reduction reads
        the half of its own axis (over i for a j-variable: ranges_j, slices_j, redranges_i)."""
        if len(args) != self.n_args:
            raise ArgumentError(f"expected the {self.n_args} arguments of the function")
        dtype = _infer_dtype(args)
        if gradin is None:
            gradin = np.ones_like(np.asarray(self.f(*args, ranges=ranges), dtype=dtype))
        gradin = np.asarray(gradin, dtype=dtype)
        gradin = gradin.reshape(gradin.shape[0], -1)  # KMin's (rows, K[, D]) -> (rows, K * D)
        out = self._genred(*args, gradin, *self._saved(args, dtype, ranges), ranges=ranges)
        if self.var.cat == 2:  # a parameter: also reduce over the other index
            return out.sum(0).reshape(np.shape(args[self.var.pos]))
        return out


def _find(spec: KernelSpec, wrt):
    for a in spec.aliases:
        if wrt == a.name or wrt == a.pos:
            return a
    names = ", ".join(a.name for a in spec.aliases)
    raise ArgumentError(f"keir.grad: no argument {wrt!r} (arguments: {names})")


def _rows(f, args, cat: int) -> int:
    for a, arr in zip(f.spec.aliases, args):
        if a.cat == cat:
            return np.shape(arr)[0]
    return 1


def forward_spec(f, role: str) -> KernelSpec:
    """The reduction of f's formula that gives a saved value: "lse" (its LogSumExp) or
    "selected" (the indices its Min, Max or KMin selects). keir.dask builds the same."""
    if role == "lse":
        return replace(f.spec, reduction=ReductionSpec("LogSumExp", f.axis))
    kind = REDUCTIONS[f.kind].selector
    red = ReductionSpec(kind, f.axis, f.k if REDUCTIONS[kind].uses_k else 0)
    return replace(f.spec, reduction=red)


def _selected_indices(f, args, ranges=None) -> np.ndarray:
    """The indices Min/Max/KMin selected, as floats (the kernel compares them with row numbers)."""
    idx = Genred.from_spec(forward_spec(f, "selected"))(*args, ranges=ranges)
    return np.asarray(idx, dtype=_infer_dtype(args)).reshape(len(idx), -1)


def grad(f, wrt) -> GradFunction:
    """The gradient of a keir.Genred (or of another keir.grad) with respect to argument `wrt`
    (its alias name or position), as a callable g(*args, gradin=...)."""
    return GradFunction(f, wrt)
