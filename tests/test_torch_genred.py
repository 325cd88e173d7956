"""keir.torch.Genred: tensors in and out, zero-copy, autograd through keir.grad (first and second
order, checked by torch.autograd.gradcheck / gradgradcheck in float64), batches, options, errors.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import keir  # noqa: E402
import keir.torch as kt  # noqa: E402
from keir.torch import autograd as ag  # noqa: E402

F64 = torch.float64
ALIASES = ["x = Vi(3)", "y = Vj(3)", "b = Vj(2)", "s = Pm(1)"]
# one formula per reduction that keir differentiates (LogSumExp / KMin need dimension 1)
CASES = {
    "Sum": ("Exp(-s * SqDist(x, y)) * b", {}),
    "LogSumExp": ("-s * SqDist(x, y) * Sum(b)", {}),
    "LogSumExp_weight": ("-s * SqDist(x, y)", {"formula2": "Exp(Sum(b))"}),
    "SumSoftMaxWeight": ("-s * SqDist(x, y)", {"formula2": "b * Sum(x)"}),
    "Min": ("s * SqDist(x, y) * b", {}),
    "Max": ("s * SqDist(x, y) * b", {}),
    "KMin": ("s * SqDist(x, y) + Sum(b)", {"opt_arg": 3}),
}


def _data(dtype=F64, M=7, N=6, seed=0, requires_grad=True):
    g = torch.Generator().manual_seed(seed)
    shapes = [(M, 3), (N, 3), (N, 2), (1,)]
    return [
        (torch.rand(s, generator=g, dtype=dtype) + 0.5).requires_grad_(requires_grad)
        for s in shapes
    ]


def _genred(case: str, axis: int) -> kt.Genred:
    formula, kw = CASES[case]
    red = "LogSumExp" if case.startswith("LogSumExp") else case
    aliases = ALIASES if axis == 1 else ["x = Vj(3)", "y = Vi(3)", "b = Vi(2)", "s = Pm(1)"]
    return kt.Genred(formula, aliases, reduction_op=red, axis=axis, **kw)


@pytest.mark.parametrize("axis", [0, 1])
@pytest.mark.parametrize("case", sorted(CASES))
def test_forward_is_the_numpy_genred(case, axis):
    f = _genred(case, axis)
    args = _data()
    out = f(*args)
    g = keir.Genred(f.formula, f.aliases, f.reduction_op, axis, opt_arg=f.opt_arg,
                    formula2=f.formula2)  # fmt: skip
    ref = g(*[a.detach().numpy() for a in args])
    assert isinstance(out, torch.Tensor) and out.dtype == F64
    np.testing.assert_array_equal(out.detach().numpy(), ref)


@pytest.mark.parametrize("axis", [0, 1])
@pytest.mark.parametrize("case", sorted(CASES))
def test_gradcheck_every_variable_kind(case, axis):
    """Gradients for Vi, Vj and Pm inputs against finite differences (float64)."""
    f = _genred(case, axis)
    assert torch.autograd.gradcheck(f, tuple(_data()))


@pytest.mark.parametrize(
    "case", ["Sum", "LogSumExp", "LogSumExp_weight", "SumSoftMaxWeight", "Min", "Max", "KMin"]
)
def test_gradgradcheck(case):
    """create_graph=True: the backward is a keir reduction run through the same Function."""
    f = _genred(case, 1)
    assert torch.autograd.gradgradcheck(f, tuple(_data(M=5, N=4)))


def test_gradient_matches_dense_torch():
    x, y, b, s = _data()
    f = _genred("Sum", 1)
    out = f(x, y, b, s)
    gx, gs = torch.autograd.grad((out**2).sum(), [x, s])
    dense = (torch.exp(-s * ((x[:, None] - y[None]) ** 2).sum(-1))[..., None] * b[None]).sum(1)
    rx, rs = torch.autograd.grad((dense**2).sum(), [x, s])
    torch.testing.assert_close(gx, rx)
    torch.testing.assert_close(gs, rs)
    assert gs.shape == s.shape


def test_hessian_vector_product_matches_dense():
    x, y, b, s = _data()
    f = _genred("Sum", 1)
    (gx,) = torch.autograd.grad(f(x, y, b, s).sum(), [x], create_graph=True)
    v = torch.rand_like(x)
    (hv,) = torch.autograd.grad((gx * v).sum(), [y])
    dense = (torch.exp(-s * ((x[:, None] - y[None]) ** 2).sum(-1))[..., None] * b[None]).sum(1)
    (rgx,) = torch.autograd.grad(dense.sum(), [x], create_graph=True)
    (rhv,) = torch.autograd.grad((rgx * v).sum(), [y])
    torch.testing.assert_close(hv, rhv)


def test_float32_in_float32_out_and_backward_on_the_result():
    x, y, b, s = _data(torch.float32)
    out = _genred("Sum", 1)(x, y, b, s)
    assert out.dtype == torch.float32 and out.device.type == "cpu"
    out.sum().backward()
    assert x.grad.dtype == torch.float32 and x.grad.shape == x.shape


def test_no_copy_of_contiguous_inputs_or_of_the_output(monkeypatch):
    """The kernel gets numpy views of the tensors' memory; the output wraps the kernel's."""
    f = _genred("Sum", 1)
    seen = {}
    run = f._reduction.genred.__call__

    class Spy:
        def __call__(self, *arrays, **kw):
            seen["in"] = arrays
            seen["out"] = run(*arrays, **kw)
            return seen["out"]

    monkeypatch.setattr(f._reduction, "genred", Spy())
    args = _data(torch.float32, requires_grad=False)
    out = f(*args)
    for t, a in zip(args, seen["in"]):
        assert a.ctypes.data == t.data_ptr()
    assert out.data_ptr() == seen["out"].ctypes.data


def test_non_contiguous_and_integer_inputs():
    x, y, b, s = _data(requires_grad=False)
    f = _genred("Sum", 1)
    xt = x.t().contiguous().t()  # same values, column-major
    assert not xt.is_contiguous()
    torch.testing.assert_close(f(xt, y, b, s), f(x, y, b, s))
    yi = (10 * y).to(torch.int64)
    torch.testing.assert_close(f(x, yi, b, s), f(x, yi.to(F64), b, s))


def test_python_number_parameter():
    x, y, b, s = _data(requires_grad=False)
    f = _genred("Sum", 1)
    torch.testing.assert_close(f(x, y, b, 0.25), f(x, y, b, torch.tensor([0.25], dtype=F64)))


def test_batch_dimensions_broadcast_and_collapse_gradients():
    g = torch.Generator().manual_seed(1)
    x = torch.rand(2, 1, 5, 3, generator=g, dtype=F64, requires_grad=True)
    y = torch.rand(1, 3, 4, 3, generator=g, dtype=F64, requires_grad=True)
    b = torch.rand(4, 2, generator=g, dtype=F64, requires_grad=True)
    s = torch.rand(2, 3, 1, generator=g, dtype=F64, requires_grad=True)
    f = _genred("Sum", 1)
    out = f(x, y, b, s)
    assert out.shape == (2, 3, 5, 2)
    d2 = ((x[..., :, None, :] - y[..., None, :, :]) ** 2).sum(-1)
    dense = (torch.exp(-s[..., None] * d2)[..., None] * b).sum(-2)
    torch.testing.assert_close(out, dense)
    grads = torch.autograd.grad(out.sum(), [x, y, b, s])
    refs = torch.autograd.grad(dense.sum(), [x, y, b, s])
    for gr, ref, a in zip(grads, refs, [x, y, b, s]):
        assert gr.shape == a.shape
        torch.testing.assert_close(gr, ref)


def test_index_and_pair_reductions_return_int64_without_grad():
    x, y, b, s = _data()
    f = kt.Genred("SqDist(x, y)", ["x = Vi(3)", "y = Vj(3)"], reduction_op="ArgKMin", axis=1,
                  opt_arg=2)  # fmt: skip
    idx = f(x, y)
    ref = ((x[:, None] - y[None]) ** 2).sum(-1).argsort(1)[:, :2]
    assert idx.dtype == torch.int64 and not idx.requires_grad
    torch.testing.assert_close(idx, ref)
    vals, ind = kt.Genred("SqDist(x, y)", ["x = Vi(3)", "y = Vj(3)"], "Min_ArgMin", axis=1)(x, y)
    assert ind.dtype == torch.int64 and vals.dtype == F64


@pytest.mark.parametrize("pair, single", [("Min_ArgMin", "Min"), ("KMin_ArgKMin", "KMin")])
def test_values_of_value_index_pairs_are_differentiable(pair, single):
    x, y, b, s = _data()
    aliases, k = ["x = Vi(3)", "y = Vj(3)"], {"opt_arg": 2} if single == "KMin" else {}
    vals, ind = kt.Genred("SqDist(x, y)", aliases, pair, axis=1, **k)(x, y)
    ref = kt.Genred("SqDist(x, y)", aliases, single, axis=1, **k)(x, y)
    torch.testing.assert_close(vals, ref)
    torch.testing.assert_close(
        torch.autograd.grad(vals.sum(), [x]), torch.autograd.grad(ref.sum(), [x])
    )
    with pytest.raises(keir.NotSupportedError, match="Max_SumShiftExp"):
        kt.Genred("-SqDist(x, y)", aliases, "Max_SumShiftExp", axis=1)(x, y)


def test_out_argument():
    x, y, b, s = _data(requires_grad=False)
    f = _genred("Sum", 1)
    out = torch.empty(7, 2, dtype=F64)
    assert f(x, y, b, s, out=out) is out
    torch.testing.assert_close(out, f(x, y, b, s))
    with pytest.raises(keir.ArgumentError, match="out: expected a tensor of shape"):
        f(x, y, b, s, out=torch.empty(3, dtype=F64))


def test_forward_mode_jvp_and_vmap():
    x, y, b, s = _data(requires_grad=False)
    f = _genred("Sum", 1)
    u = torch.rand_like(x)
    _, t = torch.func.jvp(lambda x: f(x, y, b, s), (x,), (u,))
    eps = 1e-6
    fd = (f(x + eps * u, y, b, s) - f(x - eps * u, y, b, s)) / (2 * eps)
    torch.testing.assert_close(t, fd, rtol=1e-5, atol=1e-7)
    lse = _genred("LogSumExp", 1)
    _, t = torch.func.jvp(lambda x: lse(x, y, b, s), (x,), (u,))
    fd = (lse(x + eps * u, y, b, s) - lse(x - eps * u, y, b, s)) / (2 * eps)
    torch.testing.assert_close(t, fd, rtol=1e-5, atol=1e-7)
    ub = torch.rand_like(b)
    for case in ("LogSumExp_weight", "SumSoftMaxWeight"):  # along x and the weight's b
        g = _genred(case, 1)
        _, t = torch.func.jvp(lambda x, b, g=g: g(x, y, b, s), (x, b), (u, ub))
        fd = (g(x + eps * u, y, b + eps * ub, s) - g(x - eps * u, y, b - eps * ub, s)) / (2 * eps)
        torch.testing.assert_close(t, fd, rtol=1e-5, atol=1e-7)
    xs = torch.rand(3, 7, 3, dtype=F64)
    batched = torch.func.vmap(lambda x: f(x, y, b, s))(xs)
    torch.testing.assert_close(batched, torch.stack([f(xk, y, b, s) for xk in xs]))


def test_jvp_of_other_reductions_is_refused():
    x, y, b, s = _data(requires_grad=False)
    f = _genred("Min", 1)
    with pytest.raises(keir.NotSupportedError, match="jvp"):
        torch.func.jvp(lambda x: f(x, y, b, s), (x,), (torch.ones_like(x),))


SCHEMES = ("direct_sum", "kahan_scheme")


def test_options_are_accepted_or_refused():
    args = _data(torch.float32, requires_grad=False)
    formula = CASES["Sum"][0]
    tuning = dict(enable_chunks=False, rec_multVar_highdim=True, use_fast_math=False)
    f = kt.Genred(formula, ALIASES, axis=1, dtype="float64", sum_scheme="block_sum", **tuning)
    out = f(*args, backend="CPU", device_id=0)
    assert out.dtype == torch.float32  # dtype= is ignored, as in pykeops 2.x
    x, y, b, s = _data()  # a Kahan SumSoftMaxWeight: forward, jvp and backward (the same flag)
    formula2 = CASES["SumSoftMaxWeight"][1]["formula2"]
    red = dict(reduction_op="SumSoftMaxWeight", axis=1, formula2=formula2)
    soft = [kt.Genred("-s * SqDist(x, y)", ALIASES, sum_scheme=sc, **red) for sc in SCHEMES]
    outs = [torch.func.jvp(lambda x, f=f: f(x, y, b, s), (x,), (torch.ones_like(x),)) for f in soft]
    grads = [torch.autograd.grad(f(x, y, b, s).sum(), [x, b]) for f in soft]
    for got, want in ((outs[1], outs[0]), (grads[1], grads[0])):
        for g, w in zip(got, want):
            torch.testing.assert_close(g, w, rtol=1e-12, atol=1e-14)
    with pytest.raises(keir.ArgumentError, match="not allowed for float64"):
        kt.Genred(formula, ALIASES, axis=1, dtype_acc="float32")(*[a.double() for a in args])
    f64 = [a.double() for a in args]
    kt.Genred(formula, ALIASES, axis=1, dtype_acc="float64")(*f64)  # the inputs' own dtype
    with pytest.raises(keir.ArgumentError, match="ranges: ranges_i must be an integer array"):
        f(*args, ranges=(torch.zeros(1, 2),) * 6)  # ranges are run, a bad pattern refused
    with pytest.raises(keir.NotSupportedError, match="backend"):
        f(*args, backend="Neuromorphic")


def test_bad_inputs_name_the_argument():
    x, y, b, s = _data(requires_grad=False)
    f = _genred("Sum", 1)
    with pytest.raises(keir.ArgumentError, match="y: dtype torch.float32, but x is torch.float64"):
        f(x, y.float(), b, s)
    with pytest.raises(keir.ArgumentError, match="y: a tensor on device meta"):
        f(x, torch.empty(6, 3, dtype=F64, device="meta"), b, s)
    with pytest.raises(keir.ArgumentError, match="x: expected inner dimension 3"):
        f(x[:, :2], y, b, s)
    with pytest.raises(keir.ArgumentError, match="b: has 5 rows but y has 6"):
        f(x, y, b[:5], s)
    with pytest.raises(keir.ArgumentError, match="expected 4 tensors"):
        f(x, y, b)
    with pytest.raises(keir.NotSupportedError, match="float16"):
        f(x.half(), y.half(), b.half(), s.half())
    with pytest.raises(keir.ArgumentError, match="b: a complex tensor"):
        f(x, y, b.to(torch.complex128), s)
    with pytest.raises(keir.ArgumentError, match="s: expected a torch tensor, got str"):
        f(x, y, b, "0.5")
    with pytest.raises(keir.ArgumentError, match="incompatible batch dimensions"):
        f(x.expand(2, 7, 3), y.expand(3, 6, 3), b, s)


def test_generic_ops():
    x, y, b, s = _data(requires_grad=False)
    d = ((x[:, None] - y[None]) ** 2).sum(-1)
    gs = kt.generic_sum("SqDist(x, y)", "r = Vi(1)", "x = Vi(3)", "y = Vj(3)")
    torch.testing.assert_close(gs(x, y)[:, 0], d.sum(1))
    gl = kt.generic_logsumexp("-SqDist(x, y)", "r = Vj(1)", "x = Vi(3)", "y = Vj(3)")
    torch.testing.assert_close(gl(x, y)[:, 0], torch.logsumexp(-d, 0))
    ga = kt.generic_argmin("SqDist(x, y)", "r = Vi(1)", "x = Vi(3)", "y = Vj(3)")
    torch.testing.assert_close(ga(x, y)[:, 0], d.argmin(1))
    gk = kt.generic_argkmin("SqDist(x, y)", "r = Vi(2)", 2, "x = Vi(3)", "y = Vj(3)")
    torch.testing.assert_close(gk(x, y), d.argsort(1)[:, :2])
    with pytest.raises(keir.ArgumentError, match="not Pm"):
        kt.generic_sum("SqDist(x, y)", "r = Pm(1)", "x = Vi(3)", "y = Vj(3)")


def test_kernel_solve_is_differentiable():
    g = torch.Generator().manual_seed(3)
    x = torch.rand(12, 3, generator=g, dtype=F64, requires_grad=True)
    b = torch.rand(12, 2, generator=g, dtype=F64, requires_grad=True)
    ks = kt.KernelSolve("Exp(-SqDist(x, y)) * a", ["x = Vi(3)", "y = Vj(3)", "a = Vj(2)"], "a",
                        axis=1)  # fmt: skip
    a = ks(x, x, b, alpha=0.5, eps=1e-12)
    A = torch.exp(-((x[:, None] - x[None]) ** 2).sum(-1)) + 0.5 * torch.eye(12, dtype=F64)
    torch.testing.assert_close(a, torch.linalg.solve(A, b))
    assert torch.autograd.gradcheck(lambda x, b: ks(x, x, b, alpha=0.5, eps=1e-12), (x, b))
    with pytest.raises(keir.ArgumentError, match="varinvalias 'c'"):
        kt.KernelSolve("Exp(-SqDist(x, y)) * a", ["x = Vi(3)", "y = Vj(3)", "a = Vj(2)"], "c")


def test_differentiable_set_is_keir_grads():
    from keir.dialect.reductions import REDUCTIONS

    assert set(ag.DIFFERENTIABLE) == {n for n, r in REDUCTIONS.items() if r.grad is not None}
    assert set(ag.DIFFERENTIABLE) == {"Sum", "LogSumExp", "SumSoftMaxWeight", "Min", "Max", "KMin"}
