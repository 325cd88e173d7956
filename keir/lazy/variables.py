"""The arguments of a LazyTensor formula: what a LazyTensor wraps and how it reaches a kernel.

A LazyTensor is a formula over *variables*; each variable becomes one argument (one alias such
as "a0 = Vi(3)") of the keir.Genred that a reduction compiles. pykeops.numpy and RKeOps say
what a variable is by the shape of the array it wraps:

    (M, 1, D), (..., M, 1, D)        i-indexed (Vi)      pykeops: dummy axis -2
    (1, N, D), (..., 1, N, D)        j-indexed (Vj)      pykeops: dummy axis -3
    (1, 1, D), (D,), a float, list   parameter (Pm)
    (M, D), axis 0|"i" or 1|"j"      i- or j-indexed     LazyTensor(x, axis=0), LazyTensor(x, "i")
    (ind, dim, cat)                  symbolic: an array given when the reduction is called
    an int n                         IntCst(n), a compile-time constant: no argument at all

Dimensions before the last three are batch dimensions. Floats become parameters rather than
literals (as in pykeops) so that a formula's text, hence its compiled kernel, does not depend
on their values.
"""

from __future__ import annotations

import itertools

import numpy as np

from ..errors import ArgumentError, NotSupportedError

DTYPES = ("float32", "float64")  # what keir kernels compute in (keir.dialect.builders.DTYPES)
_INDEX = {None: None, 0: 0, 1: 1, 2: 2, "i": 0, "j": 1}
_tokens = itertools.count()


class Variable:
    """One kernel argument. Its `token` stands for it in formula text until a reduction names
    it; `key` identifies its data, so that the same array used twice becomes one argument."""

    __slots__ = ("cat", "dim", "data", "pos", "key", "token")

    def __init__(self, cat: int, dim: int, data=None, pos: int | None = None, key=None):
        self.cat, self.dim, self.data, self.pos = cat, dim, data, pos
        self.token = f"_v{next(_tokens)}_"
        self.key = key if key is not None else ("own", self.token)

    @property
    def batchdims(self) -> tuple:
        if not isinstance(self.data, np.ndarray):
            return ()
        return self.data.shape[: self.data.ndim - (1 if self.cat == 2 else 2)]

    @property
    def rows(self) -> int | None:
        if self.cat == 2 or self.data is None:
            return None
        return self.data.shape[-2]

    def swapped(self) -> Variable:
        """The same data with i and j exchanged (for LazyTensor.t())."""
        cat = {0: 1, 1: 0}.get(self.cat, self.cat)
        key = (self.key[0], cat, *self.key[2:]) if self.key[0] == "array" else None
        return Variable(cat, self.dim, self.data, self.pos, key)

    def array(self, dtype: str) -> np.ndarray:
        """The data as an array of the kernel's dtype (lists of floats are typeless)."""
        return np.asarray(self.data, dtype=dtype)


def axis_of(axis, index):
    """pykeops' axis (0, 1, 2) or RKeOps' index ("i", "j") -> 0, 1, 2 or None."""
    if index is not None:
        if axis is not None:
            raise ArgumentError("give axis or index, not both")
        axis = index
    if isinstance(axis, str) or axis is None or isinstance(axis, int):
        if axis in _INDEX:
            return _INDEX[axis]
    raise ArgumentError(f"axis must be 0, 1, 2, 'i' or 'j', got {axis!r}")


def is_complex_input(x) -> bool:
    if isinstance(x, list):
        return any(isinstance(v, complex) for v in x)
    if isinstance(x, np.ndarray):
        return np.iscomplexobj(x)
    return isinstance(x, (complex, np.complexfloating))


def dtype_of(a: np.ndarray) -> str | None:
    """The kernel dtype an array asks for; None for integer arrays (converted when called)."""
    if a.dtype.kind == "f":
        if a.dtype.name not in DTYPES:
            raise NotSupportedError(
                f"{a.dtype.name} arrays are not supported: keir kernels compute in "
                "float32 or float64"
            )
        return a.dtype.name
    if a.dtype.kind in "iub":
        return None
    raise ArgumentError(f"LazyTensor: expected a real or complex numeric array, got {a.dtype}")


def interleaved(x: np.ndarray) -> np.ndarray:
    """A complex array as reals, each complex number as a (re, im) pair (the KeOps encoding)."""
    real = np.float32 if x.dtype == np.complex64 else np.float64
    pairs = np.stack([x.real, x.imag], axis=-1).astype(real, copy=False)
    return pairs.reshape(*x.shape[:-1], 2 * x.shape[-1]) if x.ndim else pairs


