"""Block-sparse reductions (`ranges=`) against the same kernels without ranges, and kNN against
scikit-learn's KD-tree, on M = N uniform points in the unit cube (float32).

    python benchmarks/block_sparse.py                         # M = N = 10^6
    python benchmarks/block_sparse.py --size 200000 --dense-size 200000

Gaussian sum: sum_j exp(-|x_i - y_j|^2 / (2 sigma^2)) b_j, sigma = 0.01. x and y are put in
voxels of side 0.05 (keir.numpy.cluster.grid_cluster) and sorted by voxel; a pair of blocks is
kept when their centroids are closer than 5 sigma + the voxel diameter. "dense" is the same
Genred called without ranges, on the same sorted arrays; below --size it runs at
--dense-size (the first points of the same clouds, denser by no matter: the per-pair cost of
a dense kernel does not depend on the data's scale here) and its time is extrapolated by
(size / dense-size)^2, labelled as such. The error is max_i |sparse_i - dense_i| / max_i
|dense_i| over the rows where both ran, beside float32 dense's own error against a float64
dense reference on 2,000 rows.

kNN: ArgKMin K = 10 over j. Blocks are kept when |c_k - c_l| < R + r_k + r_l (r: the largest
distance of a cluster's points to its centroid), so every y within R of x_i is looked at; a row
whose 10th neighbour found is closer than R is therefore exact, and the rows that are not
(near the cube's corners) are recomputed by a dense kernel over all of y: the result is exact by
construction. R = 2 (3 K / (4 pi N))^(1/3), twice the radius holding K points on average.
scikit-learn: NearestNeighbors(algorithm="kd_tree", n_jobs=2) fit on y, kneighbors of x, on the
same float32 data (it computes in float64). "recall" is the share of keir's neighbour indices
that are also sklearn's (ties in float32 distances can swap a 10th and an 11th neighbour).

Clustering time: grid_cluster, cluster_ranges_centroids, sort_clusters of x and y, the
centroid distances, the mask and from_matrix (and the radii for kNN), in numpy.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

import keir
import keir.numpy.cluster as kc

SIGMA, VOXEL, K = 0.01, 0.05, 10
GAUSS = ("Exp(-g * SqDist(x, y)) * b", ["g = Pm(1)", "x = Vi(3)", "y = Vj(3)", "b = Vj(1)"])
KNN = ("SqDist(x, y)", ["x = Vi(3)", "y = Vj(3)"])


class Clusters:
    """One point cloud in voxels: sorted points, the permutation, ranges, centroids, radii."""

    def __init__(self, points: np.ndarray, voxel: float):
        labels = kc.grid_cluster(points, voxel)
        self.ranges, self.centroids, _ = kc.cluster_ranges_centroids(points, labels)
        (self.points, self.order), self.labels = kc.sort_clusters(
            (points, np.arange(len(points))), labels
        )

    def radii(self) -> np.ndarray:
        """Largest distance of each cluster's points to its centroid (no empty clusters)."""
        gap = np.linalg.norm(self.points - self.centroids[self.labels], axis=1)
        return np.maximum.reduceat(gap, self.ranges[:, 0])


def block_mask(ci: np.ndarray, cj: np.ndarray, bound) -> np.ndarray:
    """keep[k, l] = |ci[k] - cj[l]| < bound[k, l] (bound broadcasts to (C_i, C_j)): the close
    pairs from a KD-tree of the centroids (scipy, which scikit-learn brings), then the exact
    test, instead of all C_i * C_j centroid distances (1 s at 8,000 x 8,000 clusters here)."""
    from scipy.spatial import cKDTree

    keep = np.zeros((len(ci), len(cj)), dtype=bool)
    bound = np.broadcast_to(bound, keep.shape)
    near = cKDTree(ci).sparse_distance_matrix(
        cKDTree(cj), float(bound.max()), output_type="ndarray"
    )
    close = near["v"] < bound[near["i"], near["j"]]
    keep[near["i"][close], near["j"][close]] = True
    return keep


