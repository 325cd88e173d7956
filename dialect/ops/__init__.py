"""The formula operations of the keir dialect: `OPS` maps each KeOps name to its `OpDef`.

Each family lives in its own module; importing this package registers them all, and
`FAMILIES` records which module (family title) each operation came from, for the docs.
"""

import importlib

from .base import OPS, DimRuleError, OpDef

FAMILIES: dict[str, list[str]] = {}

for _module, _title in [
    ("arithmetic", "Arithmetic, constants and comparisons"),
    ("elementary", "Elementary functions"),
    ("vector", "Vector operations"),
    ("linalg", "Matrix and tensor products, B-splines"),
    ("complex", "Complex numbers (interleaved re, im pairs)"),
]:
    _before = set(OPS)
    importlib.import_module(f".{_module}", __name__)
    FAMILIES[_title] = [name for name in OPS if name not in _before]

__all__ = ["FAMILIES", "OPS", "DimRuleError", "OpDef"]
