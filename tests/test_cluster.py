"""keir.numpy.cluster and keir.torch.cluster against pykeops 2.3's pure-python helpers (same
dtypes, same labels, ranges and centroids) and against direct numpy definitions; the cases where
pykeops is wrong (hash collisions past 1024 voxels) against the definition alone; bad input."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass

import numpy as np
import pytest

import keir
import keir.numpy.cluster as knc

pykeops_numpy_cluster = pytest.importorskip("pykeops.numpy.cluster")


@dataclass
class Lib:
    """One array library: keir's helpers, pykeops' helpers, numpy -> library -> numpy."""

    name: str
    keir: object
    pykeops: object
    array: object
    numpy: object


def _numpy_lib():
    return Lib("numpy", knc, pykeops_numpy_cluster, np.asarray, np.asarray)


def _torch_lib():
    torch = pytest.importorskip("torch")
    import pykeops.torch.cluster

    import keir.torch.cluster

    def to_numpy(t):
        return t.detach().cpu().numpy()

    return Lib("torch", keir.torch.cluster, pykeops.torch.cluster, torch.from_numpy, to_numpy)


@pytest.fixture(params=["numpy", "torch"])
def lib(request):
    return _numpy_lib() if request.param == "numpy" else _torch_lib()


def same(a, b, lib, rtol=0.0):
    """Equal values and dtypes (rtol for float sums, which keir.torch adds in float64)."""
    assert str(a.dtype) == str(b.dtype)
    a, b = lib.numpy(a), lib.numpy(b)
    assert a.shape == b.shape
    if rtol:
        np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol)
    else:
        np.testing.assert_array_equal(a, b)


def cloud(rng, m, d, dtype, low=-1.0, high=2.0):
    return (low + (high - low) * rng.random((m, d))).astype(dtype)


def lexicographic_labels(cells):
    """The definition: the rank of each point's cell among the distinct cells, sorted."""
    return np.unique(cells, axis=0, return_inverse=True)[1].reshape(-1)


@pytest.mark.parametrize("d", [1, 2, 3])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_grid_cluster_matches_pykeops(lib, rng, d, dtype):
    x = lib.array(cloud(rng, 3000, d, dtype))
    for size in (0.3, 0.07, np.linspace(0.1, 0.3, d)):
        size = size if np.isscalar(size) or lib.name == "numpy" else lib.array(size)
        same(lib.keir.grid_cluster(x, size), lib.pykeops.grid_cluster(x, size), lib)


@pytest.mark.parametrize("d", [1, 2, 3, 5])
def test_grid_cluster_labels_cells_lexicographically(lib, rng, d):
    """Labels equal exactly when cells are, ranked in order: also where pykeops' hash collides
    (3000 voxels along an axis) and in 5-D (pykeops: NotImplementedError)."""
    x = cloud(rng, 4000, d, "float64") * np.array([3000.0] + [7.0] * (d - 1))
    labels = lib.numpy(lib.keir.grid_cluster(lib.array(x), 1.0))
    origin = 0 if lib.name == "numpy" else x.min(axis=0)  # pykeops.torch counts from the min
    np.testing.assert_array_equal(labels, lexicographic_labels(np.floor((x - origin) / 1.0)))


def test_grid_cluster_keeps_the_cells_pykeops_hash_merges(lib):
    """Cells (0, 1024, 0) and (1, 0, 0) share pykeops' key 2**20: one label there, two here."""
    x = lib.array(np.array([[0.5, 0.5, 0.5], [0.5, 1024.5, 0.5], [1.5, 0.5, 0.5]]))
    np.testing.assert_array_equal(lib.numpy(lib.pykeops.grid_cluster(x, 1.0)), [0, 1, 1])
    np.testing.assert_array_equal(lib.numpy(lib.keir.grid_cluster(x, 1.0)), [0, 1, 2])


def test_grid_cluster_sparse_grid_takes_the_sorting_path(lib, rng):
    """Few points on a huge grid (more cells than 8 per point): the unique/sort branch."""
    x = rng.random((50, 3)) * 1e4
    labels = lib.numpy(lib.keir.grid_cluster(lib.array(x), 1.0))
    origin = 0 if lib.name == "numpy" else x.min(axis=0)
    np.testing.assert_array_equal(labels, lexicographic_labels(np.floor(x - origin)))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("weighted", [False, True])
