"""LazyTensor's formula methods and reductions, generated from tables rather than written out.

Each line of METHODS reads "method(arguments)  Operation(operands, parameters)": `self` is the
LazyTensor, the first `arity` names of the operation (keir's op table) are operands (LazyTensors,
numbers or arrays) and the rest its integer parameters. Names and argument orders are
pykeops.numpy's; a few extra methods give RKeOps' functions (inv, clampint, elemT, extractT)
and keir's Floor. `unary` and `binary` apply any other operation of keir by its KeOps name.
The docstring of each generated method is the operation's own one-line meaning.
"""

from __future__ import annotations

import inspect
import re

from ..dialect.ops import OPS
from ..errors import ArgumentError, DimensionError, NotSupportedError
from .core import LazyTensor, apply, lift

METHODS = """
exp()                        Exp(self)
log()                        Log(self)
xlogx()                      XLogX(self)
cos()                        Cos(self)
sin()                        Sin(self)
sinxdivx()                   SinXDivX(self)
asin()                       Asin(self)
acos()                       Acos(self)
atan()                       Atan(self)
atan2(other)                 Atan2(self, other)
sqrt()                       Sqrt(self)
rsqrt()                      Rsqrt(self)
square()                     Square(self)
inv()                        Inv(self)
sign()                       Sign(self)
step()                       Step(self)
relu()                       ReLU(self)
floor()                      Floor(self)
ifelse(other1, other2)       IfElse(self, other1, other2)
mod(modulus, offset=0)       Mod(self, modulus, offset)
round(other=0)               Round(self, other)
clampint(lo, hi)             ClampInt(self, lo, hi)
sqnorm2()                    SqNorm2(self)
norm2()                      Norm2(self)
normalize()                  Normalize(self)
sqdist(other)                SqDist(self, other)
weightedsqnorm(other)        WeightedSqNorm(other, self)
weightedsqdist(g, s)         WeightedSqDist(s, self, g)
elem(i)                      Elem(self, i)
elemT(m, n)                  ElemT(self, n, m)
extract(i, d)                Extract(self, i, d)
extractT(m, d)               ExtractT(self, m, d)
one_hot(D)                   OneHot(self, D)
bspline(x, k=0)              BSpline(self, x, k)
concat(other)                Concat(self, other)
matvecmult(other)            MatVecMult(self, other)
vecmatmult(other)            VecMatMult(self, other)
tensorprod(other)            TensorProd(self, other)
keops_kron(other, dimfself, dimfother)   Kron(self, other, dimfself, dimfother)
real2complex()               Real2Complex(self)
imag2complex()               Imag2Complex(self)
exp1j()                      ComplexExp1j(self)
"""

# pykeops methods for KeOps operations that keir does not implement.
UNSUPPORTED = {
    "softdtw_sqdist": "SoftDTW_SqDist",
    "difference_matrix": "DifferenceMatrix",
    "factorize": "Factorize",
    "auto_factorize": "AutoFactorize",
    "trace_operator": "TraceOperator",
}

# Methods that are a vector operation when axis is the last dimension, else a reduction.
VECTOR_OR_REDUCTION = {"sum": "Sum", "min": "Min", "max": "Max", "argmin": "ArgMin",
                       "argmax": "ArgMax"}  # fmt: skip
REDUCTIONS = {"min_argmin": "Min_ArgMin", "max_argmax": "Max_ArgMax"}
K_REDUCTIONS = {"Kmin": "KMin", "argKmin": "ArgKMin", "Kmin_argKmin": "KMin_ArgKMin"}

_CALL = re.compile(r"(\w+)\((.*)\)$")


def _parse(text: str):
    name, inner = _CALL.match(text.strip()).groups()
    return name, [a.strip() for a in inner.split(",") if a.strip()]


