"""keir-expand's exp, log, sin, cos (and sqrt, rsqrt, lowered by LLVM): ulp error, IEEE values.

Each function F runs inside a compiled kernel: out_i = sum_j IfElse(Equal(i, j) - 1, F(y_j), 0)
= F(y_i) selects without arithmetic, so NaN and inf reach the output untouched. F(y_j) is
computed on the vector lanes of the reduced index j, except for the last N mod L values (the
scalar tail); run again in chunks of L - 1 values, everything goes through the scalar tail. Both
must agree bit for bit, and be within 2 ulp (float32) or 4 ulp (float64) of numpy in long
double (80-bit on x86: 11 more bits than float64). A sum turns -0 into +0: signed zeros are
checked through 1 / Sin.
"""

from __future__ import annotations

import functools
from decimal import Decimal
from fractions import Fraction

import numpy as np
import pytest

from keir import Genred
from keir.passes.lowering.vecmath_trig import BOUND
from keir.target import host

MAX_ULP = {"float32": 2, "float64": 4}
UINT = {"float32": np.uint32, "float64": np.uint64}
SPECIAL = [0.0, -0.0, 1.0, -1.0, np.inf, -np.inf, np.nan]
HALF_PI_TEXT = "1.5707963267948966192313216916397514420985846996875529104874722"
HALF_PI, HALF_PI_LD = Fraction(Decimal(HALF_PI_TEXT)), np.longdouble(HALF_PI_TEXT)


@functools.cache
def kernel(formula: str, dtype: str) -> Genred:
    aliases = ["i = Vi(1)", "j = Vj(1)", "y = Vj(1)"]
    return Genred(f"IfElse(Equal(i, j) - 1, {formula}, 0)", aliases, "Sum", axis=1, dtype=dtype)


def evaluate(formula: str, values: np.ndarray, dtype: str, chunk: int) -> np.ndarray:
    parts = []
    for start in range(0, len(values), chunk):
        y = values[start : start + chunk, None]
        index = np.arange(len(y), dtype=dtype)[:, None]
        parts.append(kernel(formula, dtype)(index, index, y)[:, 0])
    return np.concatenate(parts)


def vector_and_tail(name: str, values: np.ndarray, dtype: str) -> np.ndarray:
    """F(values) on vector lanes (and a few in the tail), checked equal to the scalar tail's."""
    width = host().lanes(dtype)
    vector = evaluate(f"{name}(y)", values, dtype, 64 * width - 3)
    tail = evaluate(f"{name}(y)", values, dtype, width - 1)  # shorter than one vector
    np.testing.assert_array_equal(vector.view(UINT[dtype]), tail.view(UINT[dtype]))
    return vector


def ulp_error(got: np.ndarray, exact: np.ndarray, dtype: str) -> np.ndarray:
    """|got - exact| in units of the spacing of dtype at the exact value."""
    spacing = np.spacing(np.abs(exact).astype(dtype)).astype(np.longdouble)
    return (np.abs(got.astype(np.longdouble) - exact) / spacing).astype(np.float64)


# ------------------------------------------------------------------ inputs and references
def random_floats(rng, dtype: str, n: int, top: float) -> np.ndarray:
    """Positive floats with uniformly random bit patterns in (0, top]: every binade alike."""
    high = np.array(top, dtype=dtype).view(UINT[dtype])
    return rng.integers(1, int(high), n, dtype=UINT[dtype], endpoint=True).view(dtype)


