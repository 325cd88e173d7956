"""What the host CPU offers the vectorizer: the width of its vector registers."""

from __future__ import annotations

import functools


@functools.cache
def vector_bytes() -> int:
    """64 with AVX-512, 32 with AVX2, else 16 (SSE / NEON)."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((line for line in f if line.startswith("flags")), "").split()
    except OSError:
        flags = []
    if "avx512f" in flags:
        return 64
    if "avx2" in flags:
        return 32
    return 16


def lanes(elem_bits: int) -> int:
    return vector_bytes() * 8 // elem_bits
