"""keir.backends: how a keir module becomes a kernel that runs, one module per backend.

A backend implements `Backend` (base.py): its named lowering stages, `build` (module -> a
binary and what it needs to be called, cached), `load` (binary -> kernel object) and `launch`
(the kernel on arrays). The API, the bundler and the CLI reach backends only through `get`:

    cpu        OpenMP shared object for this CPU (or a baseline level), disk cached
    cuda       PTX for a CUDA device, launched through the driver API
    emulated   the CUDA kernel run on the CPU by keir-gpu-to-cpu (tests and CI)

Adding a backend is one module here with a `BACKEND` object, and a line in _MODULES.
"""

from __future__ import annotations

import importlib

from ..errors import NotSupportedError

_MODULES = {"cpu": "cpu", "cuda": "cuda", "emulated": "emulated"}


def get(name: str):
    """The backend called `name` (imported on first use: the CPU path never loads the GPU's)."""
    if name not in _MODULES:
        raise NotSupportedError(f"unknown backend {name!r}: expected one of {', '.join(_MODULES)}")
    return importlib.import_module(f".{_MODULES[name]}", __name__).BACKEND


def names() -> tuple[str, ...]:
    return tuple(_MODULES)
