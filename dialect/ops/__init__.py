"""The formula operations of the keir dialect: `OPS` maps each KeOps name to its `OpDef`.

Each family lives in its own module; importing this package registers them all.
"""

from . import arithmetic, complex, elementary, linalg, vector  # noqa: F401  (registration)
from .base import OPS, DimRuleError, OpDef

__all__ = ["OPS", "DimRuleError", "OpDef"]
