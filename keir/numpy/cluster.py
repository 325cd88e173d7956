"""pykeops.numpy.cluster on numpy: the helpers that turn a point cloud into block-sparse `ranges`.

grid_cluster puts points in voxels, sort_clusters makes each voxel's points contiguous,
cluster_ranges / cluster_centroids / cluster_ranges_centroids give each cluster's [start, end)
rows and barycentre, from_matrix turns a cluster-to-cluster boolean mask into the 6-tuple that
`ranges=` takes, and swap_axes exchanges its i and j halves. docs/block-sparse.md is the guide.

Signatures, defaults, dtypes and results are pykeops 2.3's (labels and ranges int64, centroids in
x's dtype, counts and total weights float64). Every step is a whole-array numpy operation (no
Python loop over clusters). Where pykeops is wrong, keir is not:
- grid_cluster labels voxels by their integer coordinates in lexicographic order, which is
  pykeops' order whenever each axis spans fewer than 1024 voxels; beyond that pykeops' hash
  `x * 2**20 + y * 2**10 + z` puts distant voxels under one label. Any dimension D works
  (pykeops: D <= 3).
- from_matrix reads the mask's nonzeros once instead of building two (C_i, C_j) index grids.
- Bad arguments raise keir.errors.ArgumentError naming them.
"""

from __future__ import annotations

import math

import numpy as np

from .. import clustering as check

WHERE = "keir.numpy.cluster"


def grid_cluster(x, size):
    """Labels in [0, C) of the cubic cells of side `size` (a number or one per dimension) that
    hold the points x (M, D): int64, in the lexicographic order of the cells' coordinates."""
    where = f"{WHERE}.grid_cluster"
    x = _points(where, x)
    try:
        side = np.asarray(size, dtype=float)
    except (TypeError, ValueError):
        check.fail(where, f"size must be a positive number or vector, got {type(size).__name__}")
    check.voxel(where, side.shape, x.shape[1], bool(np.all(side > 0) & np.all(np.isfinite(side))))
    check.finite(where, "x", bool(np.isfinite(x).all()))
    with np.errstate(over="ignore"):  # an infinite quotient is refused just below
        scaled = np.floor(x / size)  # pykeops' own expression: the same cells, to the last bit
    if scaled.size:
        check.cells(where, float(np.abs(scaled).max()))
    return _voxel_labels(scaled.astype(np.int64))


def _voxel_labels(cells: np.ndarray) -> np.ndarray:
    """Compact labels of integer cells (M, D): one key per cell in a mixed radix (exact, no
    collision), then ranks from a table of the used keys when the grid is small, else a sort."""
    if len(cells) == 0:
        return np.zeros(0, dtype=np.int64)
    cells = cells - cells.min(axis=0)
    spans = (cells.max(axis=0) + 1).tolist()
    strides = check.lexicographic_strides(spans)
    if strides is None:
        return np.unique(cells, axis=0, return_inverse=True)[1].reshape(-1).astype(np.int64)
    key = cells @ np.asarray(strides, dtype=np.int64)
    grid = math.prod(spans)
    if grid > 8 * len(key) + 1024:
        return np.unique(key, return_inverse=True)[1].reshape(-1).astype(np.int64)
    used = np.zeros(grid, dtype=bool)
    used[key] = True
    return (np.cumsum(used) - 1)[key]


def sort_clusters(x, lab):
    """x (an array, or a tuple/list of arrays with one row per label) and lab, sorted by label so
    that each cluster is contiguous; the same permutation as pykeops (numpy's default argsort)."""
    where = f"{WHERE}.sort_clusters"
    lab = np.asarray(lab)
    check.labels(where, lab.reshape(-1).shape, lab.dtype.kind)
    lab = lab.reshape(-1)
    arrays = list(x) if isinstance(x, (tuple, list)) else [x]
    arrays = [np.asarray(a) for a in arrays]
    check.sequence_lengths(where, [a.shape for a in arrays], len(lab))
    perm = np.argsort(lab)
    moved = [a[perm] for a in arrays]
    if isinstance(x, tuple):
        return tuple(moved), lab[perm]
    if isinstance(x, list):
        return moved, lab[perm]
    return moved[0], lab[perm]


def cluster_ranges(lab, Nlab=None):
    """The (C, 2) int64 [start, end) rows of each label's points after sort_clusters; Nlab (the
    number of points per label) is counted from lab when not given."""
    where = f"{WHERE}.cluster_ranges"
    if Nlab is None:
        Nlab = np.bincount(_labels(where, lab))
    Nlab = _vector(where, "Nlab", Nlab)
    return _ranges(Nlab)


def _ranges(Nlab: np.ndarray) -> np.ndarray:
    pivots = np.concatenate((np.array([0]), np.cumsum(Nlab, axis=0)))
    return np.stack((pivots[:-1], pivots[1:]), axis=1).astype(np.int64)


