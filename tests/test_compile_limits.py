"""Compile time is bounded: kernels that would unroll for minutes are refused up front.

Issue 21: Exp(-SqDist(x,y))*x with x = Vi(5000) compiled in 107 s and TensorProd of two
Vi(100) in 263 s (812 MB); keir.passes.size_limit now refuses both in well under a second of
estimation, with a LimitError naming the op and the limit, while long sums that keir computes
in loops (SqDist of Vi(5000)) and a flat sum of 10^4 terms (refused as "nested too deeply"
before) compile and give numpy's numbers.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from keir import Genred, LimitError
from keir.cli import main
from keir.passes import size_limit


@pytest.mark.parametrize(
    "formula, dim, op",
    [("Exp(-SqDist(x,y))*x", 5000, "keir.mult"), ("TensorProd(x,y)", 100, "keir.tensorprod")],
)
def test_kernels_past_the_unrolling_limit_are_refused_quickly(formula, dim, op):
    start = time.perf_counter()
    f = Genred(formula, [f"x = Vi({dim})", f"y = Vj({dim})"], reduction_op="Sum", axis=1)
    x = np.ones((2, dim))
    with pytest.raises(
        LimitError, match=rf"{op} of dimension .* limit of {size_limit.MAX_UNROLLED:,}"
    ):
        f(x, x)
    assert time.perf_counter() - start < 20  # (was 107 s and 263 s; about 1 s here)


def test_the_command_line_reports_the_limit(capsys):
    args = ["run", "Sum_Reduction(TensorProd(x,y), 0)", "--aliases", "x=Vi(100)", "y=Vj(100)"]
    assert main(args) == 2
    assert "more than keir's limit" in capsys.readouterr().err


def test_the_estimate_counts_loops_once_and_outputs_most():
    from keir.dialect.kernel import kernel_funcs
    from keir.frontend.formula import ReductionSpec, build_kernel
    from keir.passes import pipeline

    def size(formula, dim):
        module, _ = build_kernel(
            formula, [f"x=Vi({dim})", f"y=Vj({dim})"], "float32", ReductionSpec("Sum", 1)
        )
        return size_limit.unrolled_size(kernel_funcs(pipeline.lower(module, "autodiff"))[0])[0]

    assert size("SqDist(x,y)", 5000) == size("SqDist(x,y)", 16)  # a loop over components
    assert size("Exp(-SqDist(x,y))*x", 400) == pytest.approx(
        400 * (2 + size_limit.OUTPUT_WEIGHT), abs=2
    )


def test_long_sums_over_components_still_compile():
    x, y = np.random.default_rng(0).random((2, 40, 5000))
    out = Genred("SqDist(x,y)", ["x = Vi(5000)", "y = Vj(5000)"], "Sum", axis=1, dtype="float64")(
        x, y
    )
    np.testing.assert_allclose(out[:, 0], ((x[:, None] - y[None]) ** 2).sum((1, 2)), rtol=1e-10)


def test_a_flat_sum_of_ten_thousand_terms_compiles_and_is_right():
    formula = "+".join(["x", "y"] * 5000)
    x, y = np.random.default_rng(0).random((2, 6, 1))
    out = Genred(formula, ["x = Vi(1)", "y = Vj(1)"], "Sum", axis=1, dtype="float64")(x, y)
    np.testing.assert_allclose(out, 5000 * (6 * x + y.sum()), rtol=1e-10)


def test_a_flat_product_of_ten_thousand_factors_builds():
    from keir.frontend.formula import ReductionSpec, build_kernel

    build_kernel(
        "*".join(["x"] * 10_000) + "-x/x" * 100, ["x = Vi(1)"], "float32", ReductionSpec("Sum", 1)
    )


def test_a_bundle_kernel_past_the_limit_is_named(tmp_path):
    from keir.bundle import build_bundle, parse_spec
    from keir.errors import BundleError

    kernel = {"name": "big", "formula": "TensorProd(x,y)", "aliases": ["x=Vi(100)", "y=Vj(100)"]}
    with pytest.raises(BundleError, match="kernel big: the kernel would unroll"):
        build_bundle(parse_spec({"kernels": [{**kernel, "reduction": "Sum"}]}), tmp_path / "b")
    assert not list(tmp_path.iterdir())  # nothing left behind
