"""Formula-level arithmetic on keir values, for writing derivative rules readably.

    def vjp(b, g, out, x):          # d/dx Exp(x) applied to the output adjoint g
        return [g * out]

`Sym` wraps an MLIR value of a keir op and overloads + - * / and unary -; `SymBuilder` calls
any operation by name, b("Exp", x), and makes constants. Every op goes through an OpFactory,
so the derivative's ops are dimension-checked like the user's.
"""

from __future__ import annotations

from .builders import dim_of


class Sym:
    __slots__ = ("b", "value")

    def __init__(self, b: SymBuilder, value):
        self.b, self.value = b, value

    @property
    def dim(self) -> int:
        return dim_of(self.value)

    def _call(self, name: str, other, swap: bool = False) -> Sym:
        other = other if isinstance(other, Sym) else self.b.const(other)
        return self.b(name, other, self) if swap else self.b(name, self, other)

    def __add__(self, o):
        return self._call("Add", o)

    def __radd__(self, o):
        return self._call("Add", o, swap=True)

    def __sub__(self, o):
        return self._call("Subtract", o)

    def __rsub__(self, o):
        return self._call("Subtract", o, swap=True)

    def __mul__(self, o):
        return self._call("Mult", o)

    def __rmul__(self, o):
        return self._call("Mult", o, swap=True)

    def __truediv__(self, o):
        return self._call("Divide", o)

    def __rtruediv__(self, o):
        return self._call("Divide", o, swap=True)

    def __neg__(self):
        return self.b("Minus", self)


class SymBuilder:
    """b(name, *syms, **params) -> Sym; b.const(3) -> IntCst(3); b.zero(n) -> Zero(n)."""

    def __init__(self, factory):
        self.factory = factory

    def __call__(self, name: str, *args: Sym, **params) -> Sym:
        return Sym(self, self.factory.op(name, [a.value for a in args], params))

    def wrap(self, value) -> Sym:
        return Sym(self, value)

    def const(self, x) -> Sym:
        if isinstance(x, int) or float(x).is_integer() and abs(x) < 2**31:
            return Sym(self, self.factory.intcst(int(x)))
        return Sym(self, self.factory.cst(float(x)))

    def zero(self, dim: int) -> Sym:
        return self("Zero", n=dim)
