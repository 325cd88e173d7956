"""Helpers of keir's lowering passes (not passes themselves):

lanes.py       LaneEmitter: arith/math ops of one float type, scalar or vector lanes
formula.py     a kernel's formula and reduction steps emitted on lanes
wide_dot.py    keir-tile-cpu's register-blocked micro-kernel for long component sums
vecmath*.py    exp, log, sin, cos as polynomials on FMAs (keir-expand)
signs.py       which values are provably <= 0 (exp without an overflow clamp)
gpu_binary.py  the PTX and launch parameters read out of a lowered GPU module
"""
