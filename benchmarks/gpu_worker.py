"""Runs the suite's cases in a child process, so that one bad kernel costs one case, not the run.

After a kernel fault CUDA fails every later call of the process (the context is lost), a
crash in a driver call ends the process, and a kernel that never ends blocks it. The worker is
a spawned process (CUDA does not survive fork) that opens its own device and source; it is
replaced after a case that met a DeviceError, died or did not answer in time, and the case is
reported with what happened.
"""

from __future__ import annotations

import multiprocessing
import time
from dataclasses import dataclass

from gpu_suite import Case, Result, Sizes, run_case

CASE_SECONDS = 180.0  # a case (compile, JIT, 7 checks) that takes longer is taken as hung


@dataclass(frozen=True)
class SourceSpec:
    """What a worker needs to open the same device and source as the parent."""

    pack: str | None
    emulate: bool
    device: int

    def open(self):
        import gpu_pack

        if self.emulate:
            from keir.runtime.emulated import EmulatedDevice

            device = EmulatedDevice()
        else:
            from keir.runtime import cuda

            device = cuda.device(self.device)
        if self.pack:
            return gpu_pack.PackSource(
                self.pack, device, gpu_pack.EMULATED if self.emulate else None
            )
        return gpu_pack.LiveSource(device, emulate=self.emulate)


def _serve(conn, spec: SourceSpec) -> None:
    try:
        source, error = spec.open(), None
    except Exception as e:  # every case then says why
        source, error = None, f"the worker cannot open its device: {type(e).__name__}: {e}"
    while True:
        job = conn.recv()
        if job is None:
            return
        if error:
            conn.send([Result(job[0].id, "open", False, error, 0.0)])
        else:
            conn.send(run_case(source, *job))


class CaseWorker:
    def __init__(self, spec: SourceSpec, seconds: float = CASE_SECONDS):
        self.spec, self.seconds = spec, seconds
        self.restarts = 0
        self._start()

    def _start(self) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=_serve, args=(child, self.spec), daemon=True)
        self.process.start()
        child.close()

    def _replace(self) -> None:
        self.process.kill()
        self.process.join(10)
        self.restarts += 1
        self._start()

    def run(self, case: Case, sizes: Sizes) -> list[Result]:
        start = time.perf_counter()
        self.conn.send((case, sizes))
        why = None
        if not self.conn.poll(self.seconds):
            why = f"no answer in {self.seconds:g} s (a kernel that never ends?): worker killed"
        else:
            try:
                results = self.conn.recv()
            except EOFError:
                self.process.join(10)
                why = f"the worker process died (exit code {self.process.exitcode})"
        if why:
            self._replace()
            return [Result(case.id, "all", False, why, time.perf_counter() - start)]
        if any("DeviceError" in r.detail for r in results if not r.ok):
            self._replace()  # the CUDA context may be lost: the next case gets a fresh one
        return results

    def close(self) -> None:
        try:
            self.conn.send(None)
        except (BrokenPipeError, OSError):
            pass
        self.process.join(10)
        if self.process.is_alive():
            self.process.kill()


def run_isolated(spec: SourceSpec, cases, sizes: Sizes, log=print, seconds=CASE_SECONDS):
    """run_suite, each case in the worker (a list of Results)."""
    worker, results = CaseWorker(spec, seconds), []
    try:
        for case in cases:
            for result in worker.run(case, sizes):
                log(result.line())
                results.append(result)
    finally:
        worker.close()
    if worker.restarts:
        log(f"the worker was replaced {worker.restarts} time(s) after a fault, crash or hang")
    return results
