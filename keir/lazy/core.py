"""LazyTensor: a symbolic (M, N, D) array, a keir formula over the arrays it wraps.

Every operation returns a new LazyTensor whose formula text applies one KeOps operation to its
operands' formulas, with variables written as unique tokens; nothing is computed. A reduction
names the variables a0, a1, ..., compiles (once, see reduce.py) a keir.Genred and runs it. The
result dimension of each operation comes from keir's own op table (keir.dialect.ops), so the
dimension rules, and their error messages, are the compiler's.

This module holds the class, its constructor conventions and the Python operators; the many
one-line formula methods are generated from a table in methods.py, reductions and solves live
in reduce.py and complex numbers in complex.py. It stays long (~490 lines): the class and its
Python operators are one type's interface, and splitting the dunders off would scatter it.
"""

from __future__ import annotations

import math
import re

import numpy as np

from ..dialect.ops import OPS, DimRuleError
from ..errors import ArgumentError, DimensionError, NotSupportedError
from . import variables as V

# Infix operators of the formula language and the ops whose dimension rule they follow.
_INFIX = {
    "+": "Add",
    "-": "Subtract",
    "*": "Mult",
    "/": "Divide",
    "|": "Scalprod",
    "<": "LessThan",
    ">": "LessThan",
    "<=": "LessOrEqual",
    ">=": "LessOrEqual",
}
# How an op treats complex operands comes from its OpDef (`complex`); Grad and Diff are not ops
# of the table (the frontend expands them) and mean the same on (re, im) pairs.
_DERIVATIVES = ("Grad", "Diff")


def _complex_role(op: str) -> str:
    if op in _DERIVATIVES:
        return "safe"
    d = OPS.get(_INFIX.get(op, op))
    return d.complex if d is not None else ""


def _scalar_is(x, value) -> bool:
    return isinstance(x, (int, float, complex)) and not isinstance(x, bool) and x == value


def _render_param(p) -> str:
    if isinstance(p, (tuple, list)):
        return "[" + ",".join(_render_param(q) for q in p) + "]"
    if isinstance(p, (bool, np.bool_)) or not isinstance(p, (int, np.integer)):
        raise ArgumentError(f"expected an integer (or a tuple of integers), got {p!r}")
    return str(int(p))


def _same(name: str, values) -> object:
    """pykeops' `promote`: the attribute of the operands that have it, which must agree."""
    found = {v for v in values if v is not None}
    if len(found) > 1:
        raise ArgumentError(f"incompatible operands: {name} values {sorted(found)}")
    return found.pop() if found else None


def _broadcast_batch(shapes) -> tuple | None:
    shapes = [s for s in shapes if s is not None]
    if not shapes:
        return None
    try:
        return tuple(np.broadcast_shapes(*shapes))
    except ValueError:
        shown = " and ".join(map(str, shapes))
        raise ArgumentError(f"incompatible batch dimensions: {shown}") from None


def family(operands) -> type:
    """The LazyTensor class that results of these operands belong to: keir.torch's LazyTensors
    (a higher _FAMILY_RANK) win over plain ones (numbers lifted to parameters)."""
    ranked = [type(o)._REAL for o in operands if isinstance(o, LazyTensor)]
    return max(ranked, key=lambda c: c._FAMILY_RANK, default=LazyTensor)


def lift(x, like=None) -> LazyTensor:
    """An operand as a LazyTensor (of the family of `like`): ints become IntCst, floats and
    small arrays parameters."""
    if isinstance(x, LazyTensor):
        return x
    return (LazyTensor if like is None else type(like)._REAL)(x)


