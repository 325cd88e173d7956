"""Block-sparse `ranges` (pykeops 2.3's 6-tuple): checked, then turned into a kernel work list.

    ranges = (ranges_i, slices_i, redranges_j, ranges_j, slices_j, redranges_i)

A reduction over j (axis 1) uses the first half: output rows ranges_i[k] = [start, end) reduce
over the union of the j-ranges redranges_j[l] for l in [slices_i[k-1], slices_i[k]) (slices_i[-1]
read as 0). A reduction over i (axis 0) uses the second half the same way, with i and j
exchanged; a gradient over the other variable kind therefore uses the half its axis names.
Output rows in no range get the reduction's neutral result (0 for a sum), as in pykeops.

keir-tile-cpu{ranges} reads two int64 arrays (passes/lowering/ranged.py):
    work (W, 4)  [r0, r1, s0, s1]: output rows [r0, r1) reduce over red[s0:s1]
    red  (R, 2)  reduced ranges [a, b)
The work list cuts each range into chunks of at most CHUNK_ROWS rows (parallel items of
similar size even when one range holds most rows) and adds the rows in no range as items with
no reduced range, so every output row is written exactly once.

Everything the kernel would read out of bounds is refused here, with the problem named:
a tuple of the wrong length, non-integer arrays, wrong shapes, ranges out of [0, size],
reversed, unsorted or overlapping output ranges, slices that decrease or point past the end,
and overlapping or unsorted reduced ranges within one slice (a pair counted twice).
"""

from __future__ import annotations

import numpy as np

from ..errors import ArgumentError

NAMES = ("ranges_i", "slices_i", "redranges_j", "ranges_j", "slices_j", "redranges_i")
CHUNK_ROWS = 64  # output rows per parallel work item, at most


def halves(ranges) -> tuple[tuple, tuple]:
    """The 6-tuple as ((ranges_i, slices_i, redranges_j), (ranges_j, slices_j, redranges_i)),
    each array an int64 numpy array of the right shape (ArgumentError otherwise)."""
    if not isinstance(ranges, list | tuple) or len(ranges) != 6:
        got = (
            f"a {type(ranges).__name__} of length {len(ranges)}"
            if _sized(ranges)
            else (type(ranges).__name__)
        )
        raise ArgumentError(
            "ranges: expected a 6-tuple (ranges_i, slices_i, redranges_j, ranges_j, slices_j, "
            f"redranges_i) of integer arrays, as pykeops.numpy.cluster.from_matrix makes; got {got}"
        )
    arrays = tuple(_integers(name, a) for name, a in zip(NAMES, ranges))
    for name, a in zip(NAMES, arrays):
        want = 1 if name.startswith("slices") else 2
        if a.ndim != want or (want == 2 and a.shape[1] != 2):
            shape = "(n,)" if want == 1 else "(n, 2)"
            raise ArgumentError(f"ranges: {name} must have shape {shape}, got {a.shape}")
    for out, sl in ((0, 1), (3, 4)):
        if len(arrays[out]) != len(arrays[sl]):
            raise ArgumentError(
                f"ranges: {NAMES[out]} has {len(arrays[out])} ranges but {NAMES[sl]} has "
                f"{len(arrays[sl])} entries (one per range)"
            )
    return arrays[:3], arrays[3:]


def swap_axes(ranges):
    """The ranges of the transposed reduction (pykeops' swap_axes): the halves exchanged."""
    if ranges is None:
        return None
    if not isinstance(ranges, list | tuple) or len(ranges) != 6:
        halves(ranges)  # raises the error naming the problem
    return (*ranges[3:], *ranges[:3])


def work_list(ranges, axis: int, rows: int, reduced: int) -> tuple[np.ndarray, np.ndarray]:
    """(work, red) for a reduction over `axis` with `rows` output rows and `reduced` reduced
    rows: the arrays keir-tile-cpu{ranges} reads, after every check of the module docstring."""
    names = NAMES[:3] if axis == 1 else NAMES[3:]
    out, slices, red = halves(ranges)[0 if axis == 1 else 1]
    _check_intervals(names[0], out, rows)
    _check_intervals(names[2], red, reduced)
    if len(out) and (out[1:, 0] < out[:-1, 1]).any():
        k = int(np.argmax(out[1:, 0] < out[:-1, 1])) + 1
        raise ArgumentError(
            f"ranges: {names[0]} must be sorted and non-overlapping; range {k} "
            f"{out[k].tolist()} starts before range {k - 1} {out[k - 1].tolist()} ends"
        )
    starts = np.concatenate([[0], slices[:-1]]) if len(slices) else slices
    if len(slices) and (slices[0] < 0 or (slices[1:] < slices[:-1]).any()):
        raise ArgumentError(f"ranges: {names[1]} must be non-decreasing and non-negative")
    if len(slices) and slices[-1] > len(red):
        raise ArgumentError(
            f"ranges: {names[1]} points past the end of {names[2]} "
            f"({int(slices[-1])} > {len(red)} ranges)"
        )
    _check_within_slices(names, red, starts, slices)
    return _items(out, starts, slices, rows), np.ascontiguousarray(red.reshape(-1))