def near_half_pi_multiples(dtype: str, bound: float) -> np.ndarray:
    """In each binade [2^e, 2^(e+1)) below bound, the floats m 2^(e-p+1) (p bits of mantissa)
    closest to multiples n pi/2: m/n runs over the continued-fraction convergents of
    (pi/2) 2^(p-1-e) and their first multiples with m in [2^(p-1), 2^p)."""
    p = np.finfo(dtype).nmant + 1
    found = []
    for e in range(1, int(np.log2(bound))):
        alpha = HALF_PI * Fraction(2) ** (p - 1 - e)
        h0, h1, k0, k1 = 0, 1, 1, 0
        while True:
            t = alpha.numerator // alpha.denominator
            h0, h1, k0, k1 = h1, t * h1 + h0, k1, t * k1 + k0
            if h1 >= 2**p or alpha == t:
                break
            first = -(-(2 ** (p - 1)) // h1)  # the smallest multiple of h1 in range
            found += [m * h1 * 2.0 ** (e - p + 1) for m in (first, first + 1) if m * h1 < 2**p]
            alpha = 1 / (alpha - t)
    return np.array(found, dtype=dtype)


def inputs(name: str, dtype: str) -> np.ndarray:
    rng = np.random.default_rng(0)
    uniform = rng.uniform
    info = np.finfo(dtype)
    if name == "Exp":
        low, high = (-110.0, 90.0) if dtype == "float32" else (-750.0, 712.0)
        edges = (
            [88.72, 88.73, -87.33, -103.0, -103.98, -104.5]
            if dtype == "float32"
            else [709.78, 709.79, -708.4, -744.0, -745.2, -746.0]
        )
        parts = [uniform(low, high, 4000), uniform(-5, 5, 2000), edges]
    elif name == "Log":
        near_one = 1 + np.arange(-60, 61) * info.eps
        tiny = [info.smallest_subnormal, info.smallest_normal, info.max, -info.max, -1e-30]
        parts = [random_floats(rng, dtype, 5000, info.max), uniform(0.5, 2, 1000), near_one, tiny]
    elif name in ("Sin", "Cos"):
        bound = BOUND[dtype]
        near = (rng.integers(-bound // 1.6, bound // 1.6, 1000) * HALF_PI_LD).astype(dtype)
        hard = near_half_pi_multiples(dtype, bound)
        beyond = [bound, np.nextafter(bound, 2 * bound), 3 * bound, 1e30, info.max]
        parts = [uniform(-bound, bound, 2000), random_floats(rng, dtype, 2000, bound), near]
        parts += [np.nextafter(near, np.inf), hard, -hard, beyond, np.negative(beyond)]
    else:  # Sqrt, Rsqrt
        parts = [random_floats(rng, dtype, 4000, info.max), uniform(0, 4, 1000), [-1e-30]]
    return np.concatenate([np.asarray(p, dtype=dtype) for p in parts + [SPECIAL]])


def reference(name: str, x: np.ndarray, dtype: str) -> np.ndarray:
    """F(x) in long double; sin and cos are 0 beyond BOUND, and Rsqrt(0) = 0 (KeOps)."""
    xl = x.astype(np.longdouble)
    with np.errstate(all="ignore"):
        if name in ("Sin", "Cos"):
            exact = getattr(np, name.lower())(xl)
            return np.where(np.abs(xl) > BOUND[dtype], xl * 0, exact)
        if name == "Rsqrt":
            return np.where(xl == 0, 0, 1 / np.sqrt(xl))
        return getattr(np, name.lower())(xl)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", ["Exp", "Log", "Sin", "Cos", "Sqrt", "Rsqrt"])
def test_accuracy_and_special_values(name, dtype):
    x = inputs(name, dtype)
    got = vector_and_tail(name, x, dtype)
    exact = reference(name, x, dtype)
    with np.errstate(over="ignore"):
        rounded = exact.astype(dtype)
    special = ~np.isfinite(rounded) | (rounded == 0) | np.isnan(x)
    np.testing.assert_array_equal(got[special], rounded[special])
    errors = ulp_error(got[~special], exact[~special], dtype)
    worst = int(np.argmax(errors))
    assert errors[worst] <= MAX_ULP[dtype], (
        f"{name}({x[~special][worst]!r}): {errors[worst]:.2f} ulp"
    )


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_sin_keeps_the_sign_of_zero(dtype):
    beyond = 2 * BOUND[dtype]
    x = np.array([0.0, -0.0, 1e-300, -1e-300, beyond, -beyond], dtype=dtype)
    got = evaluate("1 / Sin(y)", x, dtype, len(x))
    assert list(np.sign(got)) == [1, -1, 1, -1, 1, -1]
    assert np.isinf(got[[0, 1, 4, 5]]).all()


# ------------------------------------------------------------------ exp of arguments <= 0
# keir-expand's exp drops its upper clamp and scales with one multiply where
# passes/lowering/signs.py proves the argument <= 0: these formulas take that path.
NONPOSITIVE = {
    "Exp(-Abs(y))": lambda y: -np.abs(y),
    "Exp(-Square(y))": lambda y: -(y * y),  # Square rounds y^2 in dtype first
    "Exp(-Sqrt(Abs(y)))": lambda y: -np.sqrt(np.abs(y)),
}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("formula", list(NONPOSITIVE))
def test_exp_of_a_nonpositive_argument(formula, dtype):
    x = inputs("Exp", dtype)
    x = np.concatenate([x, np.array([-1e30, -np.finfo(dtype).max, 1e-30], dtype=dtype)])
    width = host().lanes(dtype)
    got = evaluate(formula, x, dtype, 64 * width - 3)
    tail = evaluate(formula, x, dtype, width - 1)
    np.testing.assert_array_equal(got.view(UINT[dtype]), tail.view(UINT[dtype]))
    with np.errstate(all="ignore"):
        arg = NONPOSITIVE[formula](x)
        exact = np.exp(arg.astype(np.longdouble))
        rounded = exact.astype(dtype)
    special = (rounded == 0) | np.isnan(x) | (rounded == 1)
    np.testing.assert_array_equal(got[special], rounded[special])
    errors = ulp_error(got[~special], exact[~special], dtype)
    assert errors.max() <= MAX_ULP[dtype], f"{formula}: {errors.max():.2f} ulp"
    # the same bits as the general path (two scalings) on the same arguments
    same = evaluate("Exp(y)", arg, dtype, 64 * width - 3)
    np.testing.assert_array_equal(got, same)


def test_sign_analysis():
    from mlir import ir

    from keir.passes.lowering.signs import nonpositive

    text = """
    func.func @f(%a: vector<8xf32>, %b: vector<8xf32>) -> (vector<8xf32>, vector<8xf32>,
        vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>) {
      %sq = arith.mulf %a, %a : vector<8xf32>
      %ab = arith.mulf %a, %b : vector<8xf32>
      %s = arith.addf %sq, %sq : vector<8xf32>
      %n1 = arith.negf %s : vector<8xf32>
      %r = math.sqrt %b : vector<8xf32>
      %n2 = arith.negf %r : vector<8xf32>
      %n3 = arith.negf %ab : vector<8xf32>
      %gt = arith.cmpf ogt, %a, %b : vector<8xf32>
      %big = arith.select %gt, %a, %b : vector<8xi1>, vector<8xf32>
      %small = arith.select %gt, %b, %a : vector<8xi1>, vector<8xf32>
      %d1 = arith.subf %small, %big : vector<8xf32>
      %d2 = arith.subf %a, %big : vector<8xf32>
      %d3 = arith.subf %big, %small : vector<8xf32>
      %mx = arith.maximumf %sq, %b : vector<8xf32>
      %n4 = arith.negf %mx : vector<8xf32>
      %mn = arith.maxnumf %sq, %b : vector<8xf32>
      %n5 = arith.negf %mn : vector<8xf32>
      return %n1, %n2, %n3, %d1, %d2, %d3, %n4, %n5 : vector<8xf32>, vector<8xf32>,
        vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>
    }
    """
    with ir.Context(), ir.Location.unknown():
        module = ir.Module.parse(text)
        func = module.body.operations[0]
        ret = func.regions[0].blocks[0].operations[-1]
        # maximumf(a >= 0, b) >= 0 or NaN; maxnumf(NaN, b) = b may be negative
        expected = [True, True, False, True, True, False, True, False]
        assert [nonpositive(v) for v in ret.operands] == expected


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_exp_of_constant_scaled_arguments_compiles_and_is_exact(dtype):
    """The sign analysis (passes/lowering/signs.py) reads arith.constant operands: a constant
    factor of either sign inside Exp, as users write Gaussians, compiles and matches numpy."""
    from keir import Genred

    rng = np.random.default_rng(5)
    x, y, b = rng.random((40, 3)), rng.random((30, 3)), rng.random((30, 1))
    d2 = ((x[:, None] - y[None]) ** 2).sum(-1)
    cases = {
        "Exp(-SqDist(x,y)*2)*b": np.exp(-2 * d2),
        "Exp(-2*SqDist(x,y))*b": np.exp(-2 * d2),
        "Exp(SqDist(x,y)*(-2))*b": np.exp(-2 * d2),
        "Exp(-SqDist(x,y)*(-0.5))*b": np.exp(0.5 * d2),
    }
    for formula, values in cases.items():
        f = Genred(formula, ["x = Vi(3)", "y = Vj(3)", "b = Vj(1)"], "Sum", axis=1, dtype=dtype)
        args = [a.astype(dtype) for a in (x, y, b)]
        tol = 1e-5 if dtype == "float32" else 1e-13
        np.testing.assert_allclose(f(*args), values @ b, rtol=tol, err_msg=formula)
