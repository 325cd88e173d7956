"""keir's passes by name, with declared options, and textual pipelines mixing them with MLIR's.

    run_pipeline(module, "keir-autodiff,keir-simplify,keir-tile-cpu{lanes=8},canonicalize,cse")

A keir pass is a Python function on the builtin.module operation, registered under a name with
a one-line description and its options; it runs inside MLIR's PassManager like any C++ pass, so
`--print-ir-after-all` shows its output too. Names that are not keir passes are handed to MLIR's
pipeline parser unchanged (options in braces included). A user pass takes a few lines:

    import keir.passes

    @keir.passes.register("count-exps", "print how many keir.exp ops the module holds")
    def count_exps(module_op, verbose: bool = False): ...

Its options come from the keyword parameters of the function (name, type, default), or from
`options=[Option(...)]` with help texts.
"""

from __future__ import annotations

import importlib
import inspect
import re
import typing
from collections.abc import Callable
from dataclasses import dataclass

from ..errors import CompileError, KeirError

_TYPES = (int, float, bool, str)
_BOOLS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}
_NAME = re.compile(r"[a-z][a-z0-9]*(-[a-z0-9]+)*$")


@dataclass(frozen=True)
class Option:
    """A pass option, written `pass-name{name=value}` in a pipeline."""

    name: str
    type: type  # int, float, bool or str
    default: object = None
    help: str = ""

    def parse(self, pass_name: str, text: str):
        """The value of `text` as this option's type; CompileError if it is not one."""
        if self.type is bool:
            if text.lower() not in _BOOLS:
                raise CompileError(
                    f"{pass_name}: option {self.name} expects true or false, got {text!r}"
                )
            return _BOOLS[text.lower()]
        try:
            return self.type(text)
        except ValueError:
            raise CompileError(
                f"{pass_name}: option {self.name} expects {self.type.__name__}, got {text!r}"
            ) from None

    def usage(self) -> str:
        default = "" if self.default is None else f" (default {self.default})"
        help_text = f"  {self.help}" if self.help else ""
        return f"{self.name}=<{self.type.__name__}>{default}{help_text}"


@dataclass(frozen=True)
class PassInfo:
    name: str
    description: str
    run_on: Callable  # (builtin.module Operation, **options) -> None
    options: tuple[Option, ...] = ()

    def parse_options(self, text: str) -> dict:
        """ "lanes=8 flag" (or "lanes=8,flag") -> {"lanes": 8, "flag": True}, checked."""
        known = {o.name: o for o in self.options}
        values = {}
        for item in filter(None, re.split(r"[\s,]+", text.strip())):
            key, eq, value = item.partition("=")
            option = known.get(key)
            if option is None:
                listed = ", ".join(known) or "none"
                raise CompileError(f"{self.name}: unknown option {key!r} (options: {listed})")
            if not eq and option.type is not bool:
                raise CompileError(f"{self.name}: option {key} needs a value: {key}=...")
            values[key] = option.parse(self.name, value) if eq else True
        return values


REGISTRY: dict[str, PassInfo] = {}


def register(
    name: str,
    description: str,
    run_on: Callable | None = None,
    options: list[Option] | tuple[Option, ...] | None = None,
):
    """Registers a Python pass: `run_on(module_op, **options)` rewrites the module in place.

    Without `run_on`, returns a decorator. Without `options`, they are read from the keyword
    parameters of `run_on`. Registering a name again replaces the pass (handy in notebooks)."""
    if run_on is None:

        def decorate(fn: Callable) -> Callable:
            register(name, description, fn, options)
            return fn

        return decorate
    if not _NAME.match(name):
        raise KeirError(f"pass name {name!r}: expected lowercase words joined by '-'")
    declared = tuple(options) if options is not None else options_of(run_on)
    _check_accepts(name, run_on, declared)
    info = PassInfo(name, description, run_on, declared)
    REGISTRY[name] = info
    return info


def options_of(run_on: Callable) -> tuple[Option, ...]:
    """Options from the keyword parameters after the module: `lanes: int | None = None`."""
    try:
        params = list(inspect.signature(run_on, eval_str=True).parameters.values())[1:]
    except NameError as e:  # an annotation naming something undefined
        raise KeirError(f"{run_on.__name__}: cannot read its option types: {e}") from None
    found = []
    for p in params:
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        if p.default is p.empty:
            raise KeirError(f"{run_on.__name__}: pass option {p.name!r} needs a default")
        found.append(Option(p.name, _option_type(p), p.default))
    return tuple(found)


