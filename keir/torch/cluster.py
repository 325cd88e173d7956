"""pykeops.torch.cluster on torch tensors: the helpers that turn a point cloud into block-sparse
`ranges` (docs/block-sparse.md). Outputs live on the inputs' device.

Signatures, defaults and dtypes are pykeops 2.3's: grid_cluster's labels are int32, ranges
int64, from_matrix keeps the dtype of the ranges it is given, centroids follow x, the counts of
cluster_ranges_centroids are float32 and its total weights follow `weights`. Every step is a
whole-tensor operation (no Python loop over clusters or dimensions). Where pykeops is wrong,
keir is not:
- grid_cluster labels voxels by their integer coordinates in lexicographic order (pykeops'
  order whenever each axis spans fewer than 1024 voxels; beyond, pykeops' int32 hash
  `x * 2**20 + y * 2**10 + z` merges distant voxels or wraps around). Any dimension D works.
- Sums accumulate in float64 (torch.bincount adds float32 weights in float32) and through
  index_add, so centroids and total weights are differentiable (bincount has no derivative).
- cluster_ranges adds the counts exactly (pykeops: a float32 cumsum, inexact past 2**24 points).
- Bad arguments raise keir.errors.ArgumentError naming them.

Absolute imports only: this module is also imported as pykeops.torch.cluster when
sys.modules["pykeops.torch"] is keir.torch.
"""

from __future__ import annotations

import math
import numbers

import torch

from keir import clustering as check

WHERE = "keir.torch.cluster"
NAMES = ("grid_cluster", "cluster_ranges", "cluster_centroids", "cluster_ranges_centroids",
         "sort_clusters", "from_matrix", "swap_axes")  # fmt: skip
__all__ = list(NAMES)


def grid_cluster(x, size):
    """int32 labels in [0, C) of the cubic cells of side `size` (a number or one per dimension),
    counted from x's smallest coordinates, that hold the points x (M, D)."""
    where = f"{WHERE}.grid_cluster"
    _points(where, x)
    with torch.no_grad():
        size = _voxel_side(where, size, x)
        check.finite(where, "x", bool(torch.isfinite(x).all()))
        if len(x) == 0:
            return torch.zeros(0, dtype=torch.int32, device=x.device)
        scaled = ((x - x.min(axis=0, keepdim=True).values) / size).floor()  # pykeops' cells
        check.cells(where, float(scaled.max()))
        return _voxel_labels(scaled.to(torch.int64)).to(torch.int32)


def _voxel_side(where: str, size, x: torch.Tensor):
    if isinstance(size, numbers.Real) and not isinstance(size, bool):
        side = torch.tensor(float(size), dtype=torch.float64)
    else:
        try:
            side = size if isinstance(size, torch.Tensor) else torch.as_tensor(size, dtype=x.dtype)
        except (TypeError, ValueError, RuntimeError):
            check.fail(where, f"size must be a positive number or vector, got {type(size)}")
        size = side = side.to(x.device)
    positive = bool(((side > 0) & torch.isfinite(side)).all()) if side.numel() else False
    check.voxel(where, tuple(side.shape), x.shape[1], positive)
    return size


def _voxel_labels(cells: torch.Tensor) -> torch.Tensor:
    """Compact labels of integer cells (M, D): one exact mixed-radix key per cell, then ranks
    from a table of the used keys when the grid is small, else a sort (torch.unique)."""
    cells = cells - cells.min(axis=0, keepdim=True).values
    spans = (cells.max(axis=0).values + 1).tolist()
    strides = check.lexicographic_strides(spans)
    if strides is None:
        return torch.unique(cells, dim=0, return_inverse=True)[1].reshape(-1)
    key = (cells * torch.tensor(strides, dtype=torch.int64, device=cells.device)).sum(1)
    grid = math.prod(spans)
    if grid > 8 * len(key) + 1024:
        return torch.unique(key, return_inverse=True)[1]
    used = torch.zeros(grid, dtype=torch.bool, device=key.device)
    used[key] = True
    return (used.cumsum(0) - 1)[key]