def cluster_centroids(x, lab, Nlab=None, weights=None, weights_c=None):
    """The (C, D) barycentres, in x's dtype, of each label's points, weighted by `weights` (M,)
    if given; Nlab and weights_c (per-label counts and total weights) are computed if None.
    An empty cluster's centroid is NaN, as in pykeops."""
    where = f"{WHERE}.cluster_centroids"
    x = _points(where, x)
    if Nlab is not None:
        Nlab = _vector(where, "Nlab", Nlab)
    lab = _labels(where, lab, len(x), None if Nlab is None else len(Nlab))
    if weights is not None:
        weights = _vector(where, "weights", np.ravel(weights), len(x))
    clusters = len(Nlab) if Nlab is not None else int(lab.max(initial=-1)) + 1
    if weights_c is not None:
        weights_c = _vector(where, "weights_c", np.ravel(weights_c), clusters)
    return _centroids(x, lab, Nlab, weights, weights_c)


def _centroids(x, lab, Nlab, weights, weights_c):
    if Nlab is None:
        Nlab = np.bincount(lab).astype(float)
    clusters = len(Nlab)
    if weights is None:
        values, totals = x, Nlab
    else:
        values = x * weights[:, None]
        if weights_c is None:
            weights_c = np.bincount(lab, weights=weights, minlength=clusters)
        totals = np.ravel(weights_c)
    with np.errstate(invalid="ignore", divide="ignore"):  # empty clusters: 0 / 0 = NaN
        return (_sums(values, lab, clusters) / totals[:, None]).astype(x.dtype)


def _sums(values: np.ndarray, lab: np.ndarray, clusters: int) -> np.ndarray:
    """Per-label column sums (C, D) in float64: pykeops' bincounts, so the same sums to the bit
    (one bincount per coordinate: D is small, and a joint (label, column) one is slower)."""
    columns = [np.bincount(lab, weights=v, minlength=clusters) for v in values.T]
    return np.stack(columns, axis=1).reshape(clusters, values.shape[1])


def cluster_ranges_centroids(x, lab, weights=None):
    """(ranges (C, 2) int64, centroids (C, D) in x's dtype, per-cluster weight (C,) float64):
    the point counts when `weights` is None, else the summed weights."""
    where = f"{WHERE}.cluster_ranges_centroids"
    x = _points(where, x)
    lab = _labels(where, lab, len(x))
    Nlab = np.bincount(lab).astype(float)
    if weights is None:
        return _ranges(Nlab), _centroids(x, lab, Nlab, None, None), Nlab
    weights = _vector(where, "weights", np.ravel(weights), len(x))
    w_c = np.bincount(lab, weights=weights, minlength=len(Nlab))
    return _ranges(Nlab), _centroids(x, lab, Nlab, weights, w_c), w_c


def from_matrix(ranges_i, ranges_j, keep):
    """The `ranges=` 6-tuple (ranges_i, slices_i, redranges_j, ranges_j, slices_j, redranges_i),
    all int64, that reduces cluster k of i against cluster l of j exactly where keep[k, l]:
    slices_i[k] ends cluster k's rows of redranges_j, slices_j[l] cluster l's of redranges_i."""
    where = f"{WHERE}.from_matrix"
    ranges_i = _ranges_arg(where, "ranges_i", ranges_i)
    ranges_j = _ranges_arg(where, "ranges_j", ranges_j)
    keep = np.asarray(keep)
    check.mask(where, keep.shape, keep.dtype.kind, len(ranges_i), len(ranges_j))
    rows, cols = np.nonzero(keep)  # row by row: the j-clusters of each i-cluster, in order
    redranges_j = ranges_j[cols]
    redranges_i = ranges_i[rows[np.argsort(cols, kind="stable")]]  # column by column
    slices_i = np.cumsum(np.bincount(rows, minlength=len(ranges_i)))
    slices_j = np.cumsum(np.bincount(cols, minlength=len(ranges_j)))
    parts = (ranges_i, slices_i, redranges_j, ranges_j, slices_j, redranges_i)
    return tuple(a.astype(np.int64) for a in parts)


def swap_axes(ranges):
    """The ranges of the transposed reduction (i and j halves exchanged); None stays None."""
    if ranges is None:
        return None
    check.ranges_tuple(f"{WHERE}.swap_axes", ranges)
    return (*ranges[3:6], *ranges[0:3])


def _points(where: str, x) -> np.ndarray:
    x = np.asarray(x)
    check.points(where, "x", x.shape, x.dtype.kind)
    return x


def _labels(where: str, lab, count: int | None = None, clusters: int | None = None):
    lab = np.asarray(lab)
    check.labels(where, lab.shape, lab.dtype.kind, count)
    if lab.size:
        check.label_bounds(where, int(lab.min()), int(lab.max()), clusters)
    return lab


def _vector(where: str, name: str, value, length: int | None = None) -> np.ndarray:
    value = np.asarray(value)
    check.vector(where, name, value.shape, length)
    return value


def _ranges_arg(where: str, name: str, value) -> np.ndarray:
    value = np.asarray(value)
    check.ranges(where, name, value.shape, value.dtype.kind)
    return value