def batch_ranges(ranges, B: int, M: int, N: int):
    """The 6-tuple of B batches stacked into one (B M) x (B N) problem: each batch's M x N
    block, or within it the pattern `ranges` (of one batch), so batches never mix."""
    if ranges is None:
        i = np.stack([np.arange(B) * M, np.arange(1, B + 1) * M], 1)
        j = np.stack([np.arange(B) * N, np.arange(1, B + 1) * N], 1)
        slices = np.arange(1, B + 1)
        return i, slices, j, j, slices, i
    out = []
    for (ranges_x, slices_x, red), (nx, ny) in zip(halves(ranges), ((M, N), (N, M))):
        b = np.arange(B, dtype=np.int64)[:, None, None]
        out.append((ranges_x[None] + b * nx).reshape(-1, 2))
        out.append((slices_x[None] + b[:, :, 0] * len(red)).reshape(-1))
        out.append((red[None] + b * ny).reshape(-1, 2))
    return tuple(out)


def batch_offsets(B: int, reduced: int) -> np.ndarray:
    """(B, 1): what to subtract from the stacked problem's indices to count them per batch
    (clipped at 0 by the caller: a row with nothing to reduce holds the neutral index 0)."""
    return (np.arange(B, dtype=np.int64) * reduced)[:, None]


def _items(out, starts, stops, rows: int) -> np.ndarray:
    """The work list: ranges and the gaps between them, cut into chunks of CHUNK_ROWS rows."""
    gap_lo = np.concatenate([[0], out[:, 1]])
    gap_hi = np.concatenate([out[:, 0], [rows]])
    gaps = gap_hi > gap_lo
    zeros = np.zeros(int(gaps.sum()), dtype=np.int64)
    lo = np.concatenate([out[:, 0], gap_lo[gaps]])
    hi = np.concatenate([out[:, 1], gap_hi[gaps]])
    s0 = np.concatenate([starts, zeros])
    s1 = np.concatenate([stops, zeros])
    keep = hi > lo
    lo, hi, s0, s1 = lo[keep], hi[keep], s0[keep], s1[keep]
    order = np.argsort(lo, kind="stable")
    lo, hi, s0, s1 = lo[order], hi[order], s0[order], s1[order]
    chunks = -(-(hi - lo) // CHUNK_ROWS)
    item = np.repeat(np.arange(len(lo)), chunks)
    first = np.repeat(np.cumsum(chunks) - chunks, chunks)
    r0 = lo[item] + (np.arange(len(item)) - first) * CHUNK_ROWS
    r1 = np.minimum(r0 + CHUNK_ROWS, hi[item])
    return np.ascontiguousarray(np.stack([r0, r1, s0[item], s1[item]], axis=1), dtype=np.int64)


def _check_intervals(name: str, a: np.ndarray, size: int) -> None:
    if not len(a):
        return
    bad = (a[:, 0] < 0) | (a[:, 1] > size) | (a[:, 0] > a[:, 1])
    if bad.any():
        k = int(np.argmax(bad))
        raise ArgumentError(
            f"ranges: {name}[{k}] = {a[k].tolist()} is not an interval [start, end) with "
            f"0 <= start <= end <= {size}"
        )


def _check_within_slices(names, red, starts, stops) -> None:
    """Within one slice, the reduced ranges must be sorted and disjoint (else pairs would be
    counted twice); between slices they may repeat (neighbouring blocks share their j-ranges)."""
    if len(red) < 2:
        return
    first_of_slice = np.zeros(len(red), dtype=bool)
    first_of_slice[starts[starts < len(red)]] = True
    follows = ~first_of_slice[1:]  # red[l + 1] is in the same slice as red[l]
    # only entries that some slice covers matter: those below slices[-1]
    covered = np.arange(1, len(red)) < (stops[-1] if len(stops) else 0)
    bad = follows & covered & (red[1:, 0] < red[:-1, 1])
    bad &= red[1:, 0] < red[1:, 1]  # an empty range overlaps nothing
    if bad.any():
        k = int(np.argmax(bad)) + 1
        raise ArgumentError(
            f"ranges: {names[2]} must be sorted and non-overlapping within each slice of "
            f"{names[1]}; range {k} {red[k].tolist()} overlaps range {k - 1} "
            f"{red[k - 1].tolist()} of the same slice"
        )


def _integers(name: str, a) -> np.ndarray:
    if hasattr(a, "detach") and hasattr(a, "cpu"):  # a torch tensor (torch is not imported)
        a = a.detach().cpu().numpy()
    try:
        arr = np.asarray(a)
    except (TypeError, ValueError) as e:
        raise ArgumentError(f"ranges: {name} cannot be read as an array: {e}") from None
    if arr.dtype.kind not in "iu":
        raise ArgumentError(
            f"ranges: {name} must be an integer array (int32 or int64), got dtype {arr.dtype}"
        )
    return arr.astype(np.int64, copy=False)


def _sized(x) -> bool:
    try:
        len(x)
    except TypeError:
        return False
    return True
