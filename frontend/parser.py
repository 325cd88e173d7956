"""Formula and alias text -> Lark trees (positions kept), with keir errors for bad syntax."""

from __future__ import annotations

import functools
import hashlib
import json
from pathlib import Path

import lark
from lark import Lark, Token, Tree
from lark.exceptions import LarkError, UnexpectedCharacters, UnexpectedEOF, UnexpectedInput
from lark.grammar import Rule
from lark.lexer import TerminalDef

from ..errors import FormulaSyntaxError

_GRAMMAR = Path(__file__).with_name("keops.lark")
# Lark's LALR tables of the grammar, built ahead of time: building them costs ~30 ms in every
# process, loading them ~2 ms. Regenerate with `python -m keir.frontend.parser`.
_TABLES = Path(__file__).with_name("keops_tables.json")
_OPTIONS = dict(
    start=["formula", "alias"], parser="lalr", propagate_positions=True, maybe_placeholders=False
)


def _fingerprint() -> str:
    """What the tables depend on: the grammar text, Lark's version and the options."""
    options = repr(sorted(_OPTIONS.items())).encode()
    return hashlib.sha256(_GRAMMAR.read_bytes() + lark.__version__.encode() + options).hexdigest()


def _int_keys(obj: dict) -> dict:
    """JSON turned the integer keys of Lark's tables (states, memo ids) into strings."""
    return {int(k) if k.isdigit() else k: v for k, v in obj.items()}


def _built() -> Lark:
    return Lark(_GRAMMAR.read_text(), **_OPTIONS)


@functools.cache
def _parser() -> Lark:
    try:
        tables = json.loads(_TABLES.read_text(), object_hook=_int_keys)
    except (OSError, ValueError):
        tables = None
    if not tables or tables.get("fingerprint") != _fingerprint():
        return _built()  # another Lark version or an edited grammar: correct, only slower
    return Lark._load_from_dict(tables["data"], tables["memo"])


def tables_json() -> str:
    """The serialised tables of the grammar as it is now (what _TABLES should hold)."""
    data, memo = _built().memo_serialize([TerminalDef, Rule])
    return json.dumps({"fingerprint": _fingerprint(), "data": data, "memo": memo}, sort_keys=True)


def parse(text: str, start: str = "formula") -> Tree:
    """Parses `text`; a syntax error becomes FormulaSyntaxError with a caret at the spot."""
    if not isinstance(text, str):
        raise FormulaSyntaxError(f"expected a formula string, got {type(text).__name__}")
    try:
        return _parser().parse(text, start=start)
    except UnexpectedInput as e:
        raise FormulaSyntaxError(_describe(e, text), text, _column(e, text)) from None
    except LarkError as e:  # anything else Lark raises is still a syntax problem
        raise FormulaSyntaxError(f"invalid {start}: {e}", text, 0) from None


def _at_end(e: UnexpectedInput) -> bool:
    token = getattr(e, "token", None)
    return isinstance(e, UnexpectedEOF) or (isinstance(token, Token) and token.type == "$END")


def _column(e: UnexpectedInput, text: str) -> int:
    if _at_end(e) or getattr(e, "pos_in_stream", None) is None:
        return len(text)
    return min(e.pos_in_stream, len(text))


def _describe(e: UnexpectedInput, text: str) -> str:
    if _at_end(e):
        return "syntax error: the text ends too early"
    if isinstance(e, UnexpectedCharacters):
        return f"syntax error: unexpected character {text[e.pos_in_stream]!r}"
    token = getattr(e, "token", None)
    expected = sorted(getattr(e, "expected", ()) or ())
    shown = ", ".join(_PRETTY.get(t, t) for t in expected[:6])
    return f"syntax error: unexpected {token!s:.20}" + (f" (expected {shown})" if shown else "")


_PRETTY = {
    "LPAR": "'('",
    "RPAR": "')'",
    "COMMA": "','",
    "NAME": "a name",
    "NUMBER": "a number",
    "INT": "an integer",
    "PLUS": "'+'",
    "MINUS": "'-'",
    "STAR": "'*'",
    "SLASH": "'/'",
    "VBAR": "'|'",
    "EQUAL": "'='",
    "CIRCUMFLEX": "'^'",
}


if __name__ == "__main__":
    _TABLES.write_text(tables_json() + "\n")
    print(f"wrote {_TABLES}")
