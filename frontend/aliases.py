"""Argument specs: "x = Vi(3)", "x = Vi(0, 3)", "s = Pm(1)", "v = Var(2, 4, 1)".

Without an explicit position an argument takes its index in the alias list, as in pykeops.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..dialect.builders import ArgSpec
from ..errors import FormulaSyntaxError
from .limits import MAX_DIM, int_value
from .parser import parse

_SHORT = {"Vi": 0, "Vj": 1, "Pm": 2}


@dataclass(frozen=True)
class Alias:
    name: str
    cat: int
    dim: int
    pos: int


def var_from_call(kind: str, ints: list[int], default_pos: int, text: str, column: int):
    """(cat, pos, dim) of Vi/Vj/Pm(dim) | Vi/Vj/Pm(pos, dim) | Var(pos, dim, cat)."""
    if kind == "Var":
        if len(ints) != 3:
            raise FormulaSyntaxError("Var takes (position, dimension, category)", text, column)
        pos, dim, cat = ints
        if cat not in (0, 1, 2):
            raise FormulaSyntaxError(f"Var category must be 0, 1 or 2, got {cat}", text, column)
    elif kind in _SHORT:
        if len(ints) not in (1, 2):
            raise FormulaSyntaxError(
                f"{kind} takes (dimension) or (position, dimension)", text, column
            )
        cat = _SHORT[kind]
        pos, dim = (default_pos, ints[0]) if len(ints) == 1 else ints
    else:
        raise FormulaSyntaxError(f"expected Vi, Vj, Pm or Var, got {kind!r}", text, column)
    if not 1 <= dim <= MAX_DIM:
        raise FormulaSyntaxError(
            f"{kind}: dimension must be between 1 and {MAX_DIM}, got {dim}", text, column
        )
    return cat, pos, dim


def parse_alias(text: str, index: int) -> Alias:
    tree = parse(text, start="alias")
    words = [t for t in tree.children if t.type == "NAME"]
    ints = [int_value(t) for t in tree.children if t.type == "INT"]
    kind = words[-1]
    if None in ints:
        raise FormulaSyntaxError("integer out of range (at most 2**63 - 1)", text, kind.column - 1)
    cat, pos, dim = var_from_call(str(kind), ints, index, text, kind.column - 1)
    name = str(words[0]) if len(words) == 2 else f"argument {pos}"
    return Alias(name, cat, dim, pos)


def parse_aliases(aliases) -> list[Alias]:
    if isinstance(aliases, str):
        aliases = [aliases]
    if not isinstance(aliases, (list, tuple)):
        raise FormulaSyntaxError(
            f"expected a list of argument specs such as 'x = Vi(3)', got {type(aliases).__name__}"
        )
    out, seen = [], {}
    for k, text in enumerate(aliases):
        a = parse_alias(text, k)
        if a.name in seen:
            raise FormulaSyntaxError(f"argument {a.name!r} is declared twice", text, 0)
        seen[a.name] = a
        out.append(a)
    return out


def to_argspecs(aliases: list[Alias]) -> list[ArgSpec]:
    return [ArgSpec(a.name, a.cat, a.dim) for a in aliases]
