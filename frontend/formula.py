"""Formula text + aliases -> a keir kernel module (one func.func ending in keir.reduction).

The tree walk resolves names (aliases, inline Var/Vi/Vj/Pm, operations of keir.dialect.ops),
checks arity and integer parameters, and lets the dialect builder check dimensions, so every
error points at its place in the formula.
"""

from __future__ import annotations

import difflib
import re

from lark import Token, Tree

from ..dialect.builders import ArgSpec, KernelBuilder
from ..dialect.builders import dim_of as _dim
from ..dialect.ops import OPS
from ..errors import DimensionError, FormulaSyntaxError, NotSupportedError, UnknownOpError
from . import names
from .aliases import Alias, var_from_call
from .limits import MAX_DIM, int_value
from .reduction import ReductionSpec, reduction_name, split_reduction

__all__ = ["ReductionSpec", "build_kernel", "build_tree", "reduction_name", "split_reduction"]

_INFIX = {"add": "Add", "sub": "Subtract", "mul": "Mult", "div": "Divide"}
# x > y is LessThan(y, x), as in keopscore: (op name, operands swapped)
_COMPARE = {
    "lt": ("LessThan", False),
    "gt": ("LessThan", True),
    "le": ("LessOrEqual", False),
    "ge": ("LessOrEqual", True),
}
_INT = re.compile(r"\d+$")
_DERIVATIVES = ("Grad", "Diff", "GradMatrix", "Divergence", "Laplacian")


def _column(node) -> int:
    if isinstance(node, Token):
        return (node.column or 1) - 1  # tokens built by a transformation have no position
    meta = getattr(node, "meta", None)
    return meta.column - 1 if meta is not None and not meta.empty else 0


