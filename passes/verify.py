"""keir-verify: the dimension and argument checks of keir IR, as a pass at pipeline entry.

IRDL verifies only that operands and results are vectors. IR built from formulas is checked
as it is built; IR parsed from text (`keir opt`, a researcher's test file) is not, so every
pipeline the driver runs starts with this pass, and `keir opt` runs it before the user's
pipeline when the module holds keir kernels. Errors name the op, its location and the dims.
"""

from __future__ import annotations

from ..dialect.check import check_module

NAME = "keir-verify"
DESCRIPTION = "check dimensions, variables and reductions of keir kernels (IRDL checks types)"


def run_on(module_op) -> None:
    check_module(module_op)
