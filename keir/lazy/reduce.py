"""Running a LazyTensor: naming its variables, a cached keir.Genred per formula, batches, solves.

A reduction turns the LazyTensor's formula into Genred text: variables are named a0, a1, ...
in the order of their first use (symbolic variables keep their given positions and come first),
and the same data used twice is one argument. Genred objects are cached in `_GENREDS` by
(formula, aliases, reduction, axis, K, weight, options): the same expression built again on new
arrays reuses the compiled kernel without even rebuilding its IR.

Batch dimensions run as one kernel call: the batches are stacked into one M B x N B problem
and a block-diagonal `ranges` pattern keeps each batch's block (runtime/ranges.py), as KeOps
does internally. Ranges given with batch dimensions (pykeops refuses them) apply to every
batch. A parameter that varies over the batch becomes an i-variable of the stacked problem.
"""

from __future__ import annotations

import dataclasses
import math
import re
import warnings

import numpy as np

from ..api import Genred
from ..errors import ArgumentError, NotSupportedError
from ..runtime.ranges import batch_offsets, batch_ranges
from .core import LazyTensor, combine, lift

_TOKEN = re.compile(r"_v\d+_")
_CATS = ("Vi", "Vj", "Pm")
_INIT_OPTIONS = ("dtype_acc", "use_double_acc", "sum_scheme", "enable_chunks", "use_fast_math")
_GENREDS: dict[tuple, Genred] = {}


class Program:
    """Formula texts with their variables named, and the aliases of the Genred running them."""

    def __init__(self, texts, variables, strict: bool = True):
        symbolic = {}
        for v in variables:
            if v.pos is not None:
                old = symbolic.setdefault(v.pos, v)
                if strict and (old.cat, old.dim) != (v.cat, v.dim):
                    raise ArgumentError(f"symbolic position {v.pos} is used with two types")
        if strict and sorted(symbolic) != list(range(len(symbolic))):
            raise ArgumentError(
                f"symbolic variables must use positions 0..{len(symbolic) - 1}, "
                f"got {sorted(symbolic)}"
            )
        names, by_key, specs = {}, {}, dict(symbolic)
        self.data, self.n_symbolic = [], len(symbolic)
        for v in variables:
            if v.pos is not None:
                names[v.token] = f"a{v.pos}"
                continue
            if v.key not in by_key:
                pos = max(specs, default=-1) + 1
                by_key[v.key], specs[pos] = f"a{pos}", v
                self.data.append(v)
            names[v.token] = by_key[v.key]
        self.cats = [specs[p].cat for p in sorted(specs)]
        self.aliases = [f"a{p} = {_CATS[specs[p].cat]}({specs[p].dim})" for p in sorted(specs)]
        self.texts = [
            None if t is None else _TOKEN.sub(lambda m: names[m.group()], t) for t in texts
        ]


def genred(formula, aliases, reduction_op, axis, opt_arg, formula2, options) -> Genred:
    """The Genred of this formula and reduction, built once per process."""
    key = (formula, tuple(aliases), reduction_op, axis, opt_arg, formula2, tuple(options.items()))
    if key not in _GENREDS:
        _GENREDS[key] = Genred(
            formula, aliases, reduction_op, axis, opt_arg=opt_arg, formula2=formula2, **options
        )
    return _GENREDS[key]


def clear_cache() -> None:
    _GENREDS.clear()


def _split_options(kwargs: dict) -> tuple[dict, dict]:
    if "optional_flags" in kwargs:
        raise NotSupportedError("optional_flags (compiler flags of KeOps) are not supported")
    init = {k: kwargs[k] for k in sorted(kwargs) if k in _INIT_OPTIONS}
    return init, {k: v for k, v in kwargs.items() if k not in _INIT_OPTIONS}


def reduce(lt, reduction_op, other, opt_arg, axis, dim, call, is_complex, kwargs):
    """LazyTensor.reduction: the result, or a ReducedLazyTensor when call=False or when
    symbolic variables remain to be given."""
    axis = dim if axis is None else axis
    operands = [lt] if other is None else [lt, lift(other, lt)]
    joined = combine(operands, lt._formula, lt.ndim, False)  # checks sizes, dtypes, batches
    nb = joined.nbatchdims
    if axis is None or axis - nb not in (0, 1):
        raise ArgumentError(
            f"a reduction needs axis (or dim) = {nb} to reduce over i or {nb + 1} over j "
            f"(the number of batch dimensions + 0 or 1); got {axis}"
        )
    if is_complex is None:
        is_complex = any(o.is_complex for o in operands)
    if is_complex and not (
        reduction_op == "Sum" or (reduction_op == "SumSoftMaxWeight" and not lt.is_complex)
    ):
        raise NotSupportedError(
            f"{reduction_op} of complex numbers: keir reduces complex formulas with Sum (and "
            "SumSoftMaxWeight of complex weights) only"
        )
    texts = [o._formula for o in operands] + [None] * (2 - len(operands))
    program = Program(texts, joined._vars)
    options, call_kwargs = _split_options(kwargs)
    if joined.ranges is not None:  # (a ranges= of the call wins, as in pykeops)
        call_kwargs.setdefault("ranges", joined.ranges)
    if lt.backend is not None:
        call_kwargs.setdefault("backend", lt.backend)
    g = genred(
        program.texts[0],
        program.aliases,
        reduction_op,
        axis - nb,
        opt_arg,
        program.texts[1],
        options,
    )
    reduced = joined._REDUCED or ReducedLazyTensor  # keir.torch runs its own
    res = reduced(g, program, joined.dtype, is_complex, call_kwargs)
    if call and program.n_symbolic == 0:
        return res()
    return res


