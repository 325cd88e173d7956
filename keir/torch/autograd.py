"""Autograd through keir reductions: a torch.autograd.Function whose backward is keir.grad.

`Reduction` wraps one keir.Genred on 2-D tensors. Its backward for argument k is the Sum
reduction that keir.grad builds (Grad of the formula, reduced over the other index, summed over
both for a parameter), run through this same Function: so the gradient is itself
differentiable, and create_graph=True gives second (and higher) derivatives. The values of the
forward pass that keir.grad needs ("saved forward": the output, a LogSumExp, the selected
indices of Min/Max/KMin, row numbers) are computed here as tensors, the output and the
LogSumExp differentiably, so that the chain rule through them is torch's.
"""

from __future__ import annotations

from dataclasses import replace

import torch
from torch.autograd import forward_ad

from ..api import Genred as NumpyGenred
from ..dialect.reductions import REDUCTIONS
from ..errors import NotSupportedError
from ..frontend import spec as trees
from ..frontend.reduction import ReductionSpec
from ..frontend.spec import KernelSpec
from ..gradients import grad
from . import devices
from .devices import on_cuda
from .tensors import array, tensor

# what keir.grad differentiates: the reductions with a gradient rule, and their selectors
DIFFERENTIABLE = tuple(name for name, red in REDUCTIONS.items() if red.grad is not None)
_SELECTED = {name: red.selector for name, red in REDUCTIONS.items() if red.selector}
_PAIRS = {"Min_ArgMin": "Min", "Max_ArgMax": "Max", "KMin_ArgKMin": "KMin"}
_INDICES = ("ArgMin", "ArgMax", "ArgKMin")


class Reduction:
    """A keir.Genred on 2-D tensors (Pm: 1-D), differentiable for the reductions keir.grad
    differentiates; `opts` is (backend, device_id, ranges), passed on to the backward's
    kernels (a gradient's reduction reads the half of `ranges` its axis names)."""

    def __init__(self, genred: NumpyGenred):
        self.genred = genred
        self.aliases = sorted(genred.spec.aliases, key=lambda a: a.pos)  # call order
        self.names = [a.name for a in self.aliases]
        self.cats = [a.cat for a in self.aliases]
        self.differentiable = genred.kind in DIFFERENTIABLE
        self._gradients, self._aux = {}, {}

    def run(self, tensors, opts):
        """The kernel on the tensors' memory (CPU: numpy views; CUDA: device pointers,
        devices.py); tensors (or a tuple of them) out, on the tensors' device."""
        backend, device_id, ranges = opts
        if on_cuda(tensors):
            if ranges is not None:
                raise NotSupportedError(
                    "block-sparse ranges run on the CPU only: keir's GPU kernels have no "
                    "ranged variant yet (move the tensors to the CPU)"
                )
            return devices.run(self.genred, self.names, tensors, backend, device_id)
        arrays = [array(t) for t in tensors]
        return tensor(self.genred(*arrays, backend=backend, device_id=device_id, ranges=ranges))

    def with_row_parameters(self, positions) -> Reduction:
        """This reduction with the parameters at `positions` read as i-variables (batches)."""
        from ..lazy.reduce import with_row_parameters

        key = ("rows", tuple(positions))
        if key not in self._aux:
            self._aux[key] = Reduction(with_row_parameters(self.genred, positions))
        return self._aux[key]

    def __call__(self, tensors, opts):
        if _plain(tensors):  # no graph to record: skip autograd
            return self.run(tensors, opts)
        if self.differentiable:
            return _apply(self, opts, *tensors)
        return self._without_gradient(tensors, opts)

    def _without_gradient(self, tensors, opts):
        """Index reductions: int64 indices, no gradient (as torch.argmin). (values, indices)
        pairs: the values from the differentiable Min/Max/KMin. Anything else would drop a
        gradient silently: refused."""
        kind = self.genred.kind
        out = self.run(tensors, opts)
        if kind in _INDICES:
            return out
        if kind in _PAIRS:
            values = self._auxiliary(_PAIRS[kind])(tensors, opts)
            return values.reshape(out[0].shape), out[1]
        raise NotSupportedError(
            f"the gradient of a {kind} reduction is not supported: call it on tensors that do "
            "not require grad, or under torch.no_grad()"
        )

    # ------------------------------------------------------------ reverse mode
    def vjp(self, k: int, tensors, out, e, opts):
        """d/d(argument k) of sum(e * output), shaped like argument k."""
        red, roles, cat = self._gradient(k)
        saved = [self._saved(role, tensors, out, opts) for role in roles]
        if e.dim() != 2:  # (a reshape costs 2-3 us, much of a small call: only when needed)
            e = e.reshape(e.shape[0], -1)
        g = red([*tensors, e, *saved], opts)
        if cat == 2:  # a parameter: keir.grad reduced over j, sum over i too
            g = g.sum(0)
        shape = tensors[k].shape
        return g if g.shape == shape else g.reshape(shape)

    def _gradient(self, k: int):
        if k not in self._gradients:
            g = grad(self.genred, k)
            self._gradients[k] = (Reduction(g.genred), g.saved_roles, g.var.cat)
        return self._gradients[k]

    def _saved(self, role: str, tensors, out, opts):
        f = self.genred
        if role == "selected":
            idx = self._auxiliary(_SELECTED[f.kind])(tensors, opts)
            return idx.to(tensors[0].dtype).reshape(idx.shape[0], -1)
        if role == "out":
            return out
        if role == "lse":
            return self._auxiliary("LogSumExp")(tensors, opts)
        reduced = 1 if f.axis == 1 else 0  # role == "index": row numbers of the reduced index
        rows = next((t.shape[0] for t, c in zip(tensors, self.cats) if c == reduced), 1)
        return torch.arange(rows, dtype=tensors[0].dtype, device=tensors[0].device)[:, None]

    def _auxiliary(self, kind: str) -> Reduction:
        """Another reduction of the same formula (the selected indices, the LogSumExp)."""
        if kind not in self._aux:
            f = self.genred
            red = ReductionSpec(kind, f.axis, f.k if kind in ("ArgKMin", "KMin") else 0)
            self._aux[kind] = Reduction(NumpyGenred.from_spec(replace(f.spec, reduction=red)))
        return self._aux[kind]

    # ------------------------------------------------------------ forward mode
    def jvp(self, tensors, tangents, out, opts):
        """The directional derivative of the output along the tangents (None: zero)."""
        total = None
        for k, u in enumerate(tangents):
            if u is None:
                continue
            saved = [out]
            if self.genred.kind == "SumSoftMaxWeight":
                saved.append(self._auxiliary("LogSumExp")(tensors, opts))
            d = self._tangent(k)([*tensors, u, *saved], opts)
            total = d if total is None else total + d
        return total

    def _tangent(self, k: int) -> Reduction:
        key = ("tangent", k)
        if key not in self._aux:
            self._aux[key] = Reduction(_tangent_genred(self.genred, self.aliases[k]))
        return self._aux[key]


