"""LazyTensor on torch tensors: keir's LazyTensor, whose reductions run keir.torch kernels.

The formula side is keir.lazy's, unchanged: a torch LazyTensor wraps a tensor by building the
variable from a numpy view of it (same shape conventions, same dimension rules and errors),
then keeps the tensor itself (reshaped the same way, a view) as the variable's data. Results of
operations stay in this family (keir.lazy.core.family), and a reduction runs the cached
keir.Genred through keir.torch's autograd Function: gradients flow back to every tensor that
requires them, `.backward()` works on a reduction's result, and tensors come out.
"""

from __future__ import annotations

import numpy as np
import torch

from ..errors import ArgumentError, NotSupportedError
from ..lazy import methods as _methods  # noqa: F401  (attaches the generated methods)
from ..lazy import variables as V
from ..lazy.complex import ComplexLazyTensor as _NumpyComplex
from ..lazy.core import LazyTensor as _NumpyLazyTensor
from ..lazy.core import variable_constructors
from ..lazy.reduce import ReducedLazyTensor as _NumpyReduced
from .autograd import Reduction
from .batch import run_batched
from .tensors import TORCH_DTYPES, check, device_error, device_of

_NUMPY = {torch.float32: np.float32, torch.float64: np.float64, torch.complex64: np.complex64,
          torch.complex128: np.complex128}  # fmt: skip
_REDUCTIONS: dict = {}  # keir.Genred (cached by keir.lazy.reduce) -> its torch Reduction


def _fields(x: torch.Tensor, axis, is_complex: bool) -> dict:
    """keir.lazy's fields for an array shaped like x, with x itself (reshaped alike) as data.

    The array only carries shape and dtype (a zero-strided view of one element): so tensors
    inside torch.func transforms (vmap's batched tensors), which have no numpy view, work too.
    """
    if device_of(x).type not in ("cpu", "cuda"):
        raise device_error("LazyTensor", x)
    if x.dtype in (torch.float16, torch.bfloat16):
        raise NotSupportedError(f"LazyTensor: {x.dtype} tensors are not supported")
    is_complex = is_complex or x.is_complex()
    like = np.lib.stride_tricks.as_strided(np.zeros(1, _NUMPY.get(x.dtype, np.int64)),
                                           x.shape, (0,) * x.dim())  # fmt: skip
    fields = V.from_input(like, axis, is_complex)
    (v,) = fields["variables"]
    data = x
    if is_complex:
        data = torch.view_as_real(x if x.is_complex() else x.to(torch.complex64))
    v.data = data.reshape(v.data.shape)  # from_input only adds or drops axes of size 1
    v.key = _key(v.data, v.cat)
    return fields


def _key(t: torch.Tensor, cat: int) -> tuple:
    """The same memory seen the same way is one kernel argument (as keir.lazy does for arrays).
    A tensor that requires grad is its own argument (x and x.detach() share memory, and only
    one of them should receive a gradient); so is a functorch-wrapped one (it has no address)."""
    if t.requires_grad or torch._C._functorch.is_functorch_wrapped_tensor(t):
        return ("own", id(t))
    return ("array", cat, t.data_ptr(), tuple(t.shape), t.stride(), t.dtype)