def sort_clusters(x, lab):
    """x (a tensor, or a tuple/list of tensors with one row per label) and lab sorted by label,
    so that each cluster is contiguous (torch.sort, as pykeops)."""
    where = f"{WHERE}.sort_clusters"
    _tensor(where, "lab", lab)
    check.labels(where, (lab.numel(),), _kind(lab))
    several = isinstance(x, (tuple, list))
    tensors = list(x) if several else [x]
    for k, t in enumerate(tensors):
        _tensor(where, f"x[{k}]" if several else "x", t)
    check.sequence_lengths(where, [tuple(t.shape) for t in tensors], lab.numel())
    lab, perm = torch.sort(lab.reshape(-1))
    moved = [t[perm] for t in tensors]
    if isinstance(x, tuple):
        return tuple(moved), lab
    if isinstance(x, list):
        return moved, lab
    return moved[0], lab


def cluster_ranges(lab, Nlab=None):
    """The (C, 2) int64 [start, end) rows of each label's points after sort_clusters; Nlab (the
    number of points per label) is counted from lab when not given."""
    where = f"{WHERE}.cluster_ranges"
    if Nlab is None:
        Nlab = torch.bincount(_labels(where, lab)).float()
    _tensor(where, "Nlab", Nlab)
    check.vector(where, "Nlab", tuple(Nlab.shape))
    return _ranges(Nlab)


def _ranges(Nlab: torch.Tensor) -> torch.Tensor:
    counts = Nlab.to(torch.float64 if Nlab.dtype.is_floating_point else torch.int64)
    ends = counts.cumsum(0).to(torch.int64)
    starts = torch.cat((torch.zeros(1, dtype=torch.int64, device=ends.device), ends[:-1]))
    return torch.stack((starts, ends), dim=1)


def cluster_centroids(x, lab, Nlab=None, weights=None, weights_c=None):
    """The (C, D) barycentres, in x's dtype, of each label's points, weighted by `weights` (M,)
    if given; Nlab and weights_c (per-label counts and total weights) are computed if None.
    An empty cluster's centroid is NaN, as in pykeops."""
    where = f"{WHERE}.cluster_centroids"
    _points(where, x)
    if Nlab is not None:
        _tensor(where, "Nlab", Nlab)
        check.vector(where, "Nlab", tuple(Nlab.shape))
    lab = _labels(where, lab, len(x), None if Nlab is None else len(Nlab))
    if weights is not None:
        weights = _weights(where, "weights", weights, len(x))
    if weights_c is not None:
        clusters = len(Nlab) if Nlab is not None else int(lab.max()) + 1 if len(lab) else 0
        weights_c = _weights(where, "weights_c", weights_c, clusters)
    return _centroids(x, lab, Nlab, weights, weights_c)


def _centroids(x, lab, Nlab, weights, weights_c):
    counts = torch.bincount(lab).float() if Nlab is None else Nlab
    if weights is None:
        return _means(_sums(x, lab, len(counts)), counts, x.dtype)
    if weights_c is None:
        weights_c = _sums(weights[:, None], lab, len(counts))[:, 0]
    return _means(_sums(x * weights[:, None], lab, len(counts)), weights_c, x.dtype)