def _option_type(p: inspect.Parameter) -> type:
    hint = p.annotation
    if type(None) in typing.get_args(hint):  # int | None, Optional[int]
        hint = next(t for t in typing.get_args(hint) if t is not type(None))
    if hint is p.empty:
        hint = type(p.default) if p.default is not None else str
    if hint not in _TYPES:
        raise KeirError(f"pass option {p.name!r}: type {hint} is not one of int, float, bool, str")
    return hint


def _check_accepts(name: str, run_on: Callable, options: tuple[Option, ...]) -> None:
    params = inspect.signature(run_on).parameters
    if any(p.kind == p.VAR_KEYWORD for p in params.values()):
        return
    for o in options:
        if o.name not in params:
            raise KeirError(f"{name}: option {o.name!r} is not a parameter of {run_on.__name__}")


# keir's own passes by name, each imported and registered on first use: a CPU compile then
# never imports the GPU passes (and the gpu dialect's Python classes: 12 ms).
BUILTIN = {
    "keir-verify": "verify",
    "keir-autodiff": "autodiff",
    "keir-simplify": "simplify",
    "keir-fuse": "fuse",
    "keir-cse": "cse",
    "keir-lower-cpu": "lower_cpu",
    "keir-tile-cpu": "tile_cpu",
    "keir-expand": "expand",
    "keir-tile-gpu": "tile_gpu",
    "keir-gpu-to-cpu": "gpu_to_cpu",
}


def lookup(name: str) -> PassInfo | None:
    """The keir pass called `name` (keir's own passes are registered on first use)."""
    if name not in REGISTRY and name in BUILTIN:
        _load_builtin(name)
    return REGISTRY.get(name)


def all_passes() -> list[PassInfo]:
    """keir's passes in pipeline order, then the ones registered by users."""
    builtin = [lookup(name) for name in BUILTIN]
    return builtin + [info for name, info in REGISTRY.items() if name not in BUILTIN]


def _load_builtin(name: str) -> None:
    module = importlib.import_module(f"{__package__}.{BUILTIN[name]}")
    if module.NAME != name:
        raise KeirError(f"registry: {BUILTIN[name]}.py defines {module.NAME}, not {name}")
    register(name, module.DESCRIPTION, module.run_on, getattr(module, "OPTIONS", None))


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
    if depth != 0:
        raise CompileError(f"unbalanced braces in pipeline {text!r}")
    if current.strip():
        items.append(current.strip())
    return items


def _split_item(item: str) -> tuple[str, str]:
    """ "name{a=1 b=x}" -> ("name", "a=1 b=x")."""
    name, brace, rest = item.partition("{")
    if brace and not rest.rstrip().endswith("}"):
        raise CompileError(f"pass {item!r}: options must end with '}}'")
    return name.strip(), rest.rstrip()[:-1] if brace else ""


def _wrap(info: PassInfo, options: dict, failures: list):
    def run(op, pass_):
        try:
            with op.context, op.location:  # builders need a default location
                info.run_on(op, **options)
        except Exception as e:  # surfaced after pm.run, with the pass name
            failures.append((info.name, e))
            pass_.signal_pass_failure()

    return run


def run_pipeline(module, pipeline: str | list[str], print_ir_after_all: bool = False) -> None:
    """Runs the passes on `module` (an ir.Module) in order; raises CompileError on failure.

    With `print_ir_after_all`, MLIR prints the module to stderr after every pass, keir's too."""
    from mlir.passmanager import PassManager

    items = split_pipeline(pipeline) if isinstance(pipeline, str) else list(pipeline)
    failures: list = []
    with module.context:
        pm = PassManager("builtin.module")
        if print_ir_after_all:
            pm.enable_ir_printing()
        for item in items:
            _add(pm, item, failures)
        try:
            pm.run(module.operation)
        except Exception as e:
            if failures:
                name, cause = failures[0]
                if isinstance(cause, KeirError):
                    raise cause from None
                raise CompileError(f"pass {name} failed: {cause}") from cause
            raise CompileError(f"pipeline {','.join(items)} failed:\n{e}") from None


def _add(pm, item: str, failures: list) -> None:
    name, option_text = _split_item(item)
    info = lookup(name)
    if info is not None:
        options = info.parse_options(option_text)
        pm.add(_wrap(info, options, failures), name=info.name, argument=info.name)
        return
    try:
        pm.add(item)
    except Exception as e:
        raise CompileError(f"unknown pass or bad options {item!r}: {e}") from None
