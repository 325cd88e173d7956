"""Finds the CUDA files keir's GPU path uses: libdevice (to compile) and ptxas (to check PTX).

MLIR links libdevice (`nvvm/libdevice/libdevice.10.bc`, the CUDA math library as LLVM bitcode)
into every kernel that calls exp, log, sin, ...; gpu-module-to-binary finds it under the
toolkit root it is given. The root is, in order: $KEIR_CUDA_PATH, $CUDA_HOME, $CUDA_PATH, the
`nvidia-cuda-nvcc` wheel (keir's `gpu` extra: site-packages/nvidia/<name>/), the toolkit of
a `ptxas` on PATH, /usr/local/cuda. No GPU and no driver are needed for any of this.
"""

from __future__ import annotations

import functools
import os
import shutil
import sysconfig
from pathlib import Path

from ..errors import CompileError

LIBDEVICE = Path("nvvm") / "libdevice" / "libdevice.10.bc"


def _candidates():
    for var in ("KEIR_CUDA_PATH", "CUDA_HOME", "CUDA_PATH"):
        if os.environ.get(var):
            yield Path(os.environ[var])
    for root in {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}:
        yield from sorted((Path(root) / "nvidia").glob("*"))
    ptxas = shutil.which("ptxas")
    if ptxas:
        yield Path(ptxas).resolve().parent.parent
        yield from _wrapped_toolkit(Path(ptxas))
    yield Path("/usr/local/cuda")


def _wrapped_toolkit(script: Path):
    """A `ptxas` that is a shell script (`exec /path/to/cuda/bin/ptxas "$@"`): its target."""
    try:
        if script.stat().st_size > 4096:
            return
        for word in script.read_text(errors="replace").split():
            if word.endswith("/bin/ptxas"):
                yield Path(word).parent.parent
    except OSError:
        return


@functools.cache
def toolkit() -> Path | None:
    """The first toolkit root that holds libdevice, or None."""
    for root in _candidates():
        if (root / LIBDEVICE).is_file():
            return root
    return None


def require_toolkit() -> Path:
    root = toolkit()
    if root is None:
        raise CompileError(
            "libdevice (the CUDA math library) not found: install keir's gpu extra "
            "(pip install 'keir[gpu]'), or set KEIR_CUDA_PATH to a CUDA toolkit"
        )
    return root


@functools.cache
def ptxas() -> str | None:
    """ptxas from the toolkit, else from PATH, or None (PTX is then not checked)."""
    root = toolkit()
    if root is not None and (root / "bin" / "ptxas").is_file():
        return str(root / "bin" / "ptxas")
    return shutil.which("ptxas")
