"""Runs a native kernel call in a worker thread so that Ctrl-C and progress reach Python.

ctypes releases the GIL during a native call, but Python runs signal handlers only in the main
thread between bytecodes: a multi-minute kernel called directly would ignore Ctrl-C until it
returned. Here the calling thread waits in short waits (interrupted by signals on POSIX); on
KeyboardInterrupt it sets the kernel's stop flag (control[0], see keir-tile-cpu), waits for the
kernel to return (within one tile) and re-raises, so the process stays usable. The same waits
read the kernel's count of finished rows (control[1]) for `progress`.

Each calling thread has one worker, kept between calls: OpenMP keeps a team of threads per
thread that starts parallel regions, so a new worker per call would start (and leave spinning)
a new team each time.
"""

from __future__ import annotations

import queue
import threading
import weakref
from collections.abc import Callable

import numpy as np

POLL_SECONDS = 0.05  # interval of the waiting thread: Ctrl-C latency and progress updates

_workers = threading.local()


class _Worker:
    """A daemon thread running one calling thread's native calls, one at a time; it ends when
    the calling thread does (its thread-local _Worker is then collected)."""

    def __init__(self):
        self.jobs: queue.SimpleQueue = queue.SimpleQueue()
        threading.Thread(target=_serve, args=(self.jobs,), name="keir-kernel", daemon=True).start()
        weakref.finalize(self, self.jobs.put, None)

    def submit(self, call: Callable[[], None]) -> threading.Event:
        done = threading.Event()
        self.jobs.put((call, done))
        return done


def _serve(jobs: queue.SimpleQueue) -> None:
    """Runs the jobs until None. A job's call (and the arrays it holds) is released before
    its caller is woken, so the caller drops the last reference: objects freed on this
    daemon thread could be freed during interpreter shutdown, when a thread that waits for
    the GIL is ended with pthread_exit, which aborts the process ("terminate called without
    an active exception") if it unwinds through C++ such as torch's tensor deallocator."""
    while (job := jobs.get()) is not None:
        call, done = job
        del job
        try:
            call()
        except BaseException as error:  # handed to the caller: this thread must go on serving
            done.error = error
            del error
        finally:
            del call
            done.set()


def run_interruptible(
    call: Callable[[], None],
    control: np.ndarray,
    total: int,
    progress: Callable[[int, int], None] | None = None,
) -> None:
    """Runs `call` (a native call reading `control`) in this thread's worker; see the module
    docstring."""
    worker = getattr(_workers, "worker", None)
    if worker is None:
        worker = _workers.worker = _Worker()
    done = worker.submit(call)
    try:
        while not done.wait(POLL_SECONDS):
            if progress is not None:
                progress(min(int(control[1]), total), total)
    except BaseException:  # KeyboardInterrupt, or an error raised by the progress hook
        control[0] = 1  # the kernel skips its remaining tiles
        _wait_uninterrupted(done)
        raise
    error = getattr(done, "error", None)
    if error is not None:
        raise error


def _wait_uninterrupted(done: threading.Event) -> None:
    """Waits for the call even through a second Ctrl-C: it still writes the outputs, so its
    arrays must outlive it."""
    while not done.is_set():
        try:
            done.wait()
        except KeyboardInterrupt:
            continue
