"""keir.dask on a dask.distributed LocalCluster of 2 worker processes: the same numbers as
in-process keir for every kind of reduction, both axes, uneven and empty chunks, gradients,
one kernel build per worker process, and a worker killed in the middle of a computation."""

from __future__ import annotations

import os
import signal
import time

import numpy as np
import pytest

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")

import keir  # noqa: E402
import keir.dask as kd  # noqa: E402

ALIASES = ["x = Vi(3)", "y = Vj(3)", "b = Vj(2)", "s = Pm(1)"]
RNG = np.random.default_rng(2)
X, Y, B = RNG.random((230, 3)), RNG.random((170, 3)), RNG.random((170, 2))
S = np.array([0.7])


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    )
    with distributed.Client(cluster) as c:
        yield c
    cluster.close()


def _pieces(v):
    return v if isinstance(v, tuple) else (v,)


def _check(got, want, dtype):
    tol = 1e-5 if dtype == "float32" else 1e-11
    for g, w in zip(_pieces(got), _pieces(want), strict=True):
        assert g.dtype == w.dtype and g.shape == w.shape
        np.testing.assert_allclose(g, w, rtol=tol, atol=tol)


CASES = [
    ("Sum", "Exp(-s * SqDist(x, y)) * b", {}),
    ("LogSumExp", "-s * SqDist(x, y)", {}),
    ("LogSumExp", "-s * SqDist(x, y)", {"formula2": "b"}),
    ("ArgKMin", "SqDist(x, y)", {"opt_arg": 4}),
    ("KMin_ArgKMin", "SqDist(x, y) + s", {"opt_arg": 3}),
    ("Min_ArgMin", "SqDist(x, y)", {}),
    ("SumSoftMaxWeight", "-SqDist(x, y)", {"formula2": "b"}),
    ("Max", "(x | y) * b", {}),
]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("kind, formula, opts", CASES, ids=[c[0] + str(c[2]) for c in CASES])
def test_same_results_as_in_process(client, kind, formula, opts, dtype):
    x, y, b = (a.astype(dtype) for a in (X, Y, B))
    # uneven chunks, one of them empty; the numpy b follows y's chunks
    xd = da.from_array(x, chunks=((100, 0, 97, 33), 3))
    yd = da.from_array(y, chunks=((64, 64, 42), 3))
    f = kd.Genred(formula, ALIASES, kind, 1, **opts)
    got = f(xd, yd, b, S)
    assert all(isinstance(p, da.Array) for p in _pieces(got))  # lazy
    got = client.compute(list(_pieces(got)), sync=True)
    want = keir.Genred(formula, ALIASES, kind, 1, **opts)(x, y, b, S)
    _check(tuple(got) if len(got) > 1 else got[0], want, dtype)


@pytest.mark.parametrize("kind", ["Sum", "ArgKMin", "LogSumExp"])
def test_axis_0(client, kind):
    opts = {"opt_arg": 2} if kind == "ArgKMin" else {}
    formula = "-SqDist(x, y)" if kind == "LogSumExp" else "SqDist(x, y) * b"
    if kind == "ArgKMin":
        formula = "SqDist(x, y)"
    aliases = ["x = Vj(3)", "y = Vi(3)", "b = Vi(2)", "s = Pm(1)"]
    xd, yd = da.from_array(Y, chunks=50), da.from_array(X, chunks=77)
    got = kd.Genred(formula, aliases, kind, 0, **opts)(xd, yd, X[:, :2], S)
    want = keir.Genred(formula, aliases, kind, 0, **opts)(Y, X, X[:, :2], S)
    _check(client.compute(got, sync=True), want, "float64")


