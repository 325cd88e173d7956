"""KernelSolve and LazyTensor.solve on torch tensors: (alpha Id + K) x = b, differentiable.

The forward pass is keir.lazy's conjugate gradient on keir kernels. The backward pass is the
adjoint of a linear solve with a symmetric K: the gradient for b is the solve of the incoming
gradient G (a = (alpha Id + K)^-1 G, itself through this Function, so differentiable again),
and for every other argument it is -d/dv <a, K(v) x>, the keir.grad reduction of the kernel
with x in place of b and -a as the incoming gradient (pykeops' KernelSolve does the same).
"""

from __future__ import annotations

import torch

from ..errors import ArgumentError, NotSupportedError
from ..lazy.reduce import conjugate_gradient, solve_options
from ..numpy.solve import KernelSolve as NumpyKernelSolve
from .batch import batch_shape
from .genred import Genred
from .tensors import check


class _Solve(torch.autograd.Function):
    @staticmethod
    def forward(red, opts, pos, alpha, eps, maxiter, *tensors):
        def linop(v):
            args = [*tensors[:pos], v, *tensors[pos + 1 :]]
            return red.run(args, opts) + alpha * v

        return conjugate_gradient(linop, tensors[pos].detach(), eps, maxiter)

    @staticmethod
    def setup_context(ctx, inputs, output):
        red, opts, pos, alpha, eps, maxiter, *tensors = inputs
        ctx.solve = (red, opts, pos, alpha, eps, maxiter)
        ctx.save_for_backward(*tensors, output)

    @staticmethod
    def backward(ctx, G):
        red, opts, pos = ctx.solve[:3]
        *tensors, x = ctx.saved_tensors
        a = _Solve.apply(*ctx.solve, *tensors[:pos], G, *tensors[pos + 1 :])
        at_x = [*tensors[:pos], x, *tensors[pos + 1 :]]
        grads = []
        for k, need in enumerate(ctx.needs_input_grad[6:]):
            if not need:
                grads.append(None)
            else:
                grads.append(a if k == pos else red.vjp(k, at_x, None, -a, opts))
        return None, None, None, None, None, None, *grads


def solve(red, tensors, pos: int, alpha, eps, opts, maxiter=None):
    if batch_shape(red.names, tensors, red.cats):
        raise NotSupportedError("KernelSolve with batch dimensions is not supported")
    return _Solve.apply(red, opts, pos, alpha, eps, maxiter, *tensors)


class KernelSolve(NumpyKernelSolve):
    """pykeops.torch.KernelSolve: x = (alpha Id + K)^-1 b for the formula K, linear in the
    argument `varinvalias` (b's alias), by conjugate gradients; differentiable."""

    _GENRED = Genred

    def __call__(self, *args, backend="auto", device_id=-1, alpha=1e-10, eps=1e-6, ranges=None):
        g = self._genred
        if len(args) != g.nargs:
            raise ArgumentError(f"expected {g.nargs} tensors, got {len(args)}")
        tensors, _ = check(g._reduction.names, args)
        opts = (backend, device_id, ranges)
        return solve(g._reduction, tensors, self.varinvpos, alpha, eps, opts)


def lazy_solve(lt, other, var, call, kwargs):
    """LazyTensor.solve: (alpha Id + K) x = other, K x = sum_j K_ij x_j."""
    from .lazytensor import LazyTensor, _data, _reduction

    alpha, eps, maxiter = solve_options(lt, var, call, kwargs)
    ranges = kwargs.pop("ranges", lt.ranges)
    opts = (kwargs.pop("backend", "auto"), kwargs.pop("device_id", -1), ranges)
    if not isinstance(other, torch.Tensor):
        raise ArgumentError("solve: the right-hand side must be a torch tensor (i-indexed)")
    b = other[:, None] if other.dim() == 1 else other
    unknown = LazyTensor((0, b.shape[-1], 1))  # the symbolic x_j, multiplied by K_ij
    op = (lt * unknown).reduction("Sum", axis=lt.nbatchdims + 1, call=False, **kwargs)
    red = _reduction(op.genred)
    data = [_data(v.data, None, b) for v in op.program.data]
    tensors, _ = check(red.names, [b, *data])
    return solve(red, tensors, 0, alpha, eps, opts, maxiter).reshape(other.shape)
