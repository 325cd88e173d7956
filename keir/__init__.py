"""keir: KeOps-style generic kernel reductions compiled through MLIR."""

__version__ = "0.1.0"