def apply(op: str, operands, params=(), dim: int | None = None, infix: bool = False):
    """The LazyTensor `op(operands..., params...)`, or `(a op b)` for an infix operator."""
    cls = family(operands)
    operands = [o if isinstance(o, LazyTensor) else cls(o) for o in operands]
    is_complex = any(o.is_complex for o in operands)
    role = _complex_role(op) if not infix else ""
    if is_complex and not role:
        raise NotSupportedError(
            f"{op} of a ComplexLazyTensor: keir has no complex {op}, and applying it to the "
            "interleaved real and imaginary parts (as pykeops does) would not mean a complex "
            f"{op}; use .real / .imag / abs() first"
        )
    dims = [o.ndim for o in operands]
    if dim is None:
        d = OPS[_INFIX[op] if infix else op]
        try:
            dim = d.dim(*dims, **{**d.defaults, **dict(zip(d.params, params))})
        except (DimRuleError, TypeError) as e:
            name = f"{d.name} ({op})" if infix else op
            raise DimensionError(f"{name}: {e} (operand dims {dims})") from None
    texts = [o._formula for o in operands]
    if infix:
        formula = f"({texts[0]} {op} {texts[1]})"
    else:
        formula = f"{op}({', '.join(texts + [_render_param(p) for p in params])})"
    if role == "to_complex":
        is_complex = True
    elif role == "to_real":
        is_complex = False
    return combine(operands, formula, dim, is_complex)


def combine(operands, formula: str, ndim: int, is_complex: bool) -> LazyTensor:
    """A new LazyTensor over the union of the operands' variables (each variable once)."""
    seen, variables = set(), []
    for o in operands:
        for v in o._vars:
            if id(v) not in seen:
                seen.add(id(v))
                variables.append(v)
    res = family(operands)._build(
        is_complex,
        formula=formula,
        variables=tuple(variables),
        ndim=ndim,
        batchdims=_broadcast_batch([o.batchdims for o in operands]),
        ni=_same("ni (number of i rows)", [o.ni for o in operands]),
        nj=_same("nj (number of j rows)", [o.nj for o in operands]),
        dtype=_same("dtype", [o._dtype for o in operands]),
    )
    ranges = _same_ranges([o.ranges for o in operands])
    if ranges is not None:
        res.ranges = ranges
    return res


def _same_ranges(all_ranges):
    """The block-sparsity pattern the operands set (pykeops' promote: two must be equal)."""
    given = [r for r in all_ranges if r is not None]
    for other in given[1:]:
        if other is not given[0] and not (
            len(other) == len(given[0])
            and all(np.array_equal(np.asarray(a), np.asarray(b)) for a, b in zip(other, given[0]))
        ):
            raise ArgumentError("operands have different ranges (block-sparsity patterns)")
    return given[0] if given else None