class _Walker:
    def __init__(self, kb: KernelBuilder, text: str, aliases: list[Alias]):
        self.kb, self.text = kb, text
        self.by_name = {a.name: a for a in aliases}
        self.args: dict[int, ArgSpec] = {}
        self.values: dict[int, object] = {}
        for a in aliases:
            self._declare(a.pos, ArgSpec(a.name, a.cat, a.dim), 0)

    def _declare(self, pos: int, spec: ArgSpec, column: int) -> None:
        old = self.args.get(pos)
        if old is not None and (old.cat, old.dim) != (spec.cat, spec.dim):
            raise FormulaSyntaxError(
                f"argument position {pos} is declared twice with different types "
                f"(category {old.cat}, dim {old.dim} vs category {spec.cat}, dim {spec.dim})",
                self.text,
                column,
            )
        self.args.setdefault(pos, spec)

    def _var(self, pos: int, column: int):
        if pos not in self.values:
            spec = self.args[pos]
            self.values[pos] = self.kb.var(spec.cat, pos, spec.dim, column)
        return self.values[pos]

    def op(self, name: str, operands, params=None, column: int | None = None):
        """kb.op, refusing results of more than MAX_DIM components (e.g. TensorProd chains)."""
        value = self.kb.op(name, operands, params, column=column)
        if _dim(value) > MAX_DIM:
            raise DimensionError(
                f"{name}: result of dimension {_dim(value)}, more than {MAX_DIM}", self.text, column
            )
        return value

    def error(self, cls, message: str, node):
        raise cls(message, self.text, _column(node))

    # ------------------------------------------------------------ tree walk
    def build(self, node):
        if isinstance(node, Token):
            return self.build(Tree("name", [node]))
        kind = node.data
        if kind in _INFIX:
            return self._infix_chain(node)
        if kind in _COMPARE:
            name, swap = _COMPARE[kind]
            a, b = (self.build(c) for c in node.children)
            return self.op(name, [b, a] if swap else [a, b], column=_column(node))
        if kind == "tuple":
            self.error(
                FormulaSyntaxError, "a tuple can only be a parameter of TensorDot or Kron", node
            )
        if kind == "neg":
            return self.op("Minus", [self.build(node.children[0])], column=_column(node))
        if kind == "pow":
            return self._pow(node)
        if kind == "scalprod":
            a, b = (self.build(c) for c in node.children)
            return self.op("Scalprod", [a, b], column=_column(node))
        if kind == "number":
            return self._number(node.children[0])
        if kind == "name":
            return self._name(node.children[0])
        if kind == "call":
            return self._call(node)
        if kind == "formula":
            return self.build(node.children[0])
        self.error(FormulaSyntaxError, f"unexpected construct {kind}", node)

    def _infix_chain(self, node):
        """a + b - c + ... (a left-deep tree): walked down its left spine in a loop, then folded
        left to right, so a flat sum of 10^4 terms needs no deep recursion."""
        spine = []
        while isinstance(node, Tree) and node.data in _INFIX:
            spine.append(node)
            node = node.children[0]
        value = self.build(node)
        for link in reversed(spine):
            right = self.build(link.children[1])
            value = self.op(_INFIX[link.data], [value, right], column=_column(link))
        return value

    def _number(self, tok: Token):
        text = str(tok)
        n = int_value(text) if _INT.match(text) else None
        if n is not None:
            return self.kb.intcst(n, _column(tok))
        return self.kb.cst(float(text), _column(tok))  # beyond int64: a float, like 1e30

    def _name(self, tok: Token):
        alias = self.by_name.get(str(tok))
        if alias is None:
            known = list(self.by_name) + sorted(names.ALL_NAMES)
            near = difflib.get_close_matches(str(tok), known, n=3)
            hint = f"; did you mean {', '.join(near)}?" if near else ""
            self.error(UnknownOpError, f"unknown variable {str(tok)!r}{hint}", tok)
        return self._var(alias.pos, _column(tok))

    def _pow(self, node):
        base, exponent = node.children
        n = self._int_literal(exponent)
        if n is not None:
            return self.op("Pow", [self.build(base)], {"n": n}, column=_column(node))
        return self.op("Powf", [self.build(base), self.build(exponent)], column=_column(node))

    def _int_literal(self, node) -> int | None:
        """The value of an integer literal (possibly negated), else None."""
        if isinstance(node, Tree) and node.data == "neg":
            inner = self._int_literal(node.children[0])
            return None if inner is None else -inner
        if isinstance(node, Tree) and node.data == "number" and _INT.match(str(node.children[0])):
            return int_value(str(node.children[0]))  # None beyond int64
        return None

    def _int_tuple(self, node) -> tuple[int, ...] | None:
        if not (isinstance(node, Tree) and node.data == "tuple"):
            return None
        values = [self._int_literal(c) for c in node.children]
        return None if any(v is None for v in values) else tuple(values)

    def _params(self, d, args: list, node) -> dict:
        values = dict(d.defaults)
        for pname, arg in zip(d.params, args):
            value = self._int_tuple(arg) if pname in d.tuple_params else self._int_literal(arg)
            if value is None:
                tuple_param = pname in d.tuple_params
                kind = "a tuple of integers" if tuple_param else "an integer literal (int64)"
                self.error(FormulaSyntaxError, f"{d.name}: parameter {pname} must be {kind}", arg)
            values[pname] = value
        return values

    def _ints(self, name: str, args: list, node) -> list[int]:
        values = [self._int_literal(a) for a in args]
        if any(v is None for v in values):
            message = f"{name} expects integer literals (int64) as arguments"
            self.error(FormulaSyntaxError, message, node)
        return values

    def _call(self, node):
        tok, *args = node.children
        name = str(tok)
        if name in names.VARIABLES:
            cat, pos, dim = var_from_call(
                name, self._ints(name, args, node), -1, self.text, _column(node)
            )
            if pos < 0:
                self.error(FormulaSyntaxError, f"{name} inside a formula needs a position", node)
            self._declare(pos, ArgSpec(f"{name}({pos})", cat, dim), _column(node))
            return self._var(pos, _column(node))
        if name == "IntCst":
            (n,) = (
                self._ints(name, args, node) if len(args) == 1 else self._arity(name, 1, args, node)
            )
            return self.kb.intcst(n, _column(node))
        if name in _DERIVATIVES:
            return self._derivative(name, args, node)
        if name in OPS:
            return self._op(OPS[name], args, node)
        if name.endswith(names.REDUCTION_SUFFIX) and name in names.ALL_NAMES:
            self.error(
                FormulaSyntaxError, f"{name} must be the outermost call of the formula", node
            )
        if name in names.ALL_NAMES:
            self.error(NotSupportedError, f"operation {name} is not supported yet", node)
        near = difflib.get_close_matches(name, sorted(names.ALL_NAMES), n=3)
        hint = f"; did you mean {', '.join(near)}?" if near else ""
        self.error(UnknownOpError, f"unknown operation {name!r}{hint}", node)

    # ------------------------------------------------------------ derivatives
    def _variable(self, name: str, node) -> tuple[int, int]:
        """(pos, dim) of the variable a derivative is taken with respect to."""
        if isinstance(node, Tree) and node.data == "name":
            self._name(node.children[0])  # declares it, or reports an unknown name
            alias = self.by_name[str(node.children[0])]
            return alias.pos, alias.dim
        if (
            isinstance(node, Tree)
            and node.data == "call"
            and str(node.children[0]) in names.VARIABLES
        ):
            value = self._call(node)
            pos = next(p for p, v in self.values.items() if v == value)
            return pos, self.args[pos].dim
        self.error(FormulaSyntaxError, f"{name}: the second argument must be a variable", node)

    def _basis(self, dim: int, k: int, column: int):
        """e_k, the k-th unit vector of dimension dim (ElemT(1, dim, k))."""
        one = self.kb.intcst(1, column)
        return one if dim == 1 else self.op("ElemT", [one], {"n": dim, "m": k}, column)

    def _derivative(self, name: str, args: list, node):
        """Grad is the primitive (keir.grad); the others expand into Grads, as in keopscore."""
        expected = 3 if name in ("Grad", "Diff") else 2
        if len(args) != expected:
            self._arity(name, expected, args, node)
        col = _column(node)
        f = self.build(args[0])
        pos, dim = self._variable(name, args[1])
        fdim = _dim(f)

        def grad(gradin):
            return self.kb.grad(f, pos, dim, gradin, col)

        if name == "Grad":
            return grad(self.build(args[2]))
        if name == "Diff":  # J u, row by row: (d f_m / d v | u)
            u = self.build(args[2])
            rows = [
                self.op("Scalprod", [grad(self._basis(fdim, m, col)), u], column=col)
                for m in range(fdim)
            ]
            return self._concat(rows, col)
        if name == "GradMatrix":
            return self._concat([grad(self._basis(fdim, m, col)) for m in range(fdim)], col)
        if name == "Laplacian":
            if fdim != 1:
                self.error(DimensionError, f"Laplacian needs a formula of dim 1, got {fdim}", node)
            f, fdim = grad(self.kb.intcst(1, col)), dim
        if fdim != dim:
            self.error(
                DimensionError,
                f"{name} needs a formula of the variable's dim {dim}, got {fdim}",
                node,
            )
        terms = [
            self.op(
                "Elem", [self.kb.grad(f, pos, dim, self._basis(dim, k, col), col)], {"m": k}, col
            )
            for k in range(dim)
        ]
        total = terms[0]
        for t in terms[1:]:
            total = self.op("Add", [total, t], column=col)
        return total

    def _concat(self, parts: list, column: int):
        out = parts[0]
        for p in parts[1:]:
            out = self.op("Concat", [out, p], column=column)
        return out

    def _arity(self, name: str, expected: int, args: list, node):
        self.error(
            FormulaSyntaxError, f"{name} takes {expected} argument(s), got {len(args)}", node
        )

    def _op(self, d, args: list, node):
        most = d.arity + len(d.params)
        if not most - len(d.defaults) <= len(args) <= most:
            self._arity(d.name, most, args, node)
        operands = [self.build(a) for a in args[: d.arity]]
        params = self._params(d, args[d.arity :], node)
        return self.op(d.name, operands, params, column=_column(node))

    def argspecs(self) -> list[ArgSpec]:
        positions = sorted(self.args)
        if positions != list(range(len(positions))):
            raise FormulaSyntaxError(
                f"argument positions must be 0..{len(positions) - 1} without gaps, got {positions}"
            )
        return [self.args[p] for p in positions]


