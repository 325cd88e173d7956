"""The calling convention of a compiled kernel, as plain data (no MLIR needed to use it).

A kernel computes, for every output row r, one or more reductions over the reduced rows c:
out_k[r, :] = Red_k_{c} F_k(args at r, c). All its reductions share one axis (a fused kernel
evaluates their formulas once per pair). Its native entry point takes, in this order: every
argument array in declaration order, then the output arrays (each as a rank-1 memref:
allocated ptr, aligned ptr, offset, size, stride), then M (i rows) and N (j rows) as int64.
With layout "tiles", the arrays indexed by the reduced index are stored in transposed tiles.
With `control`, one more rank-1 memref follows M and N: int64[2], [stop flag, finished output
rows], through which the launcher cancels a running call and reads its progress.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

CAT_NAMES = ("i", "j", "parameter")


@dataclass(frozen=True)
class Output:
    reduction: str  # a name of keir.dialect.reductions.REDUCTIONS
    formula_dim: int
    out_dim: int
    k: int = 0  # K of KMin-like reductions
    weight_dim: int = 0  # dim of the weight formula of weighted reductions (0: none)


@dataclass(frozen=True)
class Signature:
    name: str  # native symbol
    dtype: str  # "float32" | "float64"
    arg_cats: tuple[int, ...]  # 0 = i-indexed, 1 = j-indexed, 2 = parameter
    arg_dims: tuple[int, ...]
    axis: int  # 1: reduce over j (outputs indexed by i); 0: reduce over i
    outputs: tuple[Output, ...]
    # "rows": every array row-major (keir-lower-cpu); "tiles" (keir-tile-cpu): the arrays of
    # the reduced index are cut in tiles of `lanes` rows (zero-padded), each tile stored
    # component-major, so that a vector of `lanes` consecutive indices is one contiguous load
    layout: str = "rows"
    lanes: int = 0
    control: bool = False  # takes the control memref after M and N (keir-tile-cpu)

    @property
    def out_cat(self) -> int:
        return 0 if self.axis == 1 else 1

    # the single output of an unfused kernel
    @property
    def reduction(self) -> str:
        return self.outputs[0].reduction

    @property
    def out_dim(self) -> int:
        return self.outputs[0].out_dim

    @property
    def formula_dim(self) -> int:
        return self.outputs[0].formula_dim

    @property
    def k(self) -> int:
        return self.outputs[0].k

    @property
    def weight_dim(self) -> int:
        return self.outputs[0].weight_dim

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> Signature:
        data = dict(data)
        data["arg_cats"] = tuple(data["arg_cats"])
        data["arg_dims"] = tuple(data["arg_dims"])
        data["outputs"] = tuple(Output(**o) for o in data["outputs"])
        return cls(**data)
