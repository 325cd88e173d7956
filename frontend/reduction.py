"""The reduction of a formula: ReductionSpec, reduction names, and X_Reduction(f, ...) splitting.

In a formula, `Sum_Reduction(f, 0)` names the category of the *output* (0: indexed by i), so it
reduces over j, which Genred calls axis=1; ReductionSpec.axis is always Genred's.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from lark import Tree

from ..dialect.reductions import REDUCTIONS
from ..errors import FormulaSyntaxError, NotSupportedError, UnknownOpError
from . import names
from .limits import int_value

_INT = re.compile(r"\d+$")


@dataclass(frozen=True)
class ReductionSpec:
    kind: str  # a key of REDUCTIONS
    axis: int  # Genred convention: 1 reduces over j
    k: int = 0  # K of KMin-like reductions (Genred's opt_arg)
    weight: str | Tree | None = None  # the weight formula g (Genred's formula2), text or tree


# pykeops' other spellings of reductions (keopscore's Max_SumShiftExp is LogSumExp's raw form)
_REDUCTION_ALIASES = {
    "MinArgMin": "Min_ArgMin",
    "MaxArgMax": "Max_ArgMax",
    "KMinArgKMin": "KMin_ArgKMin",
    "SoftMax": "SumSoftMaxWeight",
    "LogSumExpWeight": "LogSumExp",
}


def reduction_name(name: str, text: str, column: int) -> str:
    """Genred's reduction_op (or X of X_Reduction) -> a keir reduction, with clear errors."""
    if not isinstance(name, str):
        raise UnknownOpError(f"a reduction is named by a string, got {type(name).__name__}")
    name = _REDUCTION_ALIASES.get(name, name)
    if name in REDUCTIONS:
        return name
    if name in names.REDUCTIONS:
        raise NotSupportedError(f"reduction {name} is not supported yet", text, column)
    near = difflib.get_close_matches(name, names.REDUCTIONS, n=3)
    hint = f"; did you mean {', '.join(near)}?" if near else ""
    raise UnknownOpError(f"unknown reduction {name!r}{hint}", text, column)


def _column(node) -> int:
    meta = getattr(node, "meta", None)
    return meta.column - 1 if meta is not None and not meta.empty else 0


def split_reduction(tree: Tree, text: str):
    """(inner formula tree, ReductionSpec) if the formula is X_Reduction(...), else (tree, None)."""
    node = tree.children[0] if tree.data == "formula" else tree
    if not (isinstance(node, Tree) and node.data == "call"):
        return tree, None
    tok, *args = node.children
    name = str(tok)
    if not name.endswith(names.REDUCTION_SUFFIX):
        return tree, None
    kind = reduction_name(name.removesuffix(names.REDUCTION_SUFFIX), text, _column(node))
    red = REDUCTIONS[kind]
    if red.uses_k:
        usage, lo, hi = "(formula, K, axis)", 3, 3
    elif red.weight != "none":
        usage = (
            "(formula, axis, weight)" if red.weight == "required" else "(formula, axis[, weight])"
        )
        lo, hi = (3 if red.weight == "required" else 2), 3
    else:
        usage, lo, hi = "(formula, axis)", 2, 2
    if not lo <= len(args) <= hi:
        raise FormulaSyntaxError(
            f"{name} takes {usage}, got {len(args)} arguments", text, _column(node)
        )
    k = _literal(args[1], text, f"{name}: K must be a positive integer") if red.uses_k else 0
    tag = args[2] if red.uses_k else args[1]
    if _literal(tag, text, f"{name}: the axis must be 0 or 1") not in (0, 1):
        raise FormulaSyntaxError(f"{name}: the axis must be 0 or 1", text, _column(tag))
    weight = args[2] if red.weight != "none" and len(args) == 3 else None
    # In a formula the integer names the output's index: 0 -> indexed by i -> reduce over j.
    return args[0], ReductionSpec(kind, 1 - _literal(tag, text, ""), k, weight)


def _literal(node, text: str, message: str) -> int:
    if isinstance(node, Tree) and node.data == "number" and _INT.match(str(node.children[0])):
        value = int_value(str(node.children[0]))
        if value is not None:
            return value
    raise FormulaSyntaxError(message, text, _column(node))