def _means(sums: torch.Tensor, totals: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    return (sums / totals.to(device=sums.device, dtype=torch.float64)[:, None]).to(dtype)


def _sums(values: torch.Tensor, lab: torch.Tensor, clusters: int) -> torch.Tensor:
    """Per-label row sums (C, D) in float64, differentiable (index_add)."""
    zeros = torch.zeros(clusters, values.shape[1], dtype=torch.float64, device=values.device)
    return zeros.index_add(0, lab.to(torch.int64), values.to(torch.float64))


def cluster_ranges_centroids(x, lab, weights=None, min_weight=1e-9):
    """(ranges (C, 2) int64, centroids (C, D) in x's dtype, per-cluster weight (C,)): the point
    counts (float32) when `weights` is None, else the summed weights, each at least min_weight
    (so that no centroid divides by zero)."""
    where = f"{WHERE}.cluster_ranges_centroids"
    _points(where, x)
    lab = _labels(where, lab, len(x))
    Nlab = torch.bincount(lab).float()
    if weights is None:
        return _ranges(Nlab), _centroids(x, lab, Nlab, None, None), Nlab
    weights = _weights(where, "weights", weights, len(x))
    weights = torch.where(weights <= min_weight, min_weight, weights)
    w_c = _sums(weights[:, None], lab, len(Nlab))[:, 0]
    centroids = _centroids(x, lab, Nlab, weights, w_c)
    return _ranges(Nlab), centroids, w_c.to(_bincount_dtype(weights.dtype))


def _bincount_dtype(dtype: torch.dtype) -> torch.dtype:
    """What torch.bincount(lab, weights) returns for weights of this dtype (pykeops' w_c)."""
    return torch.float32 if dtype == torch.float32 else torch.float64


def from_matrix(ranges_i, ranges_j, keep):
    """The `ranges=` 6-tuple (ranges_i, slices_i, redranges_j, ranges_j, slices_j, redranges_i)
    that reduces cluster k of i against cluster l of j exactly where keep[k, l]: slices_i[k]
    ends cluster k's rows of redranges_j, slices_j[l] cluster l's of redranges_i. The slices are
    int64, the ranges keep their dtype (as in pykeops)."""
    where = f"{WHERE}.from_matrix"
    for name, r in (("ranges_i", ranges_i), ("ranges_j", ranges_j)):
        _tensor(where, name, r)
        check.ranges(where, name, tuple(r.shape), _kind(r))
    _tensor(where, "keep", keep)
    check.mask(where, tuple(keep.shape), _kind(keep), len(ranges_i), len(ranges_j))
    for name, r in (("ranges_i", ranges_i), ("ranges_j", ranges_j)):
        if r.device != keep.device:
            check.fail(where, f"{name} is on {r.device}, keep on {keep.device}")
    rows, cols = keep.nonzero(as_tuple=True)  # row by row: each i-cluster's j-clusters
    by_column = torch.sort(cols, stable=True).indices
    redranges_j = ranges_j[cols]
    redranges_i = ranges_i[rows[by_column]]  # column by column
    slices_i = torch.bincount(rows, minlength=len(ranges_i)).cumsum(0)
    slices_j = torch.bincount(cols, minlength=len(ranges_j)).cumsum(0)
    return (ranges_i, slices_i, redranges_j, ranges_j, slices_j, redranges_i)


def swap_axes(ranges):
    """The ranges of the transposed reduction (i and j halves exchanged); None stays None."""
    if ranges is None:
        return None
    check.ranges_tuple(f"{WHERE}.swap_axes", ranges)
    return (*ranges[3:6], *ranges[0:3])


def _kind(t: torch.Tensor) -> str:
    """numpy's dtype.kind letter of a tensor's dtype (what keir.clustering's checks read)."""
    if t.dtype == torch.bool:
        return "b"
    if t.dtype.is_complex:
        return "c"
    return "f" if t.dtype.is_floating_point else "i"


def _tensor(where: str, name: str, value) -> None:
    if not isinstance(value, torch.Tensor):
        check.fail(where, f"{name} must be a torch tensor, got {type(value).__name__}")


def _points(where: str, x) -> None:
    _tensor(where, "x", x)
    check.points(where, "x", tuple(x.shape), _kind(x))


def _labels(where: str, lab, count: int | None = None, clusters: int | None = None):
    _tensor(where, "lab", lab)
    check.labels(where, tuple(lab.shape), _kind(lab), count)
    if lab.numel():
        check.label_bounds(where, int(lab.min()), int(lab.max()), clusters)
    return lab


def _weights(where: str, name: str, value, length: int) -> torch.Tensor:
    _tensor(where, name, value)
    value = value.reshape(-1)
    check.vector(where, name, tuple(value.shape), length)
    return value