class LazyTensor(_NumpyLazyTensor):
    """pykeops.torch.LazyTensor: LazyTensor(x[:, None, :]) of a torch tensor x, etc."""

    _FAMILY_RANK = 1

    def __new__(cls, x=None, axis=None, is_complex=False, index=None):
        complex_input = isinstance(x, torch.Tensor) and x.is_complex()
        if cls is LazyTensor and (is_complex or complex_input or V.is_complex_input(x)):
            cls = ComplexLazyTensor
        return object.__new__(cls)

    def __init__(self, x=None, axis=None, is_complex=False, index=None):
        axis = V.axis_of(axis, index)
        if isinstance(x, torch.Tensor):
            self._set(**_fields(x, axis, self.is_complex))
            return
        if isinstance(x, np.ndarray):  # (numpy scalars are numbers: parameters)
            raise ArgumentError("keir.torch.LazyTensor wraps torch tensors: use torch.as_tensor")
        super().__init__(x, axis, self.is_complex)

    @classmethod
    def _complex_class(cls) -> type:
        return ComplexLazyTensor

    @staticmethod
    def _dense(v):
        return v if isinstance(v, torch.Tensor) else torch.as_tensor(v)

    def dense(self):
        """This LazyTensor as a tensor of shape self.shape, on its tensors' device; small ones
        only (keir.lazy.dense), evaluated on the host by the reference interpreter and not
        differentiable (detached)."""
        from ..lazy.dense import dense

        like = next((v.data for v in self._vars if isinstance(v.data, torch.Tensor)), None)
        out = torch.from_numpy(dense(self, host=_host))
        return out if like is None else out.to(like.device)

    def solve(self, other, var=None, call=True, **kwargs):
        """x with (alpha Id + K) x = other, by conjugate gradients, differentiable."""
        from .solve import lazy_solve

        return lazy_solve(self, other, var, call, kwargs)


class ComplexLazyTensor(_NumpyComplex, LazyTensor):
    """pykeops.torch.ComplexLazyTensor: complex tensors as interleaved (re, im) pairs."""


LazyTensor._REAL = ComplexLazyTensor._REAL = LazyTensor


class ReducedLazyTensor(_NumpyReduced):
    """A reduction ready to run on torch tensors: the symbolic variables' tensors (in position
    order) as arguments, the wrapped tensors as the rest."""

    def __call__(self, *args, **kwargs):
        if len(args) != self.program.n_symbolic:
            raise ArgumentError(
                f"this reduction takes {self.program.n_symbolic} tensors (its symbolic "
                f"variables, in position order), got {len(args)}"
            )
        kwargs = {**self.kwargs, **kwargs}
        opts = (
            kwargs.pop("backend", "auto"),
            kwargs.pop("device_id", -1),
            kwargs.pop("ranges", None),
        )
        out = kwargs.pop("out", None)
        if kwargs:
            raise ArgumentError(f"unexpected keyword arguments {sorted(kwargs)}")
        red = _reduction(self.genred)
        dtype = TORCH_DTYPES.get(self._dtype)
        data = [v.data for v in self.program.data]
        if not all(isinstance(d, torch.Tensor) for d in data):  # lists of parameter values
            like = next((t for t in [*args, *data] if isinstance(t, torch.Tensor)), None)
            data = [_data(d, dtype, like) for d in data]
        tensors, _ = check(red.names, [*args, *data])
        res = run_batched(red, tensors, opts)
        if self.is_complex:
            res = torch.view_as_complex(res.reshape(*res.shape[:-1], -1, 2).contiguous())
        if out is not None:
            out.copy_(res)
            return out
        return res


LazyTensor._REDUCED = ReducedLazyTensor


def _reduction(genred) -> Reduction:
    if genred not in _REDUCTIONS:
        _REDUCTIONS[genred] = Reduction(genred)
    return _REDUCTIONS[genred]


def _host(data) -> np.ndarray:
    """A variable's data on the host, for the interpreter (a copy only off the CPU)."""
    if isinstance(data, torch.Tensor):
        return data.detach().resolve_neg().resolve_conj().cpu().numpy()
    return np.asarray(data)


def _data(data, dtype, like=None):
    """A variable's data as a tensor: lists of floats (parameters) take the kernel's dtype,
    and the device of `like` (the call's other tensors)."""
    if isinstance(data, torch.Tensor):
        return data
    dtype = dtype or torch.get_default_dtype()
    if like is None:
        return torch.tensor(data, dtype=dtype)
    return like.new_tensor(data, dtype=dtype)


Var, Vi, Vj, Pm = variable_constructors(LazyTensor)
