"""What keir.numpy.cluster and keir.torch.cluster share: argument checks and the voxel key layout.

The checks look only at shapes and dtype kinds ("b" bool, "i"/"u" integer, "f" float, as numpy's
`dtype.kind` spells them), so one set serves numpy arrays and torch tensors and neither library
is imported here. Each failure is an ArgumentError that names the function and the argument:
pykeops' helpers index with whatever they get and fail later, or return wrong ranges.
"""

from __future__ import annotations

from .errors import ArgumentError

INTEGER = ("i", "u")


def fail(where: str, message: str):
    raise ArgumentError(f"{where}: {message}")


def points(where: str, name: str, shape: tuple, kind: str) -> None:
    """An (M, D) array of real coordinates."""
    if len(shape) != 2:
        fail(where, f"{name} must be an (M, D) array of points, got shape {tuple(shape)}")
    if shape[1] == 0:
        fail(where, f"{name} has points with no coordinates (shape {tuple(shape)})")
    if kind not in ("f", *INTEGER):
        fail(where, f"{name} must hold real numbers, got dtype kind {kind!r}")


def labels(where: str, shape: tuple, kind: str, count: int | None = None, name="lab") -> None:
    """A vector of integer labels, one per point when `count` is given."""
    if len(shape) != 1:
        fail(where, f"{name} must be a vector of integer labels, got shape {tuple(shape)}")
    if kind not in INTEGER:
        fail(where, f"{name} must hold integers (cluster labels), got dtype kind {kind!r}")
    if count is not None and shape[0] != count:
        fail(where, f"{name} has {shape[0]} labels for {count} points")


def label_bounds(where: str, low: int, high: int, clusters: int | None, name="lab") -> None:
    """Labels in [0, clusters): negative ones have no range, larger ones no count."""
    if low < 0:
        fail(where, f"{name} holds a negative label ({low}); labels are in [0, C)")
    if clusters is not None and high >= clusters:
        fail(where, f"{name} holds label {high}, but Nlab counts only {clusters} clusters")


def vector(where: str, name: str, shape: tuple, length: int | None = None) -> None:
    """A vector (per-point weights, per-cluster counts or total weights)."""
    if len(shape) != 1:
        fail(where, f"{name} must be a vector, got shape {tuple(shape)}")
    if length is not None and shape[0] != length:
        fail(where, f"{name} has {shape[0]} entries, expected {length}")


def ranges(where: str, name: str, shape: tuple, kind: str) -> None:
    """A (C, 2) integer array of [start, end) rows."""
    if len(shape) != 2 or shape[1] != 2:
        fail(where, f"{name} must be a (C, 2) array of [start, end) rows, got shape {tuple(shape)}")
    if kind not in INTEGER:
        fail(where, f"{name} must hold integers, got dtype kind {kind!r}")


def mask(where: str, shape: tuple, kind: str, rows: int, cols: int) -> None:
    """The (C_i, C_j) boolean cluster-to-cluster mask of from_matrix."""
    if kind != "b":
        fail(where, f"keep must be a boolean mask (e.g. dist < threshold), got dtype kind {kind!r}")
    if tuple(shape) != (rows, cols):
        fail(
            where,
            f"keep has shape {tuple(shape)}, expected ({rows}, {cols}) = "
            "(len(ranges_i), len(ranges_j))",
        )


def voxel(where: str, shape: tuple, dims: int, positive: bool) -> None:
    """grid_cluster's size: a positive number or one per dimension."""
    if len(shape) > 1 or (len(shape) == 1 and shape[0] not in (1, dims)):
        fail(where, f"size must be a number or a ({dims},) vector, got shape {tuple(shape)}")
    if not positive:
        fail(where, "size must be positive and finite (the side of a voxel)")


def finite(where: str, name: str, ok: bool) -> None:
    if not ok:
        fail(where, f"{name} holds NaN or infinite values: they have no voxel")


def cells(where: str, largest: float) -> None:
    """Voxel indices that fit int64 (pykeops' int32 ones wrap around silently)."""
    if not largest < 2.0**62:
        fail(where, "size is too small for the extent of x: voxel indices overflow int64")


def ranges_tuple(where: str, value) -> None:
    """The 6-tuple (ranges_i, slices_i, redranges_j, ranges_j, slices_j, redranges_i)."""
    if not isinstance(value, (tuple, list)) or len(value) != 6:
        got = f"{len(value)} items" if isinstance(value, (tuple, list)) else type(value).__name__
        fail(
            where,
            "ranges must be None or the 6-tuple (ranges_i, slices_i, redranges_j, ranges_j, "
            f"slices_j, redranges_i), got {got}",
        )


def sequence_lengths(where: str, shapes: list, count: int) -> None:
    """Every array that sort_clusters permutes has one row per label."""
    for k, shape in enumerate(shapes):
        if len(shape) == 0 or shape[0] != count:
            fail(where, f"x[{k}] has shape {tuple(shape)}, expected {count} rows (one per label)")


def lexicographic_strides(spans: list[int]) -> list[int] | None:
    """Mixed-radix strides (last axis fastest) giving each voxel a distinct int64 key, in the
    lexicographic order of its integer coordinates; None when the grid exceeds int64."""
    strides, total = [], 1
    for span in reversed(spans):
        strides.append(total)
        total *= span
    return list(reversed(strides)) if total < 2**62 else None
