"""pykeops.numpy's generic_sum, generic_logsumexp, generic_argmin and generic_argkmin.

Each is a Genred whose reduction is fixed and whose axis comes from an output spec
"a = Vi(D)" (Vi: one output row per i, so the reduction runs over j, axis=1; Vj: axis=0), as
in pykeops 2.3: `generic_sum(formula, output, *aliases, **genred_options)`. For ArgKMin, D of
the output is K. keir also checks D against the formula (pykeops does not).
"""

from __future__ import annotations

from .api import Genred
from .errors import ArgumentError, DimensionError


def _output(output) -> tuple[int, int]:
    """(axis, dim) of an output spec "a = Vi(D)" | "a = Vj(D)"."""
    from .frontend.aliases import parse_alias

    if not isinstance(output, str):
        raise ArgumentError(f'output must be a spec such as "a = Vi(1)", got {output!r}')
    spec = parse_alias(output, 0)
    if spec.cat == 2:
        raise ArgumentError(f"output {output!r}: an output is indexed by i (Vi) or j (Vj), not Pm")
    return 1 - spec.cat, spec.dim


def _generic(reduction_op: str, formula, output, aliases, kwargs, dims_of) -> Genred:
    axis, dim = _output(output)
    options = dict(kwargs)
    if reduction_op == "ArgKMin":
        options["opt_arg"] = dim
    g = Genred(formula, list(aliases), reduction_op=reduction_op, axis=axis, **options)
    if dims_of(g) != dim:
        raise DimensionError(
            f"output {output!r}: {reduction_op} of {formula!r} gives {dims_of(g)} "
            f"component(s) per row, not {dim}"
        )
    return g


def generic_sum(formula, output, *aliases, **kwargs) -> Genred:
    """Genred(formula, aliases, "Sum", axis from `output`)."""
    return _generic("Sum", formula, output, aliases, kwargs, Genred.out_dim_hint)


def generic_logsumexp(formula, output, *aliases, **kwargs) -> Genred:
    """Genred(formula, aliases, "LogSumExp", axis from `output`); the formula is scalar."""
    return _generic("LogSumExp", formula, output, aliases, kwargs, Genred.out_dim_hint)


def generic_argmin(formula, output, *aliases, **kwargs) -> Genred:
    """Genred(formula, aliases, "ArgMin", axis from `output`)."""
    return _generic("ArgMin", formula, output, aliases, kwargs, Genred.out_dim_hint)


def generic_argkmin(formula, output, *aliases, **kwargs) -> Genred:
    """Genred(formula, aliases, "ArgKMin", axis from `output`, opt_arg = K, its dim)."""
    return _generic("ArgKMin", formula, output, aliases, kwargs, lambda g: g.k)
