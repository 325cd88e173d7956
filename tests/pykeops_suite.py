"""pykeops' own test files (shipped in its wheel), rewritten to test keir instead.

`rewrite` swaps the imports of the code under test (pykeops.torch -> keir.torch, pykeops.numpy
-> keir.numpy) and keeps pykeops' numpy reference helpers (pykeops.numpy.utils); GPU branches
(`pykeops.config.gpu_available`) are turned off: there is no GPU to compare with here.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

REWRITES = [
    (r"from pykeops\.torch\.operations import", "from keir.torch import"),
    (r"from pykeops\.torch\.cluster import", "from keir.torch.cluster import"),
    (r"from pykeops\.torch import", "from keir.torch import"),
    (r"from pykeops\.numpy import", "from keir.numpy import"),
    (r"pykeops\.config\.gpu_available", "False"),
]


def pykeops_test_dir() -> Path | None:
    """pykeops' test folder, found without importing pykeops (its import is slow and noisy)."""
    spec = importlib.util.find_spec("pykeops")
    if spec is None or spec.origin is None:
        return None
    return Path(spec.origin).parent / "test"


def rewrite(source: str) -> str:
    for pattern, replacement in REWRITES:
        source = re.sub(pattern, replacement, source)
    return source