def timed(call):
    t0 = time.perf_counter()
    out = call()
    return out, time.perf_counter() - t0


def ranges_supported() -> bool:
    f = keir.Genred(*KNN, "ArgKMin", 1, opt_arg=1)
    x = np.zeros((2, 3), np.float32)
    r = np.array([[0, 2]]), np.array([1]), np.array([[0, 2]])
    try:
        f(x, x, ranges=(*r, *r))
        return True
    except keir.NotSupportedError:
        return False


def gaussian(x, y, b, args, sparse_ok: bool) -> dict:
    f = keir.Genred(*GAUSS, "Sum", 1)
    g = np.array([1 / (2 * SIGMA**2)], np.float32)
    f(g, x[:100], y[:100], b[:100])  # compiles
    (cx, cy), t_cluster = timed(lambda: (Clusters(x, VOXEL), Clusters(y, VOXEL)))
    bound = 5 * SIGMA + VOXEL * np.sqrt(3)
    (keep, ranges), t_mask = timed(lambda: _mask_ranges(cx, cy, bound))
    bs = b[cy.order]
    out = {"clustering_s": t_cluster + t_mask, "blocks": keep.shape, "kept": keep.mean()}
    if sparse_ok:
        out["sparse"], out["sparse_s"] = timed(
            lambda: f(g, cx.points, cy.points, bs, ranges=ranges)
        )
    n = args.dense_size
    if n < len(x):  # a uniform subset: the same distances, so the same cost per pair
        dense, t = timed(lambda: f(g, x[:n], y[:n], b[:n]))
    else:
        dense, t = timed(lambda: f(g, cx.points, cy.points, bs))
    out["dense_s"], out["dense_measured_at"] = t * (len(x) / n) ** 2, n
    if n == len(x) and sparse_ok:
        out["error"] = np.abs(out["sparse"] - dense).max() / np.abs(dense).max()
    rows = np.random.default_rng(1).choice(len(x), 2000, replace=False)
    f64 = f(g.astype(np.float64), cx.points[rows].astype(np.float64), cy.points.astype(np.float64),
            bs.astype(np.float64))  # fmt: skip
    d32 = f(g, cx.points[rows], cy.points, bs)
    out["dense_f32_error"] = np.abs(d32 - f64).max() / np.abs(f64).max()
    if sparse_ok:
        out["sparse_f64_error"] = np.abs(out["sparse"][rows] - f64).max() / np.abs(f64).max()
    return out


def _mask_ranges(cx: Clusters, cy: Clusters, bound):
    keep = block_mask(cx.centroids, cy.centroids, bound)
    return keep, kc.from_matrix(cx.ranges, cy.ranges, keep)


def knn(x, y, sparse_ok: bool) -> dict:
    f = keir.Genred(*KNN, "ArgKMin", 1, opt_arg=K)
    f(x[:100], y[:100])
    radius = 2 * (3 * K / (4 * np.pi * len(y))) ** (1 / 3)

    def cluster():
        cx, cy = Clusters(x, VOXEL), Clusters(y, VOXEL)
        bound = radius + cx.radii()[:, None] + cy.radii()[None, :]
        return cx, cy, *_mask_ranges(cx, cy, bound)

    (cx, cy, keep, ranges), t_cluster = timed(cluster)
    out = {"clustering_s": t_cluster, "kept": keep.mean(), "radius": radius}
    if sparse_ok:
        found, out["sparse_s"] = timed(lambda: _exact_knn(f, cx, cy, ranges, radius))
        found, out["recomputed"] = found
        out["indices"] = np.empty_like(found)
        out["indices"][cx.order] = cy.order[found]  # rows and neighbours in the input order
    return out


def _exact_knn(f, cx: Clusters, cy: Clusters, ranges, radius: float):
    """Block-sparse kNN, then a dense kernel for the rows that the radius does not certify."""
    found = f(cx.points, cy.points, ranges=ranges)
    kth = np.linalg.norm(cx.points - cy.points[found[:, -1]], axis=1)
    doubtful = np.nonzero(kth >= radius)[0]
    if len(doubtful):
        found[doubtful] = f(cx.points[doubtful], cy.points)
    return found, len(doubtful)


