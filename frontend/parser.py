"""Formula and alias text -> Lark trees (positions kept), with keir errors for bad syntax."""

from __future__ import annotations

import functools

from lark import Lark, Token, Tree
from lark.exceptions import LarkError, UnexpectedCharacters, UnexpectedEOF, UnexpectedInput

from ..errors import FormulaSyntaxError


@functools.cache
def _parser() -> Lark:
    return Lark.open(
        "keops.lark",
        rel_to=__file__,
        start=["formula", "alias"],
        parser="lalr",
        propagate_positions=True,
        maybe_placeholders=False,
    )


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
