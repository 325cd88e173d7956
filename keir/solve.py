"""pykeops.numpy.KernelSolve: a = (alpha Id + K)^-1 b by conjugate gradients, where K a is the
Sum reduction of a formula linear in the variable `varinvalias`.

Same signature as pykeops 2.3: `KernelSolve(formula, aliases, varinvalias, axis=0, ...)`, then
`K_inv(*args, backend="auto", device_id=-1, alpha=1e-10, eps=1e-6)` with b given in the place
of the unknown variable. Each iteration runs the compiled Sum reduction once (a Genred);
the iteration is keir's (keir.lazy.reduce.conjugate_gradient, pykeops' stopping rule).
"""

from __future__ import annotations

import numpy as np

from .api import Genred
from .errors import ArgumentError


class KernelSolve:
    """Solves (alpha Id + K) a = b for a; K is `formula` summed over `axis`, linear in the
    variable `varinvalias` (a name of `aliases` or its "Var(pos, dim, cat)")."""

    def __init__(
        self,
        formula,
        aliases,
        varinvalias,
        axis=0,
        dtype=None,
        opt_arg=None,
        dtype_acc="auto",
        use_double_acc=False,
        sum_scheme="auto",
        enable_chunks=True,
        rec_multVar_highdim=None,
        use_fast_math=True,
    ):
        self.genred = Genred(
            formula,
            aliases,
            reduction_op="Sum",
            axis=axis,
            dtype=dtype,
            dtype_acc=dtype_acc,
            use_double_acc=use_double_acc,
        )
        self.formula, self.aliases, self.axis = formula, list(aliases), axis
        self.varinvalias, self.varinvpos = varinvalias, _position(self.aliases, varinvalias)

    def __call__(
        self,
        *args,
        backend="auto",
        device_id=-1,
        alpha=1e-10,
        eps=1e-6,
        ranges=None,
        threads=None,
        maxiter=None,
    ):
        """a with (alpha Id + K) a = b, b given in the place of the unknown among `args`;
        conjugate gradients until |r|^2 < size(b) eps^2 (or `maxiter` iterations)."""
        from .lazy.reduce import conjugate_gradient

        k = self.varinvpos
        if k >= len(args):
            raise ArgumentError(
                f"KernelSolve: expected {len(self.aliases)} arrays, got {len(args)}"
            )
        b = np.asarray(args[k])
        if b.dtype.name not in ("float32", "float64"):
            b = b.astype(np.float64)
        shape = b.shape
        b = b.reshape(len(b), -1) if b.ndim == 1 else b

        def linop(var):
            rest = (*args[:k], var, *args[k + 1 :])
            out = self.genred(
                *rest, backend=backend, device_id=device_id, threads=threads, ranges=ranges
            )
            if out.shape != var.shape:
                raise ArgumentError(
                    f"KernelSolve: K maps {self.varinvalias} of shape {var.shape} to shape "
                    f"{out.shape}; the system must be square (as many output rows as rows of "
                    f"{self.varinvalias}, and the formula's dimension equal to its)"
                )
            return out + alpha * var if alpha else out

        return conjugate_gradient(linop, b, eps, maxiter).reshape(shape)


def _position(aliases: list, var: str) -> int:
    """The argument position of `var`: an alias name or "Var(pos, dim, cat)"."""
    from .frontend.aliases import parse_aliases

    if not isinstance(var, str):
        raise ArgumentError(f"varinvalias must be an alias name, got {var!r}")
    if var.replace(" ", "").startswith("Var("):
        return parse_aliases([f"v = {var}"])[0].pos
    parsed = parse_aliases(aliases)
    for a in parsed:
        if a.name == var:
            return a.pos
    names = ", ".join(a.name for a in parsed)
    raise ArgumentError(f"varinvalias {var!r} is not among the aliases ({names})")