def sklearn_knn(x, y) -> dict:
    from sklearn.neighbors import NearestNeighbors

    tree, t_build = timed(
        lambda: NearestNeighbors(n_neighbors=K, algorithm="kd_tree", n_jobs=2).fit(y)
    )
    (_, indices), t_query = timed(lambda: tree.kneighbors(x))
    return {"build_s": t_build, "query_s": t_query, "indices": indices}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1_000_000, help="M = N")
    parser.add_argument("--dense-size", type=int, default=None, help="M = N of the dense runs")
    args = parser.parse_args()
    args.dense_size = min(args.dense_size or args.size, args.size)
    rng = np.random.default_rng(0)
    x, y = rng.random((args.size, 3), np.float32), rng.random((args.size, 3), np.float32)
    b = rng.random((args.size, 1), np.float32)
    sparse_ok = ranges_supported()
    print(f"M = N = {args.size:,}, D = 3, float32; {os.cpu_count()} cores; ranges= "
          f"{'supported' if sparse_ok else 'NOT supported by this keir'}")  # fmt: skip
    _report_gauss(gaussian(x, y, b, args, sparse_ok), args)
    _report_knn(knn(x, y, sparse_ok), sklearn_knn(x, y), sparse_ok)


def _report_gauss(r: dict, args) -> None:
    dense = f"{r['dense_s']:.1f} s" + (
        "" if r["dense_measured_at"] == args.size else
        f" (extrapolated from {r['dense_measured_at']:,}: x{(args.size / r['dense_measured_at']) ** 2:.0f})"
    )  # fmt: skip
    print(f"\nGaussian sum, sigma = {SIGMA}, voxel {VOXEL}: {r['blocks'][0]} x {r['blocks'][1]} "
          f"blocks, {100 * r['kept']:.2f}% kept")  # fmt: skip
    print(f"{'':24}{'time':>12}")
    print(f"{'clustering + mask':24}{r['clustering_s']:>10.2f} s")
    print(f"{'keir dense':24}{dense:>12}")
    if "sparse_s" in r:
        print(f"{'keir ranges':24}{r['sparse_s']:>10.2f} s   speed-up x{r['dense_s'] / r['sparse_s']:.1f}"
              f" (x{r['dense_s'] / (r['sparse_s'] + r['clustering_s']):.1f} with the clustering)")  # fmt: skip
    if "error" in r:
        print(f"relative error, ranges vs dense (all rows): {r['error']:.1e}")
    if "sparse_f64_error" in r:
        print(f"relative error vs float64 dense (2,000 rows): ranges {r['sparse_f64_error']:.1e}, "
              f"float32 dense {r['dense_f32_error']:.1e}")  # fmt: skip


def _report_knn(r: dict, sk: dict, sparse_ok: bool) -> None:
    print(
        f"\nkNN, K = {K}: blocks within R = {r['radius']:.4f} + radii, {100 * r['kept']:.2f}% kept"
    )
    print(f"{'':24}{'time':>12}")
    print(f"{'keir clustering + mask':24}{r['clustering_s']:>10.2f} s")
    if sparse_ok:
        print(
            f"{'keir ranges (exact)':24}{r['sparse_s']:>10.2f} s   ({r['recomputed']} rows redone dense)"
        )
    print(f"{'sklearn KD-tree build':24}{sk['build_s']:>10.2f} s")
    print(f"{'sklearn KD-tree query':24}{sk['query_s']:>10.2f} s")
    if sparse_ok:
        print(f"recall vs sklearn (all rows): {_recall(r['indices'], sk['indices']):.6f}")


def _recall(ours: np.ndarray, theirs: np.ndarray, chunk: int = 100_000) -> float:
    hits = sum(
        (ours[s : s + chunk, :, None] == theirs[s : s + chunk, None, :]).any(-1).sum()
        for s in range(0, len(ours), chunk)
    )
    return hits / ours.size


if __name__ == "__main__":
    main()
