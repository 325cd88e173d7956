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

# keir.<mnemonic> -> OpDef, for everything that reads ops back out of IR (after the loop above,
# so that derivative rules attached at import are included)
BY_MNEMONIC = {d.mnemonic: d for d in OPS.values()}

__all__ = ["BY_MNEMONIC", "FAMILIES", "OPS", "DimRuleError", "OpDef"]
