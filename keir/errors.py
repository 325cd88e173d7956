"""One exception hierarchy for everything a user can get wrong or the toolchain can refuse.

Every error raised on purpose by keir derives from `KeirError`, so callers can catch one class.
Errors that point into a formula carry the formula text and a 0-based column and render a caret.
"""

from __future__ import annotations


class KeirError(Exception):
    """Base class of all keir errors."""


class FormulaError(KeirError):
    """An error located in a formula string: shows the formula with a caret under `column`."""

    def __init__(self, message: str, formula: str | None = None, column: int | None = None):
        self.message = message
        self.formula = formula
        self.column = column
        super().__init__(self._render())

    def _render(self) -> str:
        if self.formula is None or self.column is None:
            return self.message
        return f"{self.message}\n  {self.formula}\n  {' ' * self.column}^"


class FormulaSyntaxError(FormulaError):
    """The formula or alias text does not follow the KeOps grammar."""


class UnknownOpError(FormulaError):
    """A name that is neither an operation of the formula language nor a declared variable."""


class NotSupportedError(FormulaError):
    """A valid KeOps operation that keir does not lower yet."""


class DimensionError(FormulaError):
    """Operand dimensions that the operation's dimension rule rejects."""


class ArgumentError(KeirError):
    """Arrays passed at call time that do not match the declared arguments."""


class CompileError(KeirError):
    """MLIR or the native toolchain rejected a kernel; the message carries their diagnostics."""


class LimitError(CompileError):
    """A kernel past a size limit of the compiler (compiling it would take too long)."""


class BundleError(KeirError):
    """A kernel bundle (keir bundle / keir.load_bundle) that is malformed or cannot be used."""


class BundleIntegrityError(BundleError):
    """A bundle file is missing or its sha256 differs from the manifest's."""


class BundleTargetError(BundleError):
    """A bundle built for another machine, CPU or keir ABI than this process's."""
