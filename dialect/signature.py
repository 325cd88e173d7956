"""The calling convention of a compiled kernel, as plain data (no MLIR needed to use it).

A kernel computes out[r, :] = Red_{c} F(args at r, c) over `rows` output rows and `reduced`
reduced rows. Its native entry point takes, in this order: every argument array in declaration
order, then the output array (each as a rank-1 memref: allocated ptr, aligned ptr, offset,
size, stride), then M (number of i rows) and N (number of j rows) as int64.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

CAT_NAMES = ("i", "j", "parameter")


@dataclass(frozen=True)
class Signature:
    name: str  # native symbol
    dtype: str  # "float32" | "float64"
    arg_cats: tuple[int, ...]  # 0 = i-indexed, 1 = j-indexed, 2 = parameter
    arg_dims: tuple[int, ...]
    reduction: str  # a name of keir.dialect.reductions.REDUCTIONS
    axis: int  # 1: reduce over j (output indexed by i); 0: reduce over i
    formula_dim: int
    out_dim: int
    k: int = 0  # K of KMin-like reductions
    weight_dim: int = 0  # dim of the weight formula of weighted reductions (0: none)

    @property
    def out_cat(self) -> int:
        return 0 if self.axis == 1 else 1

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> Signature:
        data = dict(data)
        data["arg_cats"] = tuple(data["arg_cats"])
        data["arg_dims"] = tuple(data["arg_dims"])
        return cls(**data)
