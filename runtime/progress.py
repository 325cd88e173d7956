"""The `progress=` option of a kernel call: a tqdm bar (True), a hook, or nothing (default).

The bar counts output rows of finished chunks, as the kernel reports them (control[1]); tqdm is
imported only when a bar is asked for.
"""

from __future__ import annotations

from contextlib import contextmanager

from ..errors import ArgumentError


@contextmanager
def reporter(progress, total: int):
    """Yields a hook(done, total) for `progress` (None/False: yields None), closed on exit."""
    if progress is None or progress is False:
        yield None
    elif progress is True:
        from tqdm import tqdm

        bar = tqdm(total=total, unit="rows", unit_scale=True, leave=False, mininterval=0.2)
        try:
            yield lambda done, _total: bar.update(done - bar.n)
        finally:
            bar.close()
    elif callable(progress):
        yield progress
    else:
        raise ArgumentError(
            f"progress: expected True, False or a function(done, total), got {progress!r}"
        )