def test_cluster_ranges_centroids_matches_pykeops(lib, rng, dtype, weighted):
    x = lib.array(cloud(rng, 2000, 3, dtype))
    lab = lib.keir.grid_cluster(x, 0.5)
    kw = {"weights": lib.array(rng.random(2000).astype(dtype))} if weighted else {}
    ours = lib.keir.cluster_ranges_centroids(x, lab, **kw)
    theirs = lib.pykeops.cluster_ranges_centroids(x, lab, **kw)
    same(ours[0], theirs[0], lib)
    rtol = 1e-5 if dtype == "float32" and lib.name == "torch" else 0.0
    same(ours[1], theirs[1], lib, rtol)
    same(ours[2], theirs[2], lib, rtol)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_centroids_and_ranges_follow_their_definitions(lib, rng, dtype):
    """Against plain numpy: each cluster's [start, end) rows after sort_clusters hold exactly its
    points, and its centroid is their weighted mean."""
    x, w = cloud(rng, 1500, 2, dtype), rng.random(1500).astype(dtype) + 0.1
    lab = lib.keir.grid_cluster(lib.array(x), 0.4)
    ranges, centroids, w_c = lib.keir.cluster_ranges_centroids(lib.array(x), lab, lib.array(w))
    (xs, ws), labs = lib.keir.sort_clusters((lib.array(x), lib.array(w)), lab)
    ranges, centroids, w_c = lib.numpy(ranges), lib.numpy(centroids), lib.numpy(w_c)
    xs, ws, labs, lab = lib.numpy(xs), lib.numpy(ws), lib.numpy(labs), lib.numpy(lab)
    assert np.all(np.diff(labs) >= 0) and ranges[-1, 1] == len(x)
    tol = 1e-5 if dtype == "float32" else 1e-12
    for k, (start, end) in enumerate(ranges):
        assert np.all(labs[start:end] == k) and np.sum(lab == k) == end - start
        mean = (xs[start:end] * ws[start:end, None]).sum(0) / ws[start:end].sum()
        np.testing.assert_allclose(centroids[k], mean, rtol=tol)
        np.testing.assert_allclose(w_c[k], ws[start:end].sum(), rtol=tol)


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")  # pykeops' 0 / 0
def test_empty_clusters_and_given_counts(lib, rng):
    """Label 1 unused: a NaN centroid and an empty range, as in pykeops; Nlab longer than the
    labels (a trailing empty cluster, which pykeops fails on) gives one more NaN row."""
    x = lib.array(rng.random((6, 2)))
    lab = lib.array(np.array([0, 0, 2, 2, 3, 0]))
    same(lib.keir.cluster_centroids(x, lab), lib.pykeops.cluster_centroids(x, lab), lib)
    same(lib.keir.cluster_ranges(lab), lib.pykeops.cluster_ranges(lab), lib)
    counts = lib.array(np.array([3.0, 0.0, 2.0, 1.0, 0.0]))
    c = lib.numpy(lib.keir.cluster_centroids(x, lab, Nlab=counts))
    assert c.shape == (5, 2) and np.isnan(c[[1, 4]]).all() and not np.isnan(c[[0, 2, 3]]).any()
    np.testing.assert_array_equal(lib.numpy(lib.keir.cluster_ranges(lab, counts))[-1], [6, 6])


def test_given_weights_c_and_nlab_match_pykeops(lib, rng):
    x, w = lib.array(rng.random((40, 3))), lib.array(rng.random(40))
    lab = lib.keir.grid_cluster(x, 0.5)
    _, _, w_c = lib.pykeops.cluster_ranges_centroids(x, lab, weights=w)
    ours = lib.keir.cluster_centroids(x, lab, weights=w, weights_c=w_c)
    same(ours, lib.pykeops.cluster_centroids(x, lab, weights=w, weights_c=w_c), lib, 1e-12)