def _key(x: np.ndarray, cat: int) -> tuple:
    ptr = x.__array_interface__["data"][0]
    return ("array", cat, ptr, x.shape, x.strides, x.dtype.str)


def from_input(x, axis=None, is_complex: bool = False) -> dict:
    """The fields of a LazyTensor wrapping x: formula, variables, ndim, batchdims, ni, nj, dtype."""
    if isinstance(x, tuple):
        return _symbolic(x, axis)
    if isinstance(x, (bool, np.bool_)):
        raise ArgumentError("LazyTensor: a boolean is not a number; use an int or a float")
    if isinstance(x, (int, np.integer)) and not is_complex:
        if axis not in (None, 2):
            raise ArgumentError("an integer is a constant: axis must be None or 2")
        return dict(formula=f"IntCst({int(x)})", variables=(), ndim=1)
    if isinstance(x, (int, float, complex, np.number)):
        x = [x]
    if isinstance(x, list):
        return _parameter_list(x, axis, is_complex)
    if not isinstance(x, np.ndarray):
        raise ArgumentError(
            "LazyTensors are built from numpy arrays, numbers, lists of numbers or "
            f"(ind, dim, cat) triplets; got {type(x).__name__}"
        )
    if is_complex:  # identified by the complex array: its interleaved copy is new each time
        source = x
        x = interleaved(np.asarray(x, dtype=np.result_type(x.dtype, np.complex64)))
        return _array(x, axis, source)
    return _array(x, axis, None)


def _symbolic(x: tuple, axis) -> dict:
    if len(x) != 3 or not all(isinstance(v, int) for v in x) or x[2] not in (0, 1, 2):
        raise ArgumentError("LazyTensor(tuple) takes (ind, dim, cat), three integers, cat 0|1|2")
    if axis is not None:
        raise ArgumentError("axis must not be given with an (ind, dim, cat) triplet")
    ind, dim, cat = x
    if ind < 0 or dim < 1:
        raise ArgumentError(f"(ind, dim, cat) needs ind >= 0 and dim >= 1, got {x}")
    v = Variable(cat, dim, pos=ind)
    return dict(formula=v.token, variables=(v,), ndim=dim)


def _parameter_list(x: list, axis, is_complex: bool) -> dict:
    if axis not in (None, 2):
        raise ArgumentError("numbers and lists of numbers are parameters: axis must be None or 2")
    if is_complex:
        x = [part for c in x for part in (complex(c).real, complex(c).imag)]
    if not x or not all(isinstance(v, (int, float, np.number)) for v in x):
        raise ArgumentError("a parameter list must hold at least one real number")
    v = Variable(2, len(x), data=[float(c) for c in x])
    return dict(formula=v.token, variables=(v,), ndim=len(x))


def _array(x: np.ndarray, axis, key_source: np.ndarray | None) -> dict:
    dtype = dtype_of(x)
    batch = None
    if x.ndim == 0:
        x = x.reshape(1)
    if x.ndim >= 3:  # pykeops: the position of the dummy axis says the category
        if axis is not None:
            raise ArgumentError("axis must not be given for a 3-D or higher array")
        batch = tuple(x.shape[:-3]) or None
        if x.shape[-3] == 1:
            axis = 2 if x.shape[-2] == 1 else 1
            x = x.reshape(*x.shape[:-3], x.shape[-1]) if axis == 2 else x[..., 0, :, :]
        elif x.shape[-2] == 1:
            axis, x = 0, x[..., 0, :]
        else:
            raise ArgumentError(
                "a 3-D or higher array must have shape (..., M, 1, D), (..., 1, N, D) or "
                f"(..., 1, 1, D); got {x.shape}"
            )
    elif x.ndim == 2 and axis in (None, 2):
        raise ArgumentError(
            "a 2-D array needs axis=0 or 1 (pykeops), or index 'i' or 'j' (RKeOps); "
            "use x[:, None, :] or x[None, :, :] to give the category by shape"
        )
    elif x.ndim == 1 and axis in (0, 1):
        x = x[:, None]  # RKeOps: Vi(v) of a vector is a column, one value per row
    cat = 2 if axis in (None, 2) else axis
    v = Variable(cat, x.shape[-1], data=x, key=_key(x if key_source is None else key_source, cat))
    rows = {0: "ni", 1: "nj"}.get(cat)
    fields = dict(formula=v.token, variables=(v,), ndim=v.dim, batchdims=batch, dtype=dtype)
    if rows:
        fields[rows] = x.shape[-2]
    return fields
