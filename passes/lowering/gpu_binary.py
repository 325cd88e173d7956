"""Reads what the runtime needs out of a lowered GPU module: the PTX and the kernel's parameters.

After gpu-kernel-outlining the kernel's parameters are the values the launch body captured, in
the order of their first use; the host function's gpu.launch_func lists them, so the runtime
learns which host argument feeds each parameter from there, not from a guess.
"""

from __future__ import annotations

import json

from ...errors import CompileError


def _ops(module, name: str) -> list:
    from mlir import ir

    found = []

    def visit(op):
        if op.name == name:
            found.append(op.operation)
        return ir.WalkResult.ADVANCE

    module.operation.walk(visit)
    return found


def ptx(module) -> dict[str, str]:
    """{chip: PTX text} of the module's gpu.binary (after gpu-module-to-binary{format=isa})."""
    from mlir import ir
    from mlir.dialects import gpu

    texts = {}
    for binary in _ops(module, "gpu.binary"):
        for attr in ir.ArrayAttr(binary.attributes["objects"]):
            obj = gpu.ObjectAttr(attr)
            texts[_chip(obj.target)] = obj.object.decode()
    if not texts:
        raise CompileError("the module holds no gpu.binary: lower it to the ptx stage first")
    return texts


def _chip(target) -> str:
    text = str(target)  # #nvvm.target<O = 3, chip = "sm_90">
    return text.split('chip = "')[1].split('"')[0]


def launch(module) -> dict:
    """The host function's launch: kernel name, parameters (host argument indices) and the
    keir.signature / keir.gpu attributes keir-tile-gpu recorded."""
    from mlir import ir

    (call,) = _ops(module, "gpu.launch_func")
    host = call.parent
    while host.name != "func.func":
        host = host.parent
    args = list(host.regions[0].blocks[0].arguments)
    params = []
    for value in call.opview.kernelOperands:
        if value not in args:
            raise CompileError("a kernel parameter is not an argument of the host function")
        params.append(args.index(value))
    return {
        "kernel": ir.SymbolRefAttr(call.attributes["kernel"]).value[-1],
        "params": tuple(params),
        "signature": json.loads(ir.StringAttr(host.attributes["keir.signature"]).value),
        **json.loads(ir.StringAttr(host.attributes["keir.gpu"]).value),
    }
