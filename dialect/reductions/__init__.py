"""The reductions of the keir dialect: `REDUCTIONS` maps each name to its `ReductionDef`."""

from . import basic, kmin, shiftexp  # noqa: F401  (registration, in the order docs list them)

# isort: split
from . import compensated  # noqa: F401  (their Kahan variants, in SCHEME_REDUCTIONS)
from .base import MAX_K, REDUCTIONS, RedShape, ReductionDef, check_shape, reduction_def

__all__ = [
    "MAX_K",
    "REDUCTIONS",
    "RedShape",
    "ReductionDef",
    "check_shape",
    "reduction_def",
]