def _table_method(left: str, right: str):
    name, params = _parse(left)
    op, names = _parse(right)
    arity = OPS[op].arity
    sig = inspect.Signature(
        [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
        + [
            inspect.Parameter(
                p.split("=")[0],
                inspect.Parameter.POSITIONAL_OR_KEYWORD,
                default=int(p.split("=")[1]) if "=" in p else inspect.Parameter.empty,
            )
            for p in params
        ]
    )

    def method(self, *args, **kwargs):
        bound = sig.bind(self, *args, **kwargs)
        bound.apply_defaults()
        values = bound.arguments
        return apply(op, [values[n] for n in names[:arity]], [values[n] for n in names[arity:]])

    method.__name__ = method.__qualname__ = name
    method.__signature__ = sig
    method.__doc__ = f"``x.{left.replace('self', 'x')}`` is ``{right}``: {OPS[op].doc}."
    return name, method


def _unsupported(name: str, op: str):
    def method(self, *args, **kwargs):
        raise NotSupportedError(f"LazyTensor.{name}: the KeOps operation {op} is not in keir")

    method.__name__ = name
    method.__doc__ = f"Not supported: keir has no {op} operation."
    return name, method


def _axis(axis, dim):
    return dim if dim is not None else axis


def _vector_or_reduction(name: str, op: str):
    def method(self, axis=-1, dim=None, **kwargs):
        axis = _axis(axis, dim)
        if axis in (-1, len(self._shape) - 1):
            return apply(self._VECTOR_OPS.get(op, op), [self])
        return self.reduction(op, axis=axis, **kwargs)

    def reduction(self, axis=None, dim=None, **kwargs):
        return self.reduction(op, axis=axis, dim=dim, **kwargs)

    method.__name__, reduction.__name__ = name, f"{name}_reduction"
    method.__doc__ = (
        f"{op} over the inner dimension (axis=-1, the default), or the {op} reduction over i "
        f"(axis = nbatchdims) or j (axis = nbatchdims + 1)."
    )
    reduction.__doc__ = f"The {op} reduction over axis (or dim)."
    return [(name, method), (f"{name}_reduction", reduction)]


def _reduction(name: str, op: str):
    def method(self, axis=None, dim=None, **kwargs):
        return self.reduction(op, axis=axis, dim=dim, **kwargs)

    method.__name__ = name
    method.__doc__ = f"The {op} reduction: values and int64 indices over axis (or dim)."
    return [(name, method), (f"{name}_reduction", _redirect(name))]


def _k_reduction(name: str, op: str):
    def method(self, K, axis=None, dim=None, **kwargs):
        return self.reduction(op, opt_arg=K, axis=axis, dim=dim, **kwargs)

    method.__name__ = name
    method.__doc__ = f"The {op} reduction of the K smallest values over axis (or dim)."
    return [(name, method), (f"{name}_reduction", _redirect(name))]


def _redirect(name: str):
    def method(self, **kwargs):
        return getattr(self, name)(**kwargs)

    method.__name__ = f"{name}_reduction"
    method.__doc__ = f"Redirects to ``{name}``, as in pykeops."
    return method


def logsumexp(self, axis=None, dim=None, weight=None, **kwargs):
    """log sum exp(x) over axis (or dim); with a weight w, log sum exp(x) w. pykeops also
    takes the weight as other=."""
    if weight is None:
        weight = kwargs.pop("other", None)
    return self.reduction("LogSumExp", other=weight, axis=axis, dim=dim, **kwargs)


def sumsoftmaxweight(self, weight, axis=None, dim=None, **kwargs):
    """sum exp(x) w / sum exp(x) over axis (or dim): the softmax-weighted average of w."""
    return self.reduction("SumSoftMaxWeight", other=weight, axis=axis, dim=dim, **kwargs)


def keops_tensordot(self, other, dimfa, dimfb, contfa, contfb, *args):
    """TensorDot(x, y, dimfa, dimfb, contfa, contfb[, permute]) of row-major tensors."""
    params = [tuple([p] if isinstance(p, int) else p) for p in (dimfa, dimfb, contfa, contfb)]
    params += [tuple([p] if isinstance(p, int) else p) for p in args]
    return apply("TensorDot", [self, other], params)


def unary(self, operation, dimres=None, opt_arg=None, opt_arg2=None, is_complex=None):
    """operation(x[, opt_arg[, opt_arg2]]) for any keir operation by its KeOps name, e.g.
    x.unary("SumT", opt_arg=4); integer parameters only (pykeops' low-level form)."""
    params = [p for p in (opt_arg, opt_arg2) if p is not None]
    return apply(operation, [self], params, dim=dimres)


def binary(self, other, operation, is_operator=False, dimres=None, dimcheck=None,
           opt_arg=None, opt_pos="last", rversion=False, is_complex=None):  # fmt: skip
    """operation(x, y[, opt_arg]), or (x operation y) if is_operator; rversion swaps x and y.
    keir checks dimensions itself, so dimcheck is ignored."""
    if opt_pos != "last":
        raise NotSupportedError("binary(opt_pos='middle') is not supported: use grad / diff")
    operands = [other, self] if rversion else [self, other]
    params = [] if opt_arg is None else [opt_arg]
    return apply(operation, operands, params, dim=dimres, infix=is_operator)


def _variable(v, method: str):
    if not (isinstance(v, LazyTensor) and len(v._vars) == 1 and v._formula == v._vars[0].token):
        raise ArgumentError(f"{method}: differentiate with respect to a variable LazyTensor")
    return v


def grad(self, other, gradin):
    """Grad(x, v, e): the gradient of x with respect to the variable v, applied to e."""
    gradin = lift(gradin, self)
    if gradin.ndim != self.ndim:
        raise DimensionError(f"grad: gradin has dim {gradin.ndim}, the formula {self.ndim}")
    return apply("Grad", [self, _variable(other, "grad"), gradin], dim=other.ndim)


def diff(self, other, diffin):
    """Diff(x, v, u): the differential of x with respect to v, applied to u."""
    return apply("Diff", [self, _variable(other, "diff"), diffin], dim=self.ndim)


def grad_matrix(self, other):
    """GradMatrix(x, v): the gradient of every component of x with respect to v."""
    return apply("GradMatrix", [self, _variable(other, "grad_matrix")], dim=self.ndim * other.ndim)


def divergence(self, var):
    """Divergence(x, v) of a formula x with the dimension of v."""
    if var.ndim != self.ndim:
        raise DimensionError(f"divergence: the formula has dim {self.ndim}, v {var.ndim}")
    return apply("Divergence", [self, _variable(var, "divergence")], dim=1)


def laplacian(self, var):
    """Laplacian(x, v) of a scalar formula x."""
    return apply("Laplacian", [self, _variable(var, "laplacian")], dim=1)


def _all_methods():
    for line in METHODS.strip().splitlines():
        left, right = re.split(r"\s{2,}", line.strip())
        yield _table_method(left, right)
    yield from (_unsupported(n, op) for n, op in UNSUPPORTED.items())
    for name, op in VECTOR_OR_REDUCTION.items():
        yield from _vector_or_reduction(name, op)
    for name, op in REDUCTIONS.items():
        yield from _reduction(name, op)
    for name, op in K_REDUCTIONS.items():
        yield from _k_reduction(name, op)
    yield "logsumexp", logsumexp
    yield "logsumexp_reduction", _redirect("logsumexp")
    yield "sumsoftmaxweight", sumsoftmaxweight
    yield "sumsoftmaxweight_reduction", _redirect("sumsoftmaxweight")
    for f in (keops_tensordot, grad, diff, grad_matrix, divergence, laplacian, unary, binary):
        yield f.__name__, f


def install() -> list[str]:
    """Attaches the methods to LazyTensor; returns their names (for the docs and tests)."""
    names = []
    for name, method in _all_methods():
        setattr(LazyTensor, name, method)
        names.append(name)
    LazyTensor.__min__, LazyTensor.__max__ = LazyTensor.min, LazyTensor.max
    return names


METHOD_NAMES = install()
