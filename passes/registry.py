"""keir's passes by name, and textual pipelines mixing them with upstream MLIR passes.

    run_pipeline(module, "keir-tile-cpu{lanes=8},canonicalize,cse")

A keir pass is a Python function on the builtin.module operation, registered under a name with
a one-line description; it runs inside MLIR's PassManager like any C++ pass. Names that are not
keir passes are handed to MLIR's pipeline parser unchanged (options in braces included).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..errors import CompileError, KeirError


@dataclass(frozen=True)
class PassInfo:
    name: str
    description: str
    run_on: Callable  # (builtin.module Operation) -> None


REGISTRY: dict[str, PassInfo] = {}


def register(name: str, description: str, run_on: Callable) -> PassInfo:
    """Adds a Python pass; `run_on(module_op)` rewrites the module in place."""
    info = PassInfo(name, description, run_on)
    REGISTRY[name] = info
    return info


def split_pipeline(text: str) -> list[str]:
    """Splits on top-level commas: "a,b{x=1,y=2},c" -> ["a", "b{x=1,y=2}", "c"]."""
    items, depth, current = [], 0, ""
    for ch in text:
        depth += {"{": 1, "(": 1, "}": -1, ")": -1}.get(ch, 0)
        if ch == "," and depth == 0:
            items.append(current.strip())
            current = ""
        else:
            current += ch
    if current.strip():
        items.append(current.strip())
    return items


def _options(item: str) -> tuple[str, dict]:
    """ "name{a=1,b=x}" -> ("name", {"a": 1, "b": "x"}); integer values become ints."""
    name, _, rest = item.partition("{")
    options = {}
    for pair in filter(None, rest.rstrip("}").split(",")):
        key, _, value = pair.partition("=")
        value = value.strip()
        options[key.strip()] = int(value) if value.lstrip("-").isdigit() else value
    return name.strip(), options


def _wrap(info: PassInfo, options: dict, failures: list):
    def run(op, pass_):
        try:
            with op.context, op.location:  # builders need a default location
                info.run_on(op, **options)
        except Exception as e:  # surfaced after pm.run, with the pass name
            failures.append((info.name, e))
            pass_.signal_pass_failure()

    return run


def run_pipeline(module, pipeline: str | list[str]) -> None:
    """Runs the passes on `module` (an ir.Module) in order; raises CompileError on failure."""
    from mlir.passmanager import PassManager

    items = split_pipeline(pipeline) if isinstance(pipeline, str) else list(pipeline)
    failures: list = []
    with module.context:
        pm = PassManager("builtin.module")
        for item in items:
            name, options = _options(item)
            info = REGISTRY.get(name)
            try:
                if info is None:
                    pm.add(item)
                else:
                    pm.add(_wrap(info, options, failures), name=info.name, argument=info.name)
            except Exception as e:
                raise CompileError(f"unknown pass or bad options {item!r}: {e}") from None
        try:
            pm.run(module.operation)
        except Exception as e:
            if failures:
                name, cause = failures[0]
                if isinstance(cause, KeirError):
                    raise cause from None
                raise CompileError(f"pass {name} failed: {cause}") from cause
            raise CompileError(f"pipeline {','.join(items)} failed:\n{e}") from None