def build_kernel(
    formula: str,
    aliases,
    dtype: str = "float32",
    reduction: ReductionSpec | None = None,
    name: str = "keir_kernel",
):
    """Builds the keir module of `formula`; returns (module, argument specs)."""
    from .spec import KernelSpec

    return KernelSpec.parse(formula, aliases, reduction).build(dtype, name)


def build_tree(spec, dtype: str, name: str = "keir_kernel", module=None):
    """The keir IR of a KernelSpec (frontend/spec.py): (module, argument specs). With `module`,
    the kernel's function is added to it (several kernels in one module, for keir-fuse)."""
    try:
        return _build(spec, dtype, name, module)
    except RecursionError:  # the walk recurses once per nesting level of the formula
        raise FormulaSyntaxError(
            "the formula is nested too deeply (a few hundred levels at most)", spec.text, 0
        ) from None


def _build(spec, dtype: str, name: str, module):
    reduction = spec.reduction
    spec.options.check_dtype(dtype)
    kind = spec.options.reduction_kind(reduction.kind)
    with KernelBuilder(dtype, name=name, formula=spec.text, module=module) as kb:
        walker = _Walker(kb, spec.text, list(spec.aliases))
        operands = [walker.build(spec.formula)]
        if reduction.weight is not None:
            walker.text = kb.formula = spec.weight_text
            operands.append(walker.build(reduction.weight))
            kb.formula = walker.text = spec.text
        kb.reduction(kind, operands, reduction.axis, reduction.k, column=0)
        if spec.options.scheme(reduction.kind) == "block_sum":
            kb.block_sum()
        args = walker.argspecs()
        module = kb.finish(args)
    return module, args
