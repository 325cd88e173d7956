"""KernelSpec: one reduction kernel as data (formula tree, arguments, reduction, options).

Every front end describes its kernel with one: Genred and keops_kernel parse it from text,
LazyTensor reductions go through Genred, keir.grad derives a new spec from its function's,
keir.fuse builds several specs into one module, and the torch and Dask layers wrap Genred and
keir.grad. Transformations map specs to specs (or to IR) and never splice formula text: text
splicing is how an unparenthesised operand, a comparison or a shadowed name silently changes
what a formula means.

    spec = KernelSpec.parse("Exp(-SqDist(x,y))*b", ["x = Vi(3)", "y = Vj(3)", "b = Vj(1)"],
                            ReductionSpec("Sum", axis=1))
    module, args = spec.build("float32")      # the keir IR of the kernel, dims checked
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from lark import Token, Tree

from ..errors import FormulaSyntaxError, NotSupportedError
from .aliases import Alias, parse_aliases
from .formula import ReductionSpec, build_tree, split_reduction
from .parser import parse

SUM_SCHEMES = ("auto", "direct_sum", "block_sum")  # keir's own order; no Kahan compensation


@dataclass(frozen=True)
class Options:
    """pykeops' accumulation and compilation options, checked once for every front end.

    keir accumulates in the kernel's dtype in a fixed blocked order (each vector lane sums its
    share of the reduced index, the lanes are added at the end): pykeops' "direct_sum" and
    "block_sum" are both accepted for it; options that would change the numbers beyond
    rounding (Kahan compensation, another accumulation dtype) are refused, not ignored.
    """

    dtype_acc: str = "auto"
    use_double_acc: bool = False
    sum_scheme: str = "auto"
    enable_chunks: bool = True
    rec_multVar_highdim: bool = False
    use_fast_math: bool = True

    def check(self, dtype: str | None) -> Options:
        if self.use_double_acc or self.dtype_acc not in ("auto", dtype):
            raise NotSupportedError("accumulation in another dtype is not supported yet")
        if self.sum_scheme not in SUM_SCHEMES:
            raise NotSupportedError(
                f"sum_scheme={self.sum_scheme!r} is not supported yet: keir sums in its own "
                f"blocked order (accepted: {', '.join(SUM_SCHEMES)})"
            )
        return self


@dataclass(frozen=True)
class KernelSpec:
    formula: Tree  # the reduced formula F, without its X_Reduction wrapper
    aliases: tuple[Alias, ...]  # the declared arguments, in call order
    reduction: ReductionSpec  # kind, axis (Genred's), K, weight tree (or None)
    text: str = ""  # the source of F, for error carets
    weight_text: str = ""  # the source of the weight formula
    options: Options = field(default_factory=Options)

    @classmethod
    def parse(
        cls, formula: str, aliases, reduction: ReductionSpec | None = None, options=None
    ) -> KernelSpec:
        """From formula text (with or without an X_Reduction(...)) and alias strings."""
        if not isinstance(formula, str):
            raise FormulaSyntaxError(f"a formula is a string, got {type(formula).__name__}")
        inner, inline = split_reduction(parse(formula), formula)
        if inline is not None and reduction is not None:
            raise FormulaSyntaxError(
                "the formula already contains a reduction; do not pass reduction_op as well",
                formula,
                0,
            )
        reduction = reduction or inline
        if reduction is None:
            raise FormulaSyntaxError(
                "no reduction: write e.g. Sum_Reduction(f, 0) or pass reduction_op", formula, 0
            )
        weight_text = formula
        if isinstance(reduction.weight, str):  # Genred's formula2: a formula text of its own
            weight_text = reduction.weight
            reduction = replace(reduction, weight=parse(reduction.weight))
        elif reduction.weight is not None and not isinstance(reduction.weight, Tree):
            raise FormulaSyntaxError(f"formula2 is a string, got {type(reduction.weight).__name__}")
        return cls(
            inner,
            tuple(parse_aliases(aliases)),
            reduction,
            formula,
            weight_text,
            options or Options(),
        )

    def build(self, dtype: str = "float32", name: str = "keir_kernel", module=None):
        """(module, argument specs): the keir IR of this kernel. With `module` (see keir.fuse)
        the kernel's function is added to that module."""
        return build_tree(self, dtype, name, module)

    # ------------------------------------------------------------ derived specs
    def with_arguments(self, *extra: tuple[str, int, int]) -> tuple[KernelSpec, list[Tree]]:
        """This spec with new arguments (name prefix, category, dim) appended, named so they
        cannot clash with existing ones; returns it and a name node for each."""
        aliases, nodes = list(self.aliases), []
        taken = {a.name for a in aliases}
        for prefix, cat, dim in extra:
            name, n = f"_keir_{prefix}", len(aliases)
            while f"{name}{n}" in taken:
                n += 1
            aliases.append(Alias(f"{name}{n}", cat, dim, len(aliases)))
            taken.add(aliases[-1].name)
            nodes.append(var(aliases[-1].name))
        return replace(self, aliases=tuple(aliases)), nodes

    def alias(self, wrt) -> Alias:
        """The argument named `wrt` (or at position `wrt`)."""
        for a in self.aliases:
            if wrt == a.name or wrt == a.pos:
                return a
        names = ", ".join(a.name for a in self.aliases)
        raise FormulaSyntaxError(f"no argument {wrt!r} (arguments: {names})")


# ---------------------------------------------------------------- formula trees
# Nodes as the grammar (keops.lark) produces them, for transformations that build formulas.
def var(name: str) -> Tree:
    return Tree("name", [Token("NAME", name)])


def call(op: str, *args) -> Tree:
    return Tree("call", [Token("NAME", op), *(_node(a) for a in args)])


def binary(kind: str, a, b) -> Tree:
    """`a op b` for kind in add, sub, mul, div, scalprod (the grammar's rule names)."""
    return Tree(kind, [_node(a), _node(b)])


def _node(x) -> Tree:
    if isinstance(x, Tree):
        return x
    if isinstance(x, int) and not isinstance(x, bool):
        number = Tree("number", [Token("NUMBER", str(abs(x)))])
        return number if x >= 0 else Tree("neg", [number])
    raise TypeError(f"not a formula node: {x!r}")