def test_torch_min_weight_clamps_zero_weights(rng):
    lib = _torch_lib()
    x = lib.array(rng.random((10, 2)))
    w = lib.array(np.array([0.0] * 5 + [1.0] * 5))
    lab = lib.array(np.array([0] * 5 + [1] * 5))
    ours = lib.keir.cluster_ranges_centroids(x, lab, weights=w, min_weight=1e-3)
    theirs = lib.pykeops.cluster_ranges_centroids(x, lab, weights=w, min_weight=1e-3)
    for a, b in zip(ours, theirs):
        same(a, b, lib, 1e-12)
    assert not np.isnan(lib.numpy(ours[1])).any()


def test_torch_centroids_are_differentiable(rng):
    """index_add sums: gradients in x and weights (pykeops' bincount has no derivative)."""
    torch = pytest.importorskip("torch")
    import keir.torch.cluster as ktc

    x = torch.rand(30, 2, dtype=torch.float64, requires_grad=True)
    w = (torch.rand(30, dtype=torch.float64) + 0.5).requires_grad_()
    lab = ktc.grid_cluster(x, 0.4)
    torch.autograd.gradcheck(lambda x, w: ktc.cluster_ranges_centroids(x, lab, w)[1:], (x, w))


def test_sort_clusters_matches_pykeops(lib, rng):
    x, y = lib.array(rng.random((500, 3))), lib.array(rng.random((500, 1)))
    lab = lib.keir.grid_cluster(x, 0.25)
    for arg in (x, (x, y), [x, y]):
        ours, theirs = lib.keir.sort_clusters(arg, lab), lib.pykeops.sort_clusters(arg, lab)
        assert type(ours[0]) is type(theirs[0])
        same(ours[1], theirs[1], lib)
        for a, b in zip(
            *(o if isinstance(o, (tuple, list)) else (o,) for o in (ours[0], theirs[0]))
        ):
            same(a, b, lib)


def test_from_matrix_matches_pykeops_and_the_mask(lib, rng):
    """The 6-tuple equals pykeops' (dtypes too), and expanding it gives the block mask: pairs
    (i, j) listed for axis 1 are those listed for axis 0, and exactly the kept blocks."""
    sizes_i, sizes_j = rng.integers(0, 5, 7), rng.integers(0, 5, 9)  # some empty clusters
    ranges_i = np.stack([np.cumsum(sizes_i) - sizes_i, np.cumsum(sizes_i)], 1)
    ranges_j = np.stack([np.cumsum(sizes_j) - sizes_j, np.cumsum(sizes_j)], 1)
    keep = rng.random((7, 9)) < 0.4
    keep[2] = False  # an i-cluster with no partner
    keep[:, 5] = False  # a j-cluster with none
    args = lib.array(ranges_i), lib.array(ranges_j), lib.array(keep)
    ours, theirs = lib.keir.from_matrix(*args), lib.pykeops.from_matrix(*args)
    for a, b in zip(ours, theirs):
        same(a, b, lib)
    r_i, s_i, red_j, r_j, s_j, red_i = (lib.numpy(a) for a in ours)
    cluster_of_i, cluster_of_j = np.repeat(np.arange(7), sizes_i), np.repeat(np.arange(9), sizes_j)
    dense = keep[cluster_of_i[:, None], cluster_of_j[None, :]]
    for axis, (targets, slices, red) in enumerate([(r_j, s_j, red_i), (r_i, s_i, red_j)]):
        listed = np.zeros_like(dense)
        starts = np.concatenate([[0], slices[:-1]])
        for (t0, t1), a, b in zip(targets, starts, slices):
            for r0, r1 in red[a:b]:
                block = (
                    (slice(r0, r1), slice(t0, t1)) if axis == 0 else (slice(t0, t1), slice(r0, r1))
                )
                listed[block] = True
        np.testing.assert_array_equal(listed, dense)


def test_one_point_and_empty_cloud(lib):
    x = lib.array(np.array([[0.3, -0.2]]))
    lab = lib.keir.grid_cluster(x, 0.1)
    same(lab, lib.pykeops.grid_cluster(x, 0.1), lib)
    for a, b in zip(lib.keir.cluster_ranges_centroids(x, lab),
                    lib.pykeops.cluster_ranges_centroids(x, lab)):  # fmt: skip
        same(a, b, lib)
    empty = lib.keir.grid_cluster(lib.array(np.zeros((0, 3))), 0.1)
    assert lib.numpy(empty).shape == (0,) and str(empty.dtype) == str(lab.dtype)


