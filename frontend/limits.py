"""Size limits of the formula language, so that any text is checked quickly and safely.

An integer in a formula ends up in a 64-bit MLIR attribute, and keir unrolls a value's components
into lanes: an integer beyond int64, or a dimension in the millions, would otherwise surface as a
binding's TypeError or a compile that never ends, instead of an error pointing into the formula.
"""

from __future__ import annotations

MAX_DIM = 10_000  # components of a variable or of any intermediate value (compiles in minutes)
_INT64_DIGITS = 19


def int_value(digits: str) -> int | None:
    """The value of a decimal integer literal, or None if it does not fit in int64.

    Checks the length first: int() of thousands of digits is slow and Python refuses it.
    """
    digits = digits.lstrip("0") or "0"
    if len(digits) > _INT64_DIGITS:
        return None
    n = int(digits)
    return n if n < 2**63 else None
