"""The LazyTensor layer behind keir.lazytensor (see docs/lazytensor.md):

variables.py  what a LazyTensor wraps: arrays, numbers, symbolic (ind, dim, cat) arguments
core.py       the LazyTensor class: construction, operators, shapes, transposition
methods.py    the formula methods and reductions, generated from tables
complex.py    ComplexLazyTensor (interleaved re, im pairs)
reduce.py     naming variables, the Genred cache, batch loops, conjugate-gradient solves
rstyle.py     RKeOps' function-call spellings: sum(K, index="i"), exp(x), Re(z), ...
"""

from . import methods as _methods  # noqa: F401  (attaches the generated methods to LazyTensor)
