"""The reductions of the keir dialect: `REDUCTIONS` maps each name to its `ReductionDef`."""

from . import basic, compensated, kmin, shiftexp  # noqa: F401  (registration)
from .base import MAX_K, REDUCTIONS, RedShape, ReductionDef, check_shape, reduction_def

__all__ = [
    "MAX_K",
    "REDUCTIONS",
    "RedShape",
    "ReductionDef",
    "check_shape",
    "reduction_def",
]
