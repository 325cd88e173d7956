"""Draws docs/block-sparse.png, the picture of docs/block-sparse.md: which blocks a block-sparse
reduction keeps, on 2,000 + 2,000 points in the unit square (voxels of 0.1, blocks kept when
their centroids are closer than 0.25).

    python benchmarks/block_sparse_picture.py            # writes docs/block-sparse.png

Left: the points x_i (dots) in their voxels; one cluster of x (red) and the clusters of y it
interacts with (shaded). Right: the M x N matrix of pairs (i, j) after sort_clusters, kept
blocks in dark: a reduction with ranges= computes only those.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from keir.numpy.cluster import cluster_ranges_centroids, from_matrix, grid_cluster, sort_clusters

VOXEL, BOUND, POINTS = 0.1, 0.25, 2000


def blocks():
    rng = np.random.default_rng(0)
    x, y = rng.random((POINTS, 2)), rng.random((POINTS, 2))
    x_lab, y_lab = grid_cluster(x, VOXEL), grid_cluster(y, VOXEL)
    x_ranges, x_c, _ = cluster_ranges_centroids(x, x_lab)
    y_ranges, y_c, _ = cluster_ranges_centroids(y, y_lab)
    (x, x_lab), (y, y_lab) = sort_clusters(x, x_lab), sort_clusters(y, y_lab)
    keep = np.linalg.norm(x_c[:, None] - y_c[None], axis=-1) < BOUND
    return x, y, x_lab, y_lab, keep, from_matrix(x_ranges, y_ranges, keep)


def pairs_mask(ranges, m: int, n: int) -> np.ndarray:
    """The (M, N) pairs that the axis-1 half (ranges_i, slices_i, redranges_j) lists."""
    ranges_i, slices_i, redranges_j = ranges[:3]
    mask = np.zeros((m, n), dtype=bool)
    starts = np.concatenate([[0], slices_i[:-1]])
    for (i0, i1), a, b in zip(ranges_i, starts, slices_i):
        for j0, j1 in redranges_j[a:b]:
            mask[i0:i1, j0:j1] = True
    return mask


def draw(out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x, y, x_lab, y_lab, keep, ranges = blocks()
    chosen = int(np.argmax(keep.sum(1)))  # a cluster of x in the middle of the square
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 5.2))
    partners = np.isin(y_lab, np.nonzero(keep[chosen])[0])
    left.scatter(*y[partners].T, s=4, c="#9ecae1", label="y_j in kept clusters")
    left.scatter(*x.T, s=1, c="0.6", label="x_i")
    left.scatter(*x[x_lab == chosen].T, s=6, c="#d62728", label="one cluster of x")
    for t in np.arange(0, 1 + 1e-9, VOXEL):
        left.axhline(t, lw=0.3, c="0.85")
        left.axvline(t, lw=0.3, c="0.85")
    left.set(xlim=(0, 1), ylim=(0, 1), aspect="equal", title="voxels of 0.1, blocks within 0.25")
    left.legend(loc="upper right", fontsize=8, markerscale=3)
    mask = pairs_mask(ranges, len(x), len(y))
    right.imshow(mask, cmap="Greys", interpolation="nearest")
    right.set(xlabel="j (sorted by cluster)", ylabel="i (sorted by cluster)",
              title=f"kept pairs: {mask.mean():.1%} of {len(x)} x {len(y)}")  # fmt: skip
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    print(f"wrote {out}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    root = Path(__file__).resolve().parent.parent
    parser.add_argument("--out", type=Path, default=root / "docs" / "block-sparse.png")
    draw(parser.parse_args().out)


if __name__ == "__main__":
    main()