class ReducedLazyTensor:
    """A reduction ready to run, as pykeops' reduced LazyTensor: call it with the arrays of the
    symbolic variables (in position order) to run the cached kernel on them and the data."""

    def __init__(self, genred, program, dtype, is_complex, kwargs):
        self.genred, self.program, self._dtype = genred, program, dtype
        self.is_complex, self.kwargs = is_complex, kwargs
        self.reduction_op, self.axis = genred.reduction_op, genred.axis
        self.formula, self.formula2, self.opt_arg = genred.formula, genred.formula2, genred.k

    def __repr__(self) -> str:
        lines = [
            "keir reduced LazyTensor",
            f"    formula: {self.formula}",
            f"    args: {', '.join(self.program.aliases)}",
            f"    reduction: {self.reduction_op} (axis={self.axis})",
        ]
        if self.formula2 is not None:
            lines.append(f"        formula2: {self.formula2}")
        if self.opt_arg:
            lines.append(f"        opt_arg: {self.opt_arg}")
        return "\n".join(lines)

    def __call__(self, *args, **kwargs):
        if len(args) != self.program.n_symbolic:
            raise ArgumentError(
                f"this reduction takes {self.program.n_symbolic} arrays (its symbolic "
                f"variables, in position order), got {len(args)}"
            )
        args = [np.asarray(a) for a in args]
        dtype = self._dtype or next(
            (a.dtype.name for a in args if a.dtype.name in ("float32", "float64")), "float64"
        )
        arrays = [a.astype(dtype, copy=False) for a in args]
        arrays += [v.array(dtype) for v in self.program.data]
        out = run_batched(self.genred, arrays, self.program.cats, {**self.kwargs, **kwargs})
        return _as_complex(out) if self.is_complex else out


def _batch_of(a: np.ndarray, cat: int) -> tuple:
    return a.shape[: max(a.ndim - (1 if cat == 2 else 2), 0)]


def run_batched(g: Genred, arrays, cats, kwargs):
    """g on 2-D arrays; with batch dimensions, one call of g on the stacked batches."""
    batches = [_batch_of(a, c) for a, c in zip(arrays, cats)]
    try:
        shape = tuple(np.broadcast_shapes(*batches))
    except ValueError:
        raise ArgumentError(f"incompatible batch dimensions {batches}") from None
    if not shape:
        return g(*arrays, **kwargs)
    out = kwargs.pop("out", None)
    res = _stacked_call(g, arrays, cats, shape, kwargs)
    if out is None:
        return res
    if isinstance(res, tuple) or out.shape != res.shape:
        raise ArgumentError(f"out: expected one array of shape {np.shape(res)}")
    out[...] = res
    return out


def _stacked_call(g: Genred, arrays, cats, shape: tuple, kwargs):
    """The batched reduction as one call: i- and j-variables broadcast to the batch shape and
    stacked (B M and B N rows), the block-diagonal ranges (or the user's, repeated per batch)
    keeping each batch to itself; the indices of index reductions made per batch again."""
    B = math.prod(shape)
    sizes = {c: next((a.shape[-2] for a, cc in zip(arrays, cats) if cc == c), 1) for c in (0, 1)}
    stacked, as_rows = [], []
    for pos, (a, c) in enumerate(zip(arrays, cats)):
        if c == 2 and a.shape[:-1] and math.prod(a.shape[:-1]) > 1:  # varies over the batch
            a = np.broadcast_to(a.reshape(*a.shape[:-1], 1, a.shape[-1]), (*shape, 1, a.shape[-1]))
            a = np.repeat(a, sizes[0], axis=-2)
            as_rows.append(pos)
            c = 0
        if c == 2:
            stacked.append(a.reshape(-1))
            continue
        n = a.shape[-2]
        stacked.append(np.broadcast_to(a, (*shape, n, a.shape[-1])).reshape(B * n, -1))
    if as_rows:
        g = with_row_parameters(g, as_rows)
    M, N = sizes[0], sizes[1]
    kwargs = dict(kwargs, ranges=batch_ranges(kwargs.get("ranges"), B, M, N))
    res = g(*stacked, **kwargs)
    reduced = N if g.axis == 1 else M
    parts = res if isinstance(res, tuple) else (res,)
    parts = tuple(_per_batch(p, B, reduced).reshape(*shape, -1, *p.shape[1:]) for p in parts)
    return parts if isinstance(res, tuple) else parts[0]


