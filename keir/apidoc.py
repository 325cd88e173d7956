"""docs/api.md, generated from the signatures and docstrings of keir's public names, so the page
cannot drift from the code: `python -m keir.apidoc > docs/api.md` writes it and
tests/test_docs.py checks that it is current and that it covers every name in keir.__all__."""

from __future__ import annotations

import inspect

import keir

SECTIONS = (
    ("Reductions", ("Genred", "keops_kernel", "KeopsKernel")),
    (
        "pykeops helpers",
        ("KernelSolve", "generic_sum", "generic_logsumexp", "generic_argmin", "generic_argkmin"),
    ),
    ("LazyTensors", ("LazyTensor", "ComplexLazyTensor", "Vi", "Vj", "Pm")),
    ("Gradients and fusion", ("grad", "fuse")),
    ("Threads", ("set_threads", "get_threads")),
    ("Prebuilt kernels", ("load_bundle",)),
)

HEADER = """# API reference

Generated from the docstrings by `python -m keir.apidoc > docs/api.md` (tests/test_docs.py
checks it is current). Every name is imported from `keir`; `import keir` loads none of them
until first use. Guides: [README](../README.md), [lazytensor.md](lazytensor.md),
[autodiff.md](autodiff.md), [bundles.md](bundles.md),
[pykeops-differences.md](pykeops-differences.md).
"""


def _doc(obj) -> str:
    return inspect.cleandoc(obj.__doc__ or "").strip()


def _entry(name: str) -> list[str]:
    obj = getattr(keir, name)
    kind = "class" if inspect.isclass(obj) else "function"
    lines = [f"### `{name}`", "", "```python", f"{kind} {name}{_plain(inspect.signature(obj))}"]
    call = vars(obj).get("__call__") if inspect.isclass(obj) else None
    if call is not None:
        lines.append(f"{name}(...){_without_self(call)}  # calling an instance")
    lines += ["```", ""]
    if _doc(obj):
        lines += [_doc(obj), ""]
    if call is not None and _doc(call):
        lines += [f"Calling: {_doc(call)}", ""]
    return lines


def _without_self(method) -> str:
    sig = inspect.signature(method)
    return _plain(sig.replace(parameters=list(sig.parameters.values())[1:]))


def _plain(sig: inspect.Signature) -> str:
    """The signature without annotations (pykeops' documentation style)."""
    empty = inspect.Parameter.empty
    params = [p.replace(annotation=empty) for p in sig.parameters.values()]
    return str(sig.replace(parameters=params, return_annotation=empty))


def _errors() -> list[str]:
    lines = ["## Errors", "", "| class | base | raised when |", "|---|---|---|"]
    for name in sorted(n for n in keir.__all__ if n.endswith("Error")):
        cls = getattr(keir, name)
        base = cls.__bases__[0].__name__
        lines.append(f"| `{name}` | `{base}` | {_doc(cls).splitlines()[0] if _doc(cls) else ''} |")
    lines += [
        "",
        "Also `KeirError`s, raised by the runtime: `keir.runtime.cuda.DeviceError` (no usable "
        'GPU for `backend="GPU"`, or the driver refused a call), '
        "`keir.runtime.cache.UnsafeCacheError` (the kernel cache directory belongs to someone "
        "else) and `CacheError` (neither it nor a private temporary cache can be used; an "
        "unusable cache directory alone is a `CacheWarning` and a temporary cache).",
    ]
    return [*lines, ""]


def documented() -> set[str]:
    return {name for _, names in SECTIONS for name in names}


def markdown() -> str:
    lines = [HEADER]
    for title, names in SECTIONS:
        lines += [f"## {title}", ""]
        for name in names:
            lines += _entry(name)
    lines += _errors()
    return "\n".join(lines).rstrip("\n") + "\n"


if __name__ == "__main__":
    print(markdown(), end="")
