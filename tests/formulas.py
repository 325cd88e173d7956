"""The standard test variables that every op's `example` formula may use, and their data.

Data lie in [0.5, 1.5) (so x - y is in (-1, 1) and x + y > 0); A is a symmetric 3 x 3 matrix.
"""

from __future__ import annotations

import numpy as np

ALIASES = [
    "x = Vi(3)",
    "y = Vj(3)",
    "a = Vi(1)",
    "b = Vj(1)",
    "s = Pm(1)",
    "A = Pm(9)",
    "z = Vi(4)",
    "w = Vj(4)",
    "u = Vi(6)",
    "v = Vj(6)",
]
M, N = 23, 31


def data(dtype, seed: int = 0, sizes: tuple[int, int] = (M, N)) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    m, n = sizes
    out = []
    for alias in ALIASES:
        kind = alias.split("=")[1].strip()[:2]
        dim = int(alias.split("(")[1].rstrip(")"))
        if alias.startswith("A"):
            h = rng.uniform(0.5, 1.5, (3, 3))
            out.append(((h + h.T) / 2).ravel().astype(dtype))
        elif kind == "Pm":
            out.append(np.full(dim, 0.7, dtype=dtype))
        else:
            rows = m if kind == "Vi" else n
            out.append(rng.uniform(0.5, 1.5, (rows, dim)).astype(dtype))
    return out