def _per_batch(part: np.ndarray, B: int, reduced: int) -> np.ndarray:
    """Index outputs count from each batch's first reduced row again (runtime.ranges)."""
    if part.dtype != np.int64:
        return part
    return np.maximum(part.reshape(B, -1) - batch_offsets(B, reduced), 0).reshape(part.shape)


def with_row_parameters(g: Genred, positions) -> Genred:
    """g with the parameters at `positions` read as i-variables (one value per stacked row);
    kept on g, so a batched call compiles it once."""
    variants = g.__dict__.setdefault("_row_variants", {})
    key = tuple(positions)
    if key not in variants:
        spec = g.spec
        aliases = tuple(
            dataclasses.replace(a, cat=0) if k in positions else a
            for k, a in enumerate(spec.aliases)
        )
        variants[key] = Genred.from_spec(dataclasses.replace(spec, aliases=aliases))
    return variants[key]


def _stack(parts, shape):
    return np.stack(parts).reshape(*shape, *parts[0].shape)


def _as_complex(out):
    if isinstance(out, np.ndarray) and out.dtype.kind == "f" and out.shape[-1] % 2 == 0:
        return np.ascontiguousarray(out).view(np.complex64 if out.dtype == np.float32 else complex)
    return out


# ---------------------------------------------------------------- linear solves
def solve_options(lt, var, call, kwargs) -> tuple:
    """Checks what LazyTensor.solve supports; pops and returns alpha, eps and maxiter."""
    if var is not None or not call:
        raise NotSupportedError("solve(var=...) and solve(call=False) are not supported")
    if lt.is_complex or any(v.pos is not None for v in lt._vars):
        raise NotSupportedError("solve needs a real LazyTensor without symbolic variables")
    return kwargs.pop("alpha", 1e-10), kwargs.pop("eps", 1e-6), kwargs.pop("maxiter", None)


def solve(lt, other, var, call, kwargs):
    """x with (alpha Id + K) x = b, K x = sum_j K_ij x_j: pykeops' LazyTensor.solve."""
    alpha, eps, maxiter = solve_options(lt, var, call, kwargs)
    b, cat = _right_hand_side(other)
    dtype = lt.dtype or (b.dtype.name if b.dtype.name in ("float32", "float64") else "float64")
    shape, b = b.shape, b.astype(dtype, copy=False)
    if b.ndim == 1:
        b = b[:, None]
    unknown = LazyTensor((0, b.shape[-1], 1 - cat))  # the symbolic x_j, multiplied by K_ij
    op = (lt * unknown).reduction("Sum", axis=lt.nbatchdims + 1 - cat, call=False, **kwargs)
    x = conjugate_gradient(lambda p: op(p) + alpha * p, b, eps, maxiter)
    return x.reshape(shape)


def _right_hand_side(other) -> tuple[np.ndarray, int]:
    """b and its category: an array is i-indexed, as in pykeops; a LazyTensor variable says."""
    if isinstance(other, LazyTensor):
        if len(other._vars) != 1 or other._formula != other._vars[0].token:
            raise ArgumentError("solve: the right-hand side must be an array or a variable")
        v = other._vars[0]
        if v.cat == 2 or v.data is None:
            raise ArgumentError("solve: the right-hand side must be i- or j-indexed data")
        return np.asarray(v.data), v.cat
    return np.asarray(other), 0


def conjugate_gradient(linop, b, eps: float = 1e-6, maxiter: int | None = None):
    """pykeops' ConjugateGradientSolver, on numpy arrays or torch tensors: stops when
    |r|^2 < b.size * eps^2. Unlike pykeops it also stops (with a warning) after maxiter
    iterations, 10 * b.size by default."""
    size = math.prod(b.shape)
    delta = size * eps**2
    a, r = 0 * b, 1 * b  # new arrays of b's kind: numpy, or torch for keir.torch
    nr2 = (r**2).sum()
    if nr2 < delta:
        return a
    p = 1 * r
    for _ in range(maxiter or 10 * size):
        Mp = linop(p)
        alp = nr2 / (p * Mp).sum()
        a += alp * p
        r -= alp * Mp
        nr2new = (r**2).sum()
        if nr2new < delta:
            return a
        p = r + (nr2new / nr2) * p
        nr2 = nr2new
    warnings.warn(
        f"solve: conjugate gradient stopped after {maxiter or 10 * size} iterations with "
        f"|r|^2 = {nr2:.3g} (target {delta:.3g}); is the system symmetric positive definite?",
        RuntimeWarning,
        stacklevel=3,
    )
    return a
