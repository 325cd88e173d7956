"""pykeops' generic_sum, generic_logsumexp, generic_argmin, generic_argkmin; KernelSolve's alias.

Each is a Genred whose axis comes from an `output` alias ("a = Vi(1)": indexed by i, so reduced
over j), made for a given Genred class: keir.numpy's on arrays, keir.torch's on tensors.
"""

from __future__ import annotations

from .errors import ArgumentError
from .frontend.aliases import parse_alias, parse_aliases

# what pykeops.numpy and pykeops.torch export, and so keir.numpy and keir.torch
API_NAMES = ("ComplexLazyTensor", "Genred", "KernelSolve", "LazyTensor", "Pm", "Vi", "Vj",
             "generic_argkmin", "generic_argmin", "generic_logsumexp", "generic_sum")  # fmt: skip


def _axis(output: str) -> int:
    cat = parse_alias(output, 0).cat
    if cat == 2:
        raise ArgumentError(f"output {output!r}: a reduction's output is Vi or Vj, not Pm")
    return 1 if cat == 0 else 0


def generic_ops(genred_class) -> dict:
    """The four generic_* functions building `genred_class` objects."""

    def generic_sum(formula, output, *aliases, **kwargs):
        """Sum of `formula` over the index that `output` does not carry."""
        return genred_class(formula, list(aliases), "Sum", axis=_axis(output), **kwargs)

    def generic_logsumexp(formula, output, *aliases, **kwargs):
        """LogSumExp of `formula` over the index that `output` does not carry."""
        return genred_class(formula, list(aliases), "LogSumExp", axis=_axis(output), **kwargs)

    def generic_argmin(formula, output, *aliases, **kwargs):
        """ArgMin of `formula` over the index that `output` does not carry."""
        return genred_class(formula, list(aliases), "ArgMin", axis=_axis(output), **kwargs)

    def generic_argkmin(formula, output, K, *aliases, **kwargs):
        """The K indices of the smallest values of `formula` (ArgKMin)."""
        axis = _axis(output)
        return genred_class(formula, list(aliases), "ArgKMin", axis=axis, opt_arg=K, **kwargs)

    return {f.__name__: f for f in (generic_sum, generic_logsumexp, generic_argmin,
                                    generic_argkmin)}  # fmt: skip


def varinv_position(aliases, varinvalias: str) -> int:
    """KernelSolve's unknown: the position of the alias named `varinvalias`."""
    parsed = parse_aliases(aliases)
    for a in parsed:
        if a.name == varinvalias:
            return a.pos
    names = [a.name for a in parsed]
    raise ArgumentError(
        f"KernelSolve: varinvalias {varinvalias!r} is not one of the aliases {names}"
    )
