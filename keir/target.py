"""What a binary is built for: a CPU (LLVM name, instruction sets, vector width) or GPU chips.

Built once per compile (the host's once per process) and handed to the passes (keir-tile-cpu's
vector width), to the native tools (llc -mcpu) and into the cache key, so that everything a
binary depends on about its machine comes from one object. A bundle built for x86-64-v3 on an
AVX-512 host therefore gets 8-lane float32 loops, not the host's 16.

Plain data with no dependencies (the bundle loader reads it without MLIR); only `host()` asks
libLLVM for the CPU's name.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

# PTX targets keir compiles GPU kernels for (newest last); a device gets the newest it runs.
GPU_CHIPS = ("sm_80", "sm_90")

# The instruction-set extensions an x86-64 micro-architecture level guarantees (cpuinfo names).
_V2 = ("ssse3", "sse4_1", "sse4_2", "popcnt")
_V3 = _V2 + ("avx", "avx2", "fma", "f16c", "bmi1", "bmi2", "movbe")
CPU_LEVELS = {
    "x86-64": (),
    "x86-64-v2": _V2,
    "x86-64-v3": _V3,
    "x86-64-v4": _V3 + ("avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl"),
}
_ISA = re.compile(r"(sse|ssse|avx|fma|f16c|bmi|movbe|popcnt|lzcnt|abm|adx|gfni|vaes|vpclmul)")


def all_cpu_flags() -> frozenset[str]:
    """Every flag /proc/cpuinfo lists for this CPU (empty where there is none)."""
    try:
        with open("/proc/cpuinfo") as f:
            line = next((line for line in f if line.startswith("flags")), "")
    except OSError:
        return frozenset()
    return frozenset(line.partition(":")[2].split())


def cpu_flags() -> frozenset[str]:
    """The instruction-set extensions of this CPU, as /proc/cpuinfo names them."""
    return frozenset(flag for flag in all_cpu_flags() if _ISA.match(flag))


@dataclass(frozen=True)
class CpuTarget:
    name: str  # LLVM's CPU name (llc -mcpu): znver5, skylake-avx512, x86-64-v3, ...
    features: frozenset[str]  # instruction sets the binary may use

    @property
    def vector_bytes(self) -> int:
        """64 with AVX-512, 32 with AVX2, else 16 (SSE)."""
        if "avx512f" in self.features:
            return 64
        return 32 if "avx2" in self.features else 16

    def lanes(self, dtype: str) -> int:
        """Elements of `dtype` per vector register: keir-tile-cpu's L."""
        return self.vector_bytes // (8 if dtype == "float64" else 4)

    def key(self) -> str:
        """What the cache key needs: the code llc emits depends on the name and the width."""
        return f"cpu={self.name};vector_bytes={self.vector_bytes}"

    @classmethod
    def level(cls, name: str) -> CpuTarget:
        """A baseline micro-architecture level (for bundles that run on other machines)."""
        return cls(name, frozenset(CPU_LEVELS[name]))


@dataclass(frozen=True)
class GpuTarget:
    chips: tuple[str, ...] = GPU_CHIPS

    def key(self) -> str:
        return "gpu=" + ",".join(self.chips)


def vector_bytes_or_host(vector_bytes: int | None) -> int:
    """A pass's vector_bytes option, else the host's register width."""
    return vector_bytes if vector_bytes is not None else host().vector_bytes


@functools.cache
def host() -> CpuTarget:
    """This machine's CPU, detected once per process."""
    from .runtime.toolchain import host_cpu

    return CpuTarget(host_cpu(), cpu_flags())
