"""keir.grad: the gradient of a reduction is itself a keir reduction, compiled like any other.

    g = keir.grad(f, "x")          # f: a Genred
    dx = g(x, y, b, gradin=e)      # d/dx of sum_r e_r . f(x, y, b)_r, shaped like x

The gradient formula is built with Grad (eliminated by keir-autodiff) and reduced over the
index that the variable does not carry: over j for an i-variable, over i for a j-variable, over
both for a parameter. Reductions other than Sum need values of the forward pass, passed as
extra arguments ("saved forward", as keopscore's Grad_WithSavedForward):
    LogSumExp         sum_c Grad(F, v, e exp(F - out))
    SumSoftMaxWeight  sum_c Grad(g, v, p e) + Grad(F, v, p (e | g - out)),  p = exp(F - lse)
    Min, Max, KMin    the derivative at the selected index: Grad(F, v, e [c == argmin])
KeOps itself raises NotImplementedError for the last three; here the selected index is compared
with the reduced index, passed as an extra array of row numbers.
"""

from __future__ import annotations

import numpy as np

from .api import Genred, _infer_dtype
from .errors import ArgumentError, NotSupportedError
from .frontend.aliases import parse_aliases

_SUPPORTED = ("Sum", "LogSumExp", "SumSoftMaxWeight", "Min", "Max", "KMin")
_CAT = ("Vi", "Vj")


class GradFunction:
    """d/d(wrt) of sum_r gradin_r . f(args)_r; call with f's arguments and gradin=."""

    def __init__(self, f, wrt):
        if not isinstance(f, (Genred, GradFunction)):
            raise ArgumentError("keir.grad differentiates a keir.Genred or another keir.grad")
        self.f = f
        aliases = parse_aliases(f.aliases)
        self.var = _find(aliases, wrt)
        self.n_args = len(aliases)
        if isinstance(f, GradFunction):
            self._check_higher_order()
        kind = f.kind
        if kind not in _SUPPORTED:
            raise NotSupportedError(f"the gradient of a {kind} reduction is not supported")
        out_cat = 0 if f.axis == 1 else 1
        self._extra = []  # (alias, how to compute the array) for saved forward values
        e = self._new(f"{_CAT[out_cat]}({f.out_dim_hint()})", "gradin")
        formula = self._formula(kind, f, e, out_cat)
        self.formula = formula
        self.aliases = list(f.aliases) + [a for a, _ in self._extra]
        self.kind, self.k, self.formula2 = "Sum", 0, None
        self.axis = 0 if self.var.cat == 1 else 1
        self._genred = Genred(formula, self.aliases, reduction_op="Sum", axis=self.axis)

    # ------------------------------------------------------------ formula construction
    def _new(self, spec: str, role: str) -> str:
        name = f"_keir_{role}{len(self.f.aliases) + len(self._extra)}"  # unique in the aliases
        self._extra.append((f"{name} = {spec}", role))
        return name

    def _formula(self, kind: str, f, e: str, out_cat: int) -> str:
        F, v = f.formula, self.var.name
        if kind == "Sum":
            return f"Grad({F}, {v}, {e})"
        out = self._new(f"{_CAT[out_cat]}({f.out_dim_hint()})", "out")
        if kind == "LogSumExp":
            if f.formula2 is None:
                return f"Grad({F}, {v}, {e} * Exp({F} - {out}))"
            w, g = f"Exp({F} - {out})", f.formula2
            return f"Grad({F}, {v}, Sum({e} * {w} * ({g}))) + Grad({g}, {v}, {e} * {w})"
        if kind == "SumSoftMaxWeight":
            lse = self._new(f"{_CAT[out_cat]}(1)", "lse")
            p, g = f"Exp({F} - {lse})", f.formula2
            return f"Grad({g}, {v}, {p} * {e}) + Grad({F}, {v}, {p} * ({e} | ({g}) - {out}))"
        index = self._new(f"{_CAT[1 - out_cat]}(1)", "index")  # row numbers of the reduced index
        picked = f"Equal({index}, {out})"  # out here holds the selected indices
        if kind == "KMin":
            K = f.k
            return f"Grad({F}, {v}, VecMatMult(SumT(IntCst(1), {K}), {e} * {picked}))"
        return f"Grad({F}, {v}, {e} * {picked})"

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
        """What each argument after gradin holds: "out" (the forward output; for Min, Max and
        KMin the selected indices), "lse" (the LogSumExp of the formula) or "index" (row
        numbers of the reduced index). keir.torch computes them as tensors."""
        return [role for _, role in self._extra[1:]]

    # ------------------------------------------------------------ evaluation
    def out_dim_hint(self) -> int:
        return self.var.dim

    def _saved(self, args, dtype) -> list[np.ndarray]:
        f, saved = self.f, []
        for _, role in self._extra[1:]:
            if role == "out":
                if f.kind in ("Min", "Max", "KMin"):
                    saved.append(_selected_indices(f, args))
                else:
                    saved.append(np.asarray(f(*args)))
            elif role == "lse":
                lse = Genred(f.formula, f.aliases, reduction_op="LogSumExp", axis=f.axis)
                saved.append(lse(*args))
            elif role == "index":
                reduced = _rows(f, args, 1 if f.axis == 1 else 0)
                saved.append(np.arange(reduced, dtype=dtype)[:, None])
        return saved

    def __call__(self, *args, gradin=None):
        if len(args) != self.n_args:
            raise ArgumentError(f"expected the {self.n_args} arguments of the function")
        dtype = _infer_dtype(args)
        if gradin is None:
            gradin = np.ones_like(np.asarray(self.f(*args), dtype=dtype))
        gradin = np.asarray(gradin, dtype=dtype)
        gradin = gradin.reshape(gradin.shape[0], -1)  # KMin's (rows, K[, D]) -> (rows, K * D)
        out = self._genred(*args, gradin, *self._saved(args, dtype))
        if self.var.cat == 2:  # a parameter: also reduce over the other index
            return out.sum(0).reshape(np.shape(args[self.var.pos]))
        return out


def _find(aliases, wrt):
    for a in aliases:
        if wrt == a.name or wrt == a.pos:
            return a
    names = ", ".join(a.name for a in aliases)
    raise ArgumentError(f"keir.grad: no argument {wrt!r} (arguments: {names})")


def _rows(f, args, cat: int) -> int:
    for a, arr in zip(parse_aliases(f.aliases), args):
        if a.cat == cat:
            return np.shape(arr)[0]
    return 1


def _selected_indices(f, args) -> np.ndarray:
    """The indices Min/Max/KMin selected, as floats (the kernel compares them with row numbers)."""
    kind = {"Min": "ArgMin", "Max": "ArgMax", "KMin": "ArgKMin"}[f.kind]
    opt = {"opt_arg": f.k} if f.kind == "KMin" else {}
    idx = Genred(f.formula, f.aliases, reduction_op=kind, axis=f.axis, **opt)(*args)
    return np.asarray(idx, dtype=_infer_dtype(args)).reshape(len(idx), -1)


def grad(f, wrt) -> GradFunction:
    """The gradient of a keir.Genred (or of another keir.grad) with respect to argument `wrt`
    (its alias name or position), as a callable g(*args, gradin=...)."""
    return GradFunction(f, wrt)
