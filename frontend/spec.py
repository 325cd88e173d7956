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

from ..dialect.reductions.compensated import SUFFIX as KAHAN
from ..errors import ArgumentError, FormulaSyntaxError
from .aliases import Alias, parse_aliases
from .formula import ReductionSpec, build_tree, split_reduction
from .parser import parse

SUM_SCHEMES = ("auto", "direct_sum", "block_sum", "kahan_scheme")
# pykeops' "sum type" reductions (its reduction_op_internal names and keir's own for them): the
# only ones that take dtype_acc != "auto", block_sum or kahan_scheme.
SUM_LIKE = ("Sum", "LogSumExp", "Max_SumShiftExp", "Max_SumShiftExpWeight", "SumSoftMaxWeight")


@dataclass(frozen=True)
class Options:
    """pykeops' accumulation and compilation options, checked once for every front end
    (numpy Genred, LazyTensor, keir.torch) with pykeops 2.3's rules (get_optional_flags).

    `check(kind)` resolves them as pykeops does: use_double_acc means dtype_acc="float64", and
    sum_scheme "auto" is "block_sum" for sum-like reductions, "direct_sum" otherwise. keir's
    plain loop is already blocked (each vector lane and thread sums its share of the reduced
    index, the partial sums are added at the end), so "direct_sum" and "block_sum" compile to
    it; "kahan_scheme" compiles the compensated variant of the reduction (Sum_Kahan,
    LogSumExp_Kahan, ...: dialect/reductions/compensated.py). What a backend cannot compile
    (an explicit scheme or a wider accumulator on the GPU) is refused with NotSupportedError,
    never ignored.
    """

    dtype_acc: str = "auto"
    use_double_acc: bool = False
    sum_scheme: str = "auto"
    enable_chunks: bool = True
    rec_multVar_highdim: bool = False
    use_fast_math: bool = True

    def check(self, kind: str) -> Options:
        """These options for reduction `kind`, resolved; pykeops' errors (as ArgumentError)."""
        dtype_acc, scheme = self.dtype_acc, self.sum_scheme
        if dtype_acc not in ("auto", "float16", "float32", "float64"):
            raise ArgumentError(
                f"invalid value for option dtype_acc: {dtype_acc!r} (one of 'auto', "
                "'float16', 'float32', 'float64')"
            )
        if dtype_acc != "auto" and self.use_double_acc:
            raise ArgumentError("you cannot set both options use_double_acc and dtype_acc.")
        if self.use_double_acc:
            dtype_acc = "float64"
        summing = kind in SUM_LIKE
        if dtype_acc != "auto" and not summing:
            raise ArgumentError(
                "parameter dtype_acc should be set to 'auto' for no-sum type reductions "
                f"(Min, Max, ArgMin, etc.), got {dtype_acc!r} for {kind}"
            )
        if scheme not in SUM_SCHEMES:
            raise ArgumentError(
                f"invalid value for option sum_scheme : {scheme!r} should be one of "
                f"{', '.join(map(repr, SUM_SCHEMES))}"
            )
        if scheme == "auto":
            scheme = "block_sum" if summing else "direct_sum"
        if scheme != "direct_sum" and not summing:
            raise ArgumentError(
                f'sum_scheme="{scheme}" is only valid for sum type reductions, not {kind}'
            )
        # sum_scheme stays as given: "auto" may compile differently from an explicit choice
        # (the GPU kernels have their own order, refused only when asked for by name)
        return replace(self, dtype_acc=dtype_acc, use_double_acc=False)

    def check_dtype(self, dtype: str) -> None:
        """The accumulator dtype against the data's (known at call time)."""
        if self.dtype_acc in ("auto", dtype) or (dtype, self.dtype_acc) == ("float32", "float64"):
            return
        raise ArgumentError(
            f"dtype_acc={self.dtype_acc!r} is not allowed for {dtype} data (pykeops: float32 "
            "only for float16/float32 data, float64 for float32/float64 data)"
        )

    def wider(self, dtype: str) -> bool:
        """A float64 accumulator for `dtype` data: keir runs the float64 kernel on the data
        converted to float64 (the formula too is evaluated in float64) and returns `dtype`."""
        return dtype == "float32" and self.dtype_acc == "float64"

    def on_gpu_refused(self, kind: str, dtype: str) -> str:
        """What of these options keir-tile-gpu does not compile ("" if none): its kernels sum
        in their own order, so an explicit scheme or a wider accumulator is refused there."""
        if self.sum_scheme in ("block_sum", "kahan_scheme") and kind in SUM_LIKE:
            return f"sum_scheme={self.sum_scheme!r}"
        if self.wider(dtype):
            return f"dtype_acc={self.dtype_acc!r} for {dtype} data"
        return ""

    def scheme(self, kind: str) -> str:
        """The summation scheme for reduction `kind` ("auto" resolved as pykeops does)."""
        if self.sum_scheme != "auto":
            return self.sum_scheme
        return "block_sum" if kind in SUM_LIKE else "direct_sum"

    def reduction_kind(self, kind: str) -> str:
        """The dialect reduction that compiles `kind` under these (checked) options."""
        kahan = kind in SUM_LIKE and self.scheme(kind) == "kahan_scheme"
        return kind + KAHAN if kahan else kind


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