@pytest.mark.parametrize(
    "kind, formula, opts, wrt",
    [
        ("Sum", "Exp(-s * SqDist(x, y)) * b", {}, "x"),
        ("Sum", "Exp(-s * SqDist(x, y)) * b", {}, "s"),
        ("LogSumExp", "-s * SqDist(x, y)", {}, "y"),
        ("SumSoftMaxWeight", "-SqDist(x, y)", {"formula2": "b"}, "x"),
        ("Min", "SqDist(x, y) + s", {}, "x"),
    ],
)
def test_gradients(client, kind, formula, opts, wrt):
    f = kd.Genred(formula, ALIASES, kind, 1, **opts)
    xd, yd = da.from_array(X, chunks=90), da.from_array(Y, chunks=60)
    e = RNG.random((len(X), f.out_dim_hint()))
    got = client.compute(kd.grad(f, wrt)(xd, yd, B, S, gradin=e), sync=True)
    want = keir.grad(f.numpy, wrt)(X, Y, B, S, gradin=e)
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


def test_graph_size_and_one_build_per_worker(client):
    f = kd.Genred("SqDist(x, y) * b", ALIASES, "Sum", 1)
    xd, yd = da.from_array(X, chunks=23), da.from_array(Y, chunks=17)  # 10 x 10 blocks
    out = f(xd, yd, B, S)
    graph = out.__dask_graph__()
    partial = [k for k in graph if isinstance(k, tuple) and k[0].startswith("keir-partial-")]
    assert len(partial) == 10 * 10
    assert len(graph) < 2 * 10 * 10 + 100  # O(blocks_i x blocks_j): the tasks, merges, inputs
    client.compute(out, sync=True)
    builds = client.run(lambda: list(kd.BUILDS))
    for keys in builds.values():  # each worker process built each kernel at most once
        assert len(keys) == len(set(keys))


def test_a_killed_worker_does_not_change_the_result(client):
    n = 50_000  # 2.5e9 pairs in 100 tasks: long enough to kill a worker while it works
    x, y, b = RNG.random((n, 3)), RNG.random((n, 3)), RNG.random((n, 2))
    formula = "Exp(-SqDist(x, y)) * b"
    f = kd.Genred(formula, ALIASES, "Sum", 1)
    out = f(da.from_array(x, chunks=n // 10), da.from_array(y, chunks=n // 10), b, S)
    future = client.compute(out)
    pids = client.run(os.getpid)
    deadline = time.monotonic() + 60
    while not any(client.processing().values()) and time.monotonic() < deadline:
        time.sleep(0.01)
    busy = next(w for w, tasks in client.processing().items() if tasks)
    os.kill(pids[busy], signal.SIGKILL)
    killed_while_running = not future.done()
    got = future.result(timeout=300)
    want = keir.Genred(formula, ALIASES, "Sum", 1)(x, y, b, S)
    assert killed_while_running
    np.testing.assert_allclose(got, want, rtol=1e-10)
    client.wait_for_workers(2, timeout=60)  # the nanny restarted it


def test_parameters_must_be_numpy():
    f = kd.Genred("SqDist(x, y) * s", ["x = Vi(3)", "y = Vj(3)", "s = Pm(1)"], "Sum", 1)
    with pytest.raises(keir.ArgumentError, match="Pm"):
        f(da.from_array(X), da.from_array(Y), da.from_array(S))


def test_lazytensor_reductions_on_dask_arrays(client):
    x_i = kd.LazyTensor(da.from_array(X, chunks=70)[:, None, :])
    y_j = kd.LazyTensor(da.from_array(Y, chunks=50)[None, :, :])
    b_j = kd.LazyTensor(da.from_array(B, chunks=50)[None, :, :])
    d2 = ((x_i - y_j) ** 2).sum(-1)
    gauss = ((-d2).exp() * b_j).sum(dim=1)
    knn = d2.argKmin(4, dim=1)
    lse = (-d2 * 0.5).logsumexp(dim=0)
    assert all(isinstance(r, da.Array) for r in (gauss, knn, lse))  # lazy
    D2 = ((X[:, None] - Y[None]) ** 2).sum(-1)
    got = client.compute([gauss, knn, lse], sync=True)
    np.testing.assert_allclose(got[0], np.exp(-D2) @ B, rtol=1e-12)
    np.testing.assert_array_equal(got[1], np.argsort(D2, 1, kind="stable")[:, :4])
    np.testing.assert_allclose(got[2][:, 0], np.log(np.exp(-0.5 * D2).sum(0)), rtol=1e-12)