def _plain(tensors) -> bool:
    """No autograd, forward-mode or torch.func transform can see this call."""
    if torch.is_grad_enabled():
        for t in tensors:
            if t.requires_grad:
                return False
    return forward_ad._current_level < 0 and not torch._C._are_functorch_transforms_active()


def _tangent_genred(f, var) -> NumpyGenred:
    """The jvp as a Sum reduction (keir.Genred) along u, the tangent of v: Sum_j Diff(F, v, u);
    LogSumExp (out = log Sum_j exp(F) g, g = 1 without a weight):
    Sum_j exp(F - out) (g Diff(F, v, u) + Diff(g, v, u)); SumSoftMaxWeight (out = Sum_j p g,
    p = exp(F - lse)): Sum_j p (Diff(g, v, u) + (g - out) Diff(F, v, u))."""
    if f.kind not in ("Sum", "LogSumExp", "SumSoftMaxWeight"):
        raise NotSupportedError(
            f"forward-mode derivatives (jvp) of a {f.kind} reduction are not supported: "
            "keir.torch has them for Sum, LogSumExp and SumSoftMaxWeight"
        )
    spec, F, g = f.spec, f.spec.formula, f.spec.reduction.weight
    out_cat = 0 if f.axis == 1 else 1
    extra = [("tangent", var.cat, var.dim), ("out", out_cat, f.out_dim_hint())]
    if f.kind == "SumSoftMaxWeight":
        extra.append(("lse", out_cat, 1))
    spec, (u, out, *lse) = spec.with_arguments(*extra)
    v, call, binary = trees.var(var.name), trees.call, trees.binary
    dF = call("Diff", F, v, u)
    if f.kind == "Sum":
        formula = dF
    elif g is None:
        formula = binary("mul", call("Exp", binary("sub", F, out)), dF)
    elif f.kind == "LogSumExp":
        inner = binary("add", binary("mul", g, dF), call("Diff", g, v, u))
        formula = binary("mul", call("Exp", binary("sub", F, out)), inner)
    else:
        inner = binary("add", call("Diff", g, v, u), binary("mul", binary("sub", g, out), dF))
        formula = binary("mul", call("Exp", binary("sub", F, lse[0])), inner)
    red = ReductionSpec("Sum", f.axis)  # with f's options, as the gradients (keir.gradients)
    tangent = KernelSpec(formula, spec.aliases, red, spec.text, spec.weight_text, spec.options)
    return NumpyGenred.from_spec(tangent)


class _Apply(torch.autograd.Function):
    """out = reduction(*tensors); backward and jvp are keir reductions (see Reduction)."""

    @staticmethod
    def forward(red, opts, *tensors):
        return red.run(tensors, opts)

    @staticmethod
    def setup_context(ctx, inputs, output):
        red, opts, *tensors = inputs
        ctx.red, ctx.opts = red, opts
        ctx.save_for_backward(*tensors, output)
        ctx.save_for_forward(*tensors, output)

    @staticmethod
    def backward(ctx, e):
        *tensors, out = ctx.saved_tensors
        needs = ctx.needs_input_grad[2:]
        grads = [ctx.red.vjp(k, tensors, out, e, ctx.opts) if n else None
                 for k, n in enumerate(needs)]  # fmt: skip
        return None, None, *grads

    @staticmethod
    def jvp(ctx, _red, _opts, *tangents):
        *tensors, out = ctx.saved_tensors
        return ctx.red.jvp(tensors, tangents, out.detach(), ctx.opts)

    @staticmethod
    def vmap(info, in_dims, red, opts, *tensors):
        from .batch import run_batched

        moved = [t.unsqueeze(0) if d is None else t.movedim(d, 0)
                 for t, d in zip(tensors, in_dims[2:])]  # fmt: skip
        return run_batched(red, moved, opts), 0


def _apply(*args):
    """_Apply.apply, without the inspect.signature(forward) that torch's Function.apply runs
    on every call (10-20 us) to bind default arguments, which _Apply.forward has none of;
    under torch.func transforms, the full Function.apply."""
    if torch._C._are_functorch_transforms_active():
        return _Apply.apply(*args)
    return _BASE_APPLY(*args)


_BASE_APPLY = super(torch.autograd.Function, _Apply).apply  # what Function.apply ends with
