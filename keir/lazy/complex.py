"""ComplexLazyTensor: complex numbers stored as interleaved (re, im) pairs, as in KeOps.

A complex array of shape (M, D) is wrapped as a real (M, 2D) array [re0, im0, re1, im1, ...]
(the RKeOps vignette's encoding), so `ndim` / `dimres` count reals while `shape` counts complex
numbers. Arithmetic maps to keir's Complex* operations, real operands being converted with
Real2Complex (or scaling with ComplexRealScal); reductions return complex numpy arrays.
Operations with no complex meaning on the pairs (Exp is ComplexExp, but Log, Square, ...
have no Complex* op) raise NotSupportedError instead of acting on re and im separately.
"""

from __future__ import annotations

from ..errors import ArgumentError, NotSupportedError
from .core import LazyTensor, apply, lift


class ComplexLazyTensor(LazyTensor):
    """A LazyTensor of complex numbers; LazyTensor(z) of a complex array, or is_complex=True."""

    is_complex = True
    _VECTOR_OPS = {"Sum": "ComplexSum"}

    @property
    def dtype(self):
        return {"float32": "complex64", "float64": "complex128"}.get(self._dtype)

    @property
    def shape(self) -> tuple:
        s = self._shape
        s = (*s[:-1], s[-1] // 2)
        return s[:-1] if s[-1] == 1 else s

    @property
    def real(self):
        """The real parts, a real LazyTensor."""
        return apply("ComplexReal", [self])

    @property
    def imag(self):
        """The imaginary parts, a real LazyTensor."""
        return apply("ComplexImag", [self])

    def angle(self):
        """The arguments Atan2(im, re), a real LazyTensor."""
        return apply("ComplexAngle", [self])

    def conj(self):
        return apply("Conj", [self])

    def __abs__(self):
        """The moduli, a real LazyTensor."""
        return apply("ComplexAbs", [self])

    def exp(self):
        return apply("ComplexExp", [self])

    def _as_complex(self, other) -> LazyTensor:
        other = lift(other, self)
        return other if other.is_complex else other.real2complex()

    def addop(self, other):
        return apply("ComplexAdd", [self, self._as_complex(other)])

    def subop(self, other):
        return apply("ComplexSubtract", [self, self._as_complex(other)])

    def mulop(self, other):
        other = lift(other, self)
        if not other.is_complex and other.ndim == 1:
            return apply("ComplexRealScal", [other, self])
        return apply("ComplexMult", [self, self._as_complex(other)])

    def divop(self, other):
        return apply("ComplexDivide", [self, self._as_complex(other)])

    def _real_only(self, *args, **kwargs):
        raise ArgumentError("real2complex, imag2complex and exp1j take a real LazyTensor")

    real2complex = imag2complex = exp1j = _real_only

    def keops_tensordot(self, *args):
        raise NotSupportedError("keops_tensordot is not defined for complex LazyTensors")

    def keops_kron(self, *args):
        raise NotSupportedError("keops_kron is not defined for complex LazyTensors")
