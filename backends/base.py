"""The interface every backend implements, and what the drivers share.

    stages                    names of the lowering stages, in order ("keir" first)
    lower(module, stop, ...)  lower in place up to a stage (keir compile --emit, tests)
    build(module, target)     lower to the end and produce a Built (binary + metadata), cached
    load(built, names, ...)   a kernel object with prepare/run_prepared (the launcher's API)
    launch(kernel, args)      results in pykeops' form (runtime.results.call)

`compile` chains build and load, which is what the API calls.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..dialect.kernel import kernel_funcs
from ..errors import KeirError


@dataclass
class Built:
    """A binary and what loading it needs: `path` (a file) and metadata; `extra` holds what
    a backend keeps beside them (the CUDA backend's PTX texts)."""

    meta: dict
    path: str | None = None
    cache_hit: bool = False
    seconds: float = 0.0
    extra: dict = field(default_factory=dict)


class Backend:
    name = ""
    stages: tuple[str, ...] = ()

    def lower(self, module, stop: str, start: str = "keir", target=None):
        raise NotImplementedError

    def build(self, module, target=None) -> Built:
        raise NotImplementedError

    def load(self, built: Built, names=None, **options):
        raise NotImplementedError

    def launch(self, kernel, args):
        from ..runtime import results

        return results.call(kernel, args)

    def compile(self, module, names=None, target=None, **options):
        """build then load: the kernel of `module` (consumed: lowered in place)."""
        return self.load(self.build(module, target), names, **options)


def ir_text(module) -> str:
    """The canonical text of a keir module (no locations): the cache key's source part."""
    return module.operation.get_asm(enable_debug_info=False, print_generic_op_form=True)


def single_kernel(module) -> None:
    """After keir-fuse a binary holds one kernel: kernels over different axes cannot share it."""
    if len(kernel_funcs(module)) != 1:
        raise KeirError("kernels reducing over different axes cannot share one binary")


def require_kernels(module) -> list:
    funcs = kernel_funcs(module)
    if not funcs:
        raise KeirError("the module holds no keir kernel")
    return funcs
