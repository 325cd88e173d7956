"""Shared fixtures: an isolated kernel cache per test session and small random data."""

from __future__ import annotations

import os
import tempfile

import numpy as np
import pytest

# Set before keir compiles anything, so tests never read or pollute a user's cache.
os.environ.setdefault("KEIR_CACHE_DIR", tempfile.mkdtemp(prefix="keir-test-cache-"))

DTYPES = ("float32", "float64")
AXES = (0, 1)

# Tolerances of compiled results against float64 references, per dtype.
RTOL = {"float32": 2e-5, "float64": 1e-12}


def assert_close(actual, expected, dtype, scale_rtol: float = 1.0):
    expected = np.asarray(expected, dtype=np.float64)
    tol = RTOL[dtype] * scale_rtol
    atol = tol * max(1.0, float(np.nanmax(np.abs(expected))) if expected.size else 1.0)
    np.testing.assert_allclose(np.asarray(actual, dtype=np.float64), expected, rtol=tol, atol=atol)


@pytest.fixture
def rng():
    return np.random.default_rng(1234)
