"""ComplexLazyTensor: the RKeOps vignette's interleaved encoding and complex arithmetic."""

from __future__ import annotations

import numpy as np
import pytest

from keir import ArgumentError, NotSupportedError
from keir.lazytensor import ComplexLazyTensor, LazyTensor, Vi, Vj

M, N = 9, 7
RNG = np.random.default_rng(3)
z = RNG.standard_normal((M, 2)) + 1j * RNG.standard_normal((M, 2))
w = RNG.standard_normal((N, 2)) + 1j * RNG.standard_normal((N, 2))
r = RNG.uniform(0.5, 1.5, (N, 1))
t = RNG.uniform(-1, 1, (M, 2))
Z, W, R, T = z[:, None], w[None], r[None], t[:, None]
z_i, w_j, r_j, t_i = Vi(z), Vj(w), Vj(r), Vi(t)


def test_rkeops_vignette_encoding():
    """The vignette's examples: columns re, im side by side; real input gets im = 0."""
    zm = np.array([[1 + 0j, 3 + 0j], [2 - 1j, 2 + 1j]])  # matrix(2 + 1i^(-6:-1), 2, 2)
    z_lt = LazyTensor(zm, index="i", is_complex=True)
    assert isinstance(z_lt, ComplexLazyTensor) and isinstance(z_lt, LazyTensor)
    np.testing.assert_array_equal(z_lt.data[0], [[1, 0, 3, 0], [2, -1, 2, 1]])
    assert z_lt.args == ["a0 = Vi(4)"] and z_lt.dimres == 4 and z_lt.shape == (2, 1, 2)
    v_z = LazyTensor(np.array([4 + 5j, 2 + 3j, 7 + 1j]), is_complex=True)
    np.testing.assert_array_equal(v_z.data[0], [4, 5, 2, 3, 7, 1])
    assert v_z.args == ["a0 = Pm(6)"]
    v = LazyTensor(np.array([5.0, 4, 7, 9]), is_complex=True)
    np.testing.assert_array_equal(v.data[0], [5, 0, 4, 0, 7, 0, 9, 0])
    c = LazyTensor(2 + 3j)
    assert isinstance(c, ComplexLazyTensor) and c.data[0] == [2.0, 3.0]
    assert LazyTensor([1 + 1j, 2.0]).data[0] == [1.0, 1.0, 2.0, 0.0]
    assert Vi(z.astype(np.complex64)).dtype == "complex64" and z_i.dtype == "complex128"


CASES = [
    ("mult", z_i * w_j, Z * W),
    ("add", z_i + w_j, Z + W),
    ("sub", z_i - w_j, Z - W),
    ("div", z_i / w_j, Z / W),
    ("neg", -z_i + w_j, -Z + W),
    ("conj", (z_i * w_j).conj(), np.conj(Z * W)),
    ("exp", (z_i - w_j).exp(), np.exp(Z - W)),
    ("real scale", r_j * z_i, R * Z),
    ("scale real", z_i * r_j, Z * R),
    ("real vector", z_i * t_i + w_j, Z * T + W),
    ("real plus", t_i + w_j, T + W),
    ("real minus", t_i - w_j, T - W),
    ("real over", t_i / w_j, T / W),
    ("complex scalar", (1 - 2j) * z_i + w_j, (1 - 2j) * Z + W),
    ("float", z_i + 1.5 - w_j * 2, Z + 1.5 - W * 2),
    ("inverse", 1 / (z_i + w_j), 1 / (Z + W)),
    ("inner sum", (z_i * w_j).sum(-1), (Z * W).sum(-1, keepdims=True)),
    ("real2complex", t_i.real2complex() * w_j, T * W),
    ("imag2complex", t_i.imag2complex() + w_j, 1j * T + W),
    ("exp1j", t_i.exp1j() * w_j, np.exp(1j * T) * W),
]


@pytest.mark.parametrize("axis", [0, 1])
def test_complex_sums_match_numpy(axis):
    """All cases concatenated (Concat of complex vectors is complex): one kernel per axis."""
    got = LazyTensor.concatenate(tuple(lazy for _, lazy, _ in CASES)).sum(axis=axis)
    assert got.dtype == np.complex128
    start = 0
    for name, lazy, ref in CASES:
        ref = np.broadcast_to(ref, (M, N, ref.shape[-1])).sum(axis)
        assert lazy.ndim == 2 * ref.shape[-1]
        part = got[:, start : start + ref.shape[-1]]
        np.testing.assert_allclose(part, ref, rtol=1e-12, atol=1e-12, err_msg=name)
        start += ref.shape[-1]
    assert start == got.shape[1]


@pytest.mark.parametrize(
    "name, lazy, ref",
    [
        ("real", (z_i * w_j).real, (Z * W).real),
        ("imag", (z_i * w_j).imag, (Z * W).imag),
        ("abs", abs(z_i - w_j), np.abs(Z - W)),
        ("abs()", (z_i - w_j).abs(), np.abs(Z - W)),
        ("angle", (z_i * w_j).angle(), np.angle(Z * W)),
        ("sqnorm2", (z_i - w_j).sqnorm2(), (np.abs(Z - W) ** 2).sum(-1, keepdims=True)),
    ],
)
def test_complex_to_real(name, lazy, ref):
    assert not lazy.is_complex and type(lazy) is LazyTensor
    got = lazy.sum(axis=1)
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, np.broadcast_to(ref, (M, N, ref.shape[-1])).sum(1), rtol=1e-12)


def test_softmax_weighted_average_of_complex_values():
    d = Vi(t).sqdist(Vj(RNG.uniform(-1, 1, (N, 2))))
    got = (-d).sumsoftmaxweight(w_j, axis=1)
    k = np.exp(-((t[:, None] - d._vars[1].data[None]) ** 2).sum(-1))
    np.testing.assert_allclose(got, (k @ w) / k.sum(1, keepdims=True), rtol=1e-12)


@pytest.mark.parametrize(
    "make, error",
    [
        (lambda: z_i.log(), NotSupportedError),
        (lambda: z_i**2, NotSupportedError),
        (lambda: (z_i * w_j).min(axis=1), NotSupportedError),
        (lambda: z_i | w_j, NotSupportedError),
        (lambda: (z_i * w_j).logsumexp(axis=1), NotSupportedError),
        (lambda: z_i.real2complex(), ArgumentError),
        (lambda: z_i.keops_tensordot(w_j, 4, 4, (0,), (0,)), NotSupportedError),
    ],
)
def test_operations_without_complex_meaning_are_refused(make, error):
    """pykeops would apply these to the real and imaginary parts separately."""
    with pytest.raises(error):
        make()
