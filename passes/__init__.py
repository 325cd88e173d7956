"""keir.passes: one pass per module, textual pipelines, and the registry users add passes to.

    import keir.passes

    @keir.passes.register("my-pass", "what it does, in one line")
    def my_pass(module_op, threshold: int = 4): ...

Importing this package loads no MLIR; keir's own passes register on first lookup.
"""

from .registry import Option, PassInfo, all_passes, lookup, register, run_pipeline

__all__ = ["Option", "PassInfo", "all_passes", "lookup", "register", "run_pipeline"]
