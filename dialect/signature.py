"""The calling convention of a compiled kernel, as plain data (no MLIR needed to use it).

A kernel computes, for every output row r, one or more reductions over the reduced rows c:
out_k[r, :] = Red_k_{c} F_k(args at r, c). All its reductions share one axis (a fused kernel
evaluates their formulas once per pair). Its native entry point takes, in this order: every
argument array in declaration order, then the output arrays (each as a rank-1 memref:
allocated ptr, aligned ptr, offset, size, stride), then M (i rows) and N (j rows) as int64.
With layout "tiles", the arrays indexed by the reduced index are stored in transposed tiles.
With `control`, one more rank-1 memref follows M and N: int64[2], [stop flag, finished output
rows], through which the launcher cancels a running call and reads its progress. With `ranges`
(block-sparse), two int64 memrefs follow it: the work list and the reduced ranges
(keir.runtime.ranges).
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
    # True: each output holds its reduction's raw running state (ReductionDef.state_len lanes
    # per row, before finalize), for callers that merge partial results (keir.dask)
    states: bool = False
    control: bool = False  # takes the control memref after M and N (keir-tile-cpu)
    # block-sparse (keir-tile-cpu{ranges}): two int64 memrefs follow the control block, the
    # work list and the reduced ranges of keir.runtime.ranges
    ranges: bool = False

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
        """The signature that `to_json` wrote; ValueError naming the field if `data` is not one
        (it comes from disk: a wrong field would make the native code read out of bounds)."""
        if not isinstance(data, dict) or set(data) != _FIELDS:
            raise ValueError(f"a signature has the fields {sorted(_FIELDS)}")
        outputs = data["outputs"]
        if not isinstance(outputs, list | tuple) or not outputs:
            raise ValueError("signature: outputs must be a non-empty list")
        fields = dict(data, arg_cats=tuple(_ints(data, "arg_cats")))
        fields["arg_dims"] = tuple(_ints(data, "arg_dims"))
        fields["outputs"] = tuple(_output(o) for o in outputs)
        sig = cls(**fields)
        sig._check()
        return sig

    def _check(self) -> None:
        problems = [
            (not isinstance(self.name, str) or not self.name.isidentifier(), "name"),
            (self.dtype not in ("float32", "float64"), "dtype"),
            (any(c not in (0, 1, 2) for c in self.arg_cats), "arg_cats"),
            (
                len(self.arg_dims) != len(self.arg_cats) or min(self.arg_dims, default=1) < 1,
                "arg_dims",
            ),
            (not _is_int(self.axis) or self.axis not in (0, 1), "axis"),
            (self.layout not in ("rows", "tiles"), "layout"),
            (not _is_int(self.lanes) or self.lanes < (self.layout == "tiles"), "lanes"),
            (not isinstance(self.states, bool), "states"),
            (not isinstance(self.control, bool), "control"),
            (not isinstance(self.ranges, bool) or (self.ranges and not self.control), "ranges"),
        ]
        for bad, field in problems:
            if bad:
                raise ValueError(f"signature: invalid {field}")

    def same_call(self, other: Signature) -> bool:
        """Whether both take the same arguments and give the same outputs (the layout the
        lowering chose aside): what a caller that knows the formula can check."""
        return _call(self) == _call(other)


def _call(s: Signature) -> tuple:
    return s.dtype, s.arg_cats, s.arg_dims, s.axis, sorted(s.outputs, key=repr), s.states, s.ranges


_FIELDS = {
    *("name", "dtype", "arg_cats", "arg_dims", "axis", "outputs"),
    *("layout", "lanes", "states", "control", "ranges"),
}


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _ints(data: dict, field: str) -> list[int]:
    values = data[field]
    if not isinstance(values, list | tuple) or not all(_is_int(v) for v in values):
        raise ValueError(f"signature: {field} must be a list of integers")
    return list(values)


def _output(data) -> Output:
    names = {"reduction", "formula_dim", "out_dim", "k", "weight_dim"}
    if not isinstance(data, dict) or set(data) != names or not isinstance(data["reduction"], str):
        raise ValueError(f"signature: an output has the fields {sorted(names)}")
    sizes = [data[n] for n in ("formula_dim", "out_dim", "k", "weight_dim")]
    if not all(_is_int(v) and v >= 0 for v in sizes) or min(sizes[:2]) < 1:
        raise ValueError("signature: an output's sizes must be integers (dims at least 1)")
    return Output(**data)
