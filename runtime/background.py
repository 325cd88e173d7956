"""Runs a native kernel call in a worker thread so that Ctrl-C and progress reach Python.

ctypes releases the GIL during a native call, but Python runs signal handlers only in the main
thread between bytecodes: a multi-minute kernel called directly would ignore Ctrl-C until it
returned. Here the main thread waits in short joins (a join is interrupted by signals on POSIX);
on KeyboardInterrupt it sets the kernel's stop flag (control[0], see keir-tile-cpu), waits for
the kernel to return (within one tile) and re-raises, so the process stays usable. The same
joins read the kernel's count of finished rows (control[1]) for `progress`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np

POLL_SECONDS = 0.05  # interval of the waiting thread: Ctrl-C latency and progress updates


def run_interruptible(
    call: Callable[[], None],
    control: np.ndarray,
    total: int,
    progress: Callable[[int, int], None] | None = None,
) -> None:
    """Runs `call` (a native call reading `control`) in a worker; see the module docstring."""
    worker = threading.Thread(target=call, name="keir-kernel", daemon=True)
    worker.start()
    try:
        while worker.is_alive():
            worker.join(POLL_SECONDS)
            if progress is not None:
                progress(min(int(control[1]), total), total)
    except BaseException:  # KeyboardInterrupt, or an error raised by the progress hook
        control[0] = 1  # the kernel skips its remaining tiles
        _join_uninterrupted(worker)
        raise


def _join_uninterrupted(worker: threading.Thread) -> None:
    """Waits for the worker even through a second Ctrl-C: it still writes the outputs, so its
    arrays must outlive it."""
    while worker.is_alive():
        try:
            worker.join()
        except KeyboardInterrupt:
            continue