class LazyTensor:
    """A symbolic array of shape (*batch, M, N, D), as pykeops.numpy.LazyTensor.

    LazyTensor(x[:, None, :]) is i-indexed, LazyTensor(y[None, :, :]) j-indexed, a float or a
    1-D array a parameter, an int an IntCst; LazyTensor(x, "i") / LazyTensor(x, axis=0) wraps a
    2-D array as RKeOps / pykeops do; a complex array (or is_complex=True) gives a
    ComplexLazyTensor. Reductions (.sum(axis=1), .argKmin(K, axis=0), K @ v, ...) compile and
    run the formula.
    """

    __array_ufunc__ = None  # numpy_array + lazy -> lazy.__radd__, not an elementwise loop
    __iter__ = None  # __getitem__ indexes components; a LazyTensor is not a sequence
    is_complex = False
    _FAMILY_RANK = 0  # see family(); _REAL (this family's real class) is set below the class
    ranges = None  # pykeops' block-sparsity 6-tuple (keir.runtime.ranges), used by reductions
    backend = None  # pykeops: a default backend= for this LazyTensor's reductions
    _REDUCED = None  # the class running reductions; None: keir.lazy.reduce.ReducedLazyTensor
    _VECTOR_OPS: dict = {}  # vector op replacements (ComplexLazyTensor: Sum -> ComplexSum)

    def __new__(cls, x=None, axis=None, is_complex=False, index=None):
        if cls is LazyTensor and (is_complex or V.is_complex_input(x)):
            from .complex import ComplexLazyTensor

            cls = ComplexLazyTensor
        return object.__new__(cls)

    def __init__(self, x=None, axis=None, is_complex=False, index=None):
        if x is None:
            raise ArgumentError("LazyTensor() needs an array, a number or an (ind, dim, cat)")
        self._set(**V.from_input(x, V.axis_of(axis, index), self.is_complex))

    def _set(self, formula, variables, ndim, batchdims=None, ni=None, nj=None, dtype=None):
        self._formula, self._vars, self.ndim = formula, variables, ndim
        self.batchdims, self.ni, self.nj, self._dtype = batchdims, ni, nj, dtype

    @classmethod
    def _complex_class(cls) -> type:
        from .complex import ComplexLazyTensor

        return ComplexLazyTensor

    @classmethod
    def _build(cls, is_complex: bool, **fields) -> LazyTensor:
        """A LazyTensor of this family with the given fields (no constructor conventions)."""
        res = object.__new__(cls._complex_class() if is_complex else cls._REAL)
        res._set(**fields)
        return res

    # ------------------------------------------------------------ shape and description
    @property
    def dtype(self):
        return self._dtype

    @property
    def _shape(self) -> tuple:
        """(*batch, M, N, D), with 1 for sizes no variable gives (pykeops)."""
        return (*(self.batchdims or ()), self.ni or 1, self.nj or 1, self.ndim)

    @property
    def shape(self) -> tuple:
        s = self._shape
        return s[:-1] if s[-1] == 1 else s

    def dim(self) -> int:
        return len(self._shape)

    @property
    def nbatchdims(self) -> int:
        return len(self.batchdims or ())

    @property
    def dimres(self) -> int:
        """The inner dimension D (RKeOps' dimres; pykeops' ndim)."""
        return self.ndim

    def _program(self, strict: bool = False):
        from .reduce import Program

        return Program([self._formula], self._vars, strict=strict)

    @property
    def formula(self) -> str:
        """The formula, its variables named a0, a1, ... in the order of `args`."""
        return self._program().texts[0]

    @property
    def args(self) -> list[str]:
        """The aliases of the arguments, each variable once (RKeOps' `args`)."""
        return self._program().aliases

    @property
    def data(self) -> list:
        """The arrays (or lists of floats) of the non-symbolic arguments (RKeOps' `data`)."""
        return [v.data for v in self._program().data]

    variables = property(lambda self: tuple(self.data), doc="pykeops' name for `data`.")

    def __repr__(self) -> str:
        kind = "ComplexLazyTensor" if self.is_complex else "LazyTensor"
        program = self._program()
        return (
            f"keir {kind}\n    formula: {program.texts[0]}\n"
            f"    args: {', '.join(program.aliases)}\n    shape: {self.shape}"
        )

    __str__ = __repr__

    # ------------------------------------------------------------ arithmetic
    def addop(self, other):
        return apply("+", [self, other], infix=True)

    def subop(self, other):
        return apply("-", [self, other], infix=True)

    def mulop(self, other):
        return apply("*", [self, other], infix=True)

    def divop(self, other):
        return apply("/", [self, other], infix=True)

    def __add__(self, other):
        if _scalar_is(other, 0):
            return self
        other = lift(other, self)
        if other.is_complex and not self.is_complex:
            return self.real2complex().addop(other)
        return self.addop(other)

    def __radd__(self, other):
        return self if _scalar_is(other, 0) else lift(other, self) + self

    def __sub__(self, other):
        if _scalar_is(other, 0):
            return self
        other = lift(other, self)
        if other.is_complex and not self.is_complex:
            return self.real2complex().subop(other)
        return self.subop(other)

    def __rsub__(self, other):
        return -self if _scalar_is(other, 0) else lift(other, self) - self

    def __mul__(self, other):
        if _scalar_is(other, 0):
            return 0  # as pykeops: multiplying by the literal 0 gives the number 0
        if _scalar_is(other, 1):
            return self
        if _scalar_is(other, -1):
            return -self
        other = lift(other, self)
        if other.is_complex and not self.is_complex:
            return other.mulop(self)
        return self.mulop(other)

    def __rmul__(self, other):
        if _scalar_is(other, 0) or _scalar_is(other, 1) or _scalar_is(other, -1):
            return self * other
        return lift(other, self) * self

    def __truediv__(self, other):
        if _scalar_is(other, 1):
            return self
        other = lift(other, self)
        if other.is_complex and not self.is_complex:
            return self.real2complex().divop(other)
        return self.divop(other)

    def __rtruediv__(self, other):
        if _scalar_is(other, 0):
            return 0
        if _scalar_is(other, 1) and not self.is_complex:
            return apply("Inv", [self])
        return lift(other, self) / self

    def __or__(self, other):
        return apply("|", [self, other], infix=True)

    def __ror__(self, other):
        return apply("|", [other, self], infix=True)

    def __neg__(self):
        return apply("Minus", [self])

    def __abs__(self):
        return apply("Abs", [self])

    def abs(self):
        return abs(self)

    def __pow__(self, other):
        """x**2 is Square, x**0.5 Sqrt, x**-0.5 Rsqrt, x**n Pow(x, n), else Powf (pykeops)."""
        if isinstance(other, (int, np.integer)) and not isinstance(other, bool):
            return apply("Square", [self]) if other == 2 else apply("Pow", [self], [other])
        if isinstance(other, (float, np.floating)):
            if other == 0.5:
                return apply("Sqrt", [self])
            if other == -0.5:
                return apply("Rsqrt", [self])
        if isinstance(other, (float, np.floating, LazyTensor)):
            other = lift(other, self)
            if other.ndim not in (1, self.ndim):
                raise DimensionError(
                    f"Powf: the exponent has dim {other.ndim}, the base {self.ndim}; "
                    "they must be equal or the exponent 1"
                )
            return apply("Powf", [self, other])
        raise ArgumentError("the exponent must be an integer, a float or a LazyTensor")

    def power(self, other):
        return self**other

    # Comparisons give 0/1-valued LazyTensors, as in pykeops; so LazyTensors are unhashable.
    def __eq__(self, other):
        return apply("Equal", [self, other])

    def __ne__(self, other):
        return apply("NotEqual", [self, other])

    def __lt__(self, other):
        return apply("<", [self, other], infix=True)

    def __gt__(self, other):
        return apply(">", [self, other], infix=True)

    def __le__(self, other):
        return apply("<=", [self, other], infix=True)

    def __ge__(self, other):
        return apply(">=", [self, other], infix=True)

    __hash__ = None

    def sinc(self):
        """sin(pi x) / (pi x), as pykeops: SinXDivX(pi * x)."""
        return (math.pi * self).sinxdivx()

    def clamp(self, other1, other2):
        """ClampInt(x, a, b) for integer bounds, else Clamp(x, a, b)."""
        if all(isinstance(o, int) and not isinstance(o, bool) for o in (other1, other2)):
            return apply("ClampInt", [self], [other1, other2])
        return apply("Clamp", [self, other1, other2])

    def norm(self, dim):
        if dim not in (-1, len(self._shape) - 1):
            raise NotSupportedError("LazyTensor norms are only taken over the last dimension")
        return self.norm2()

    def __getitem__(self, key):
        """x[k] is Elem(x, k), x[k:l] Extract(x, k, l - k); only the last axis is indexed."""
        if isinstance(key, tuple):
            if len(key) != len(self._shape) or key[:-1] != (slice(None),) * (len(key) - 1):
                raise NotSupportedError("LazyTensors are only indexed along their last axis")
            key = key[-1]
        if isinstance(key, slice):
            if key.step not in (None, 1):
                raise NotSupportedError("LazyTensor slices take no step")
            start, stop = key.start or 0, self.ndim if key.stop is None else key.stop
            return apply("Extract", [self], [start, stop - start])
        if isinstance(key, (int, np.integer)):
            return apply("Elem", [self], [key])
        raise ArgumentError("LazyTensors are indexed by integers and slices k:l")

    @staticmethod
    def concatenate(tuple_of_lt, axis=-1):
        """Concat of the LazyTensors along their last (inner) axis."""
        if not isinstance(tuple_of_lt, tuple) or not tuple_of_lt:
            raise ArgumentError("LazyTensor.concatenate takes a non-empty tuple of LazyTensors")
        first = tuple_of_lt[0]
        if axis not in (-1, len(first._shape) - 1):
            raise NotSupportedError("LazyTensors are only concatenated along their last axis")
        for other in tuple_of_lt[1:]:
            first = first.concat(other)
        return first

    @staticmethod
    def cat(tuple_of_lt, dim):
        return LazyTensor.concatenate(tuple_of_lt, dim)

    # ------------------------------------------------------------ linear operators
    def __matmul__(self, v, **kwargs):
        """K @ v: sum_j K_ij v_j for a dense (N,), (N, D) or (*batch, N, D) array v; with a
        LazyTensor (RKeOps' x %*% y), the sum over j of the product."""
        if isinstance(v, LazyTensor):
            return (self * v).sum(axis=self.nbatchdims + 1, **kwargs)
        if self._shape[-1] != 1:
            raise DimensionError(f"K @ v needs a LazyTensor K of inner dim 1, got {self.shape}")
        v = self._dense(v)
        if v.ndim == 0:
            raise ArgumentError("K @ v needs a 1-D or higher array v")
        newdims = (1, v.shape[0], 1) if v.ndim == 1 else (*v.shape[:-2], 1, *v.shape[-2:])
        Kv = self * lift(v.reshape(newdims), self)
        Kv = Kv.sum(Kv.dim() - 2, **kwargs)
        return Kv.reshape(-1) if v.ndim == 1 else Kv

    @staticmethod
    def _dense(v):
        """An operand of K @ v as an array of this family (numpy here, torch in keir.torch)."""
        return np.asarray(v)

    def dense(self):
        """This LazyTensor as a dense array of shape self.shape (small ones only: keir.lazy.dense
        refuses more than DENSE_LIMIT elements); evaluated by the reference interpreter."""
        from .dense import dense

        return dense(self)

    def t(self):
        """The transpose: i- and j-indexed variables exchanged, shape (*batch, N, M, D)."""
        swapped = {v.token: v.swapped() for v in self._vars}
        formula = re.sub(r"_v\d+_", lambda m: swapped[m.group()].token, self._formula)
        fields = dict(
            formula=formula,
            variables=tuple(swapped[v.token] for v in self._vars),
            ndim=self.ndim,
            batchdims=self.batchdims,
            ni=self.nj,
            nj=self.ni,
            dtype=self._dtype,
        )
        res = type(self)._build(self.is_complex, **fields)
        if self.ranges is not None:
            from ..runtime.ranges import swap_axes

            res.ranges = swap_axes(self.ranges)
        return res

    T = property(t)

    def matvec(self, v):
        return self @ v

    def rmatvec(self, v):
        return self.T @ v

    # ------------------------------------------------------------ reductions
    def reduction(
        self,
        reduction_op,
        other=None,
        opt_arg=None,
        axis=None,
        dim=None,
        call=True,
        is_complex=None,
        **kwargs,
    ):
        """Reduces over i (axis = nbatchdims) or j (nbatchdims + 1) with a keir reduction;
        `other` is the weight of LogSumExp / SumSoftMaxWeight, `opt_arg` the K of KMin."""
        from .reduce import reduce

        return reduce(self, reduction_op, other, opt_arg, axis, dim, call, is_complex, kwargs)

    def solve(self, other, var=None, call=True, **kwargs):
        """x with (alpha Id + K) x = other, by conjugate gradients (pykeops' KernelSolve)."""
        from .reduce import solve

        return solve(self, other, var, call, kwargs)


LazyTensor._REAL = LazyTensor


def variable_constructors(cls: type) -> tuple:
    """Var, Vi, Vj and Pm building LazyTensors of class `cls` (keir.torch reuses them)."""

    def Var(x_or_ind, dim=None, cat=None):
        """Var(x, cat) wraps data; Var(ind, dim, cat) is a symbolic argument."""
        if dim is None:
            return cls(x_or_ind, axis=cat)
        return cls((x_or_ind, dim, cat))

    def Vi(x_or_ind, dim=None):
        """An i-indexed variable: Vi(x) of a (M, D) array, or the symbolic Vi(ind, dim)."""
        return Var(x_or_ind, dim, 0)

    def Vj(x_or_ind, dim=None):
        """A j-indexed variable: Vj(y) of a (N, D) array, or the symbolic Vj(ind, dim)."""
        return Var(x_or_ind, dim, 1)

    def Pm(x_or_ind, dim=None):
        """A parameter: Pm(s) of a number or 1-D array, or the symbolic Pm(ind, dim)."""
        return Var(x_or_ind, dim, 2)

    return Var, Vi, Vj, Pm


Var, Vi, Vj, Pm = variable_constructors(LazyTensor)