def test_swap_axes(lib):
    ranges = tuple(lib.array(np.full((1, 2), k)) for k in range(6))
    swapped = lib.keir.swap_axes(ranges)
    assert [int(lib.numpy(a)[0, 0]) for a in swapped] == [3, 4, 5, 0, 1, 2]
    assert lib.keir.swap_axes(None) is None


def _ints(*shape):
    return np.zeros(shape, dtype=np.int64)


POINTS, LABELS = np.zeros((3, 2)), np.array([0, 1, 1])
BAD_CALLS = [  # (function, arguments, [keyword arguments,] message)
    ("grid_cluster", (np.zeros(5), 0.1), "x must be an \\(M, D\\)"),
    ("grid_cluster", (POINTS, 0.0), "size must be positive"),
    ("grid_cluster", (POINTS, -1), "size must be positive"),
    ("grid_cluster", (POINTS, np.ones(3)), "size must be a number"),
    ("grid_cluster", (np.full((5, 2), np.nan), 0.1), "x holds NaN"),
    ("grid_cluster", (np.arange(10.0).reshape(5, 2) * 1e300, 1e-300), "size is too small"),
    ("cluster_ranges", (np.array([0, -1]),), "lab holds a negative label"),
    ("cluster_ranges", (np.array([0.0, 1.0]),), "lab must hold integers"),
    ("cluster_ranges", (_ints(2, 2),), "lab must be a vector"),
    ("cluster_centroids", (POINTS, np.array([0, 1])), "lab has 2 labels for 3"),
    ("cluster_centroids", (POINTS, np.array([0, 1, 4]), np.ones(2)), "lab holds label 4, but Nlab"),
    ("cluster_centroids", (POINTS, LABELS), {"weights": np.ones(4)}, "weights has 4 entries"),
    ("cluster_ranges_centroids", (POINTS, LABELS), {"weights": np.ones(2)}, "weights has 2"),
    ("sort_clusters", ((POINTS, np.zeros(4)), LABELS), "x\\[1\\] has shape \\(4,\\)"),
    ("from_matrix", (_ints(2, 3), _ints(2, 2), np.ones((2, 2), bool)), "ranges_i must be a \\(C"),
    ("from_matrix", (_ints(2, 2), _ints(3, 2), np.ones((2, 2), bool)), "keep has shape \\(2, 2\\)"),
    ("from_matrix", (_ints(2, 2), _ints(2, 2), np.ones((2, 2))), "keep must be a boolean mask"),
    ("swap_axes", ((np.zeros((1, 2)),) * 3,), "ranges must be None or the 6-tuple"),
]


def _convert(value, lib):
    if isinstance(value, tuple):
        return tuple(_convert(v, lib) for v in value)
    return lib.array(value) if isinstance(value, np.ndarray) else value


@pytest.mark.parametrize("case", BAD_CALLS, ids=lambda c: f"{c[0]}-{c[-1][:20]}")
def test_bad_input_raises_argument_error_naming_it(lib, case):
    name, args, *rest = case
    kwargs = {k: lib.array(v) for k, v in (rest[0] if len(rest) == 2 else {}).items()}
    with pytest.raises(keir.errors.ArgumentError, match=f"{name}: {rest[-1]}"):
        getattr(lib.keir, name)(*_convert(args, lib), **kwargs)


def test_torch_helpers_refuse_numpy_arrays():
    lib = _torch_lib()
    with pytest.raises(keir.errors.ArgumentError, match="grid_cluster: x must be a torch tensor"):
        lib.keir.grid_cluster(np.zeros((3, 2)), 0.1)


def test_keir_numpy_cluster_does_not_import_torch():
    code = "import sys, keir.numpy.cluster; print('torch' in sys.modules)"
    assert subprocess.check_output([sys.executable, "-c", code], text=True).strip() == "False"
