"""KernelSpec: the one kernel description under Genred, keir.grad and keir.fuse.

Transformations build trees from trees, never text from text; Genred builds a formula once.
"""

from __future__ import annotations

import numpy as np
from lark import Tree

import keir
from keir import Genred
from keir.frontend.formula import ReductionSpec
from keir.frontend.spec import KernelSpec

RNG = np.random.default_rng(3)
X, Y, B = RNG.random((9, 2)), RNG.random((7, 2)), RNG.random((7, 1))


def _subtrees(tree):
    yield tree
    for c in tree.children:
        if isinstance(c, Tree):
            yield from _subtrees(c)


def test_gradient_spec_is_built_from_the_function_tree():
    f = Genred("Exp(-SqDist(x, y)) * b", ["x = Vi(2)", "y = Vj(2)", "b = Vj(1)"], "LogSumExp", 1)
    g = keir.grad(f, "x")
    assert any(t is f.spec.formula for t in _subtrees(g.spec.formula))
    assert [a.name for a in g.spec.aliases[:3]] == ["x", "y", "b"]
    assert g._genred.formula is None  # no formula text exists for a gradient


def test_gradient_arguments_never_clash_with_user_names():
    """The names keir gives gradin and saved values cannot shadow a user's argument."""
    plain = ["x = Vi(2)", "y = Vj(2)", "b = Vj(1)"]
    odd = ["x = Vi(2)", "y = Vj(2)", "_keir_gradin3 = Vj(1)"]
    f1 = Genred("Exp(-SqDist(x, y)) * b", plain, "LogSumExp", 1)
    f2 = Genred("Exp(-SqDist(x, y)) * _keir_gradin3", odd, "LogSumExp", 1)
    e = RNG.random((9, 1))
    np.testing.assert_allclose(
        keir.grad(f2, "x")(X, Y, B, gradin=e), keir.grad(f1, "x")(X, Y, B, gradin=e), rtol=1e-12
    )
    assert len({a.name for a in keir.grad(f2, "x").spec.aliases}) == 5


def test_genred_builds_its_module_once(monkeypatch):
    calls = []
    real = KernelSpec.build

    def counting(self, *a, **k):
        calls.append(a)
        return real(self, *a, **k)

    monkeypatch.setattr(KernelSpec, "build", counting)
    f = Genred("SqDist(x, y) * 1.25", ["x = Vi(2)", "y = Vj(2)"], "Sum", 1, dtype="float64")
    out = f(X, Y)
    assert len(calls) == 1
    np.testing.assert_allclose(out[:, 0], 1.25 * ((X[:, None] - Y[None]) ** 2).sum((1, 2)))


def test_fuse_builds_parts_into_one_module_without_reparsing(monkeypatch):
    from mlir import ir

    def no_parse(*a, **k):
        raise AssertionError("keir.fuse printed and parsed IR")

    aliases = ["x = Vi(2)", "y = Vj(2)", "b = Vj(1)"]
    f = Genred("Exp(-SqDist(x, y)) * b", aliases, "Sum", 1, dtype="float64")
    monkeypatch.setattr(ir.Module, "parse", no_parse)
    value, dx = keir.fuse(f, keir.grad(f, "x"))(X, Y, B, np.ones((9, 1)))
    monkeypatch.undo()
    np.testing.assert_allclose(value, f(X, Y, B), rtol=1e-12)
    np.testing.assert_allclose(dx, keir.grad(f, "x")(X, Y, B), rtol=1e-12)


def test_kahan_compiles_the_compensated_variant_of_each_sum_like_reduction():
    from keir.dialect.reductions.base import SCHEME_REDUCTIONS
    from keir.frontend.spec import SUM_LIKE, Options

    kahan = Options(sum_scheme="kahan_scheme")
    assert {kahan.reduction_kind(kind) for kind in SUM_LIKE} <= set(SCHEME_REDUCTIONS)
    assert kahan.reduction_kind("Min") == "Min" and Options().reduction_kind("Sum") == "Sum"
    f = Genred(
        "SqDist(x, y)", ["x = Vi(2)", "y = Vj(2)"], "LogSumExp", 1, sum_scheme="kahan_scheme"
    )
    assert '"LogSumExp_Kahan"' in str(f.spec.build("float32")[0])


def test_spec_parse_accepts_inline_reduction_and_formula2_text():
    spec = KernelSpec.parse("Sum_Reduction(x * y, 0)", ["x = Vi(1)", "y = Vj(1)"])
    assert spec.reduction == ReductionSpec("Sum", 1)
    weighted = KernelSpec.parse(
        "x * y", ["x = Vi(1)", "y = Vj(1)"], ReductionSpec("SumSoftMaxWeight", 1, 0, "y + 1")
    )
    assert isinstance(weighted.reduction.weight, Tree) and weighted.weight_text == "y + 1"


def test_genred_pickles_and_runs_after(tmp_path):
    import pickle

    f = Genred("SqDist(x, y)", ["x = Vi(2)", "y = Vj(2)"], "Sum", 1, dtype="float64")
    want = f(X, Y)
    g = pickle.loads(pickle.dumps(f))  # after a call too: loaded kernels are not pickled
    np.testing.assert_allclose(g(X, Y), want, rtol=1e-14)
