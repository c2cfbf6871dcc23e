"""Where units run: a local process pool, Ray tasks, or Slurm jobs through submitit.

All three hand back :class:`concurrent.futures.Future` objects, so the runner's scheduling loop is the same
whichever executor is chosen; units, seeds and outputs do not depend on it.
"""
from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from avbench.errors import UserError

EXECUTORS = ("local", "ray", "slurm")


class InlineExecutor(Executor):
    """Runs each unit in this process when one worker is asked for: no start-up cost, same results."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:  # type: ignore[override]
        future: Future = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # the runner re-raises it from the future, as with a real pool
            future.set_exception(exc)
        return future


class RayExecutor(Executor):
    """Units as Ray tasks on a local Ray started on the spot, or on ``address`` for an existing cluster."""

    def __init__(self, workers: int, address: str | None) -> None:
        try:
            import ray
        except ImportError:
            raise UserError("the ray executor needs the extra: pip install 'avbench[ray]'") from None
        self._ray = ray
        if not ray.is_initialized():
            kwargs: dict[str, Any] = {"address": address} if address else {"num_cpus": workers}
            ray.init(include_dashboard=False, log_to_driver=False, **kwargs)
        self._remote = ray.remote(num_cpus=1)(_call)

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:  # type: ignore[override]
        return self._remote.remote(fn, args, kwargs).future()

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._ray.shutdown()


class SubmititExecutor(Executor):
    """Units as Slurm jobs via submitit (its local executor when there is no Slurm, which is how it is tested)."""

    def __init__(self, folder: Path, workers: int, cluster: str | None) -> None:
        try:
            import submitit
        except ImportError:
            raise UserError("the slurm executor needs the extra: pip install 'avbench[slurm]'") from None
        self._executor = submitit.AutoExecutor(folder=str(folder), cluster=cluster)
        self._executor.update_parameters(timeout_min=24 * 60, cpus_per_task=1)
        self._waiters = ThreadPoolExecutor(max_workers=max(1, workers))

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:  # type: ignore[override]
        job = self._executor.submit(fn, *args, **kwargs)
        return self._waiters.submit(job.result)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._waiters.shutdown(wait=wait)


def _call(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    return fn(*args, **kwargs)


def default_workers() -> int:
    return max(1, os.cpu_count() or 1)


def make_executor(kind: str, workers: int | None, run_dir: Path, ray_address: str | None = None,
                  slurm_cluster: str | None = None) -> Executor:
    if kind not in EXECUTORS:
        from avbench.errors import unknown

        raise unknown("executor", kind, EXECUTORS)
    n = workers or default_workers()
    if kind == "ray":
        return RayExecutor(n, ray_address)
    if kind == "slurm":
        return SubmititExecutor(run_dir / ".submitit", n, slurm_cluster)
    if n == 1:
        return InlineExecutor()
    return ProcessPoolExecutor(max_workers=n, mp_context=multiprocessing.get_context("spawn"),
                               initializer=watch_parent, initargs=(os.getpid(),))


def watch_parent(parent: int, interval: float = 1.0) -> None:
    """Pool-worker initializer: exit as soon as the run that started this worker is gone.

    A SIGKILLed parent cannot tell its workers to stop; without this they finish their unit and then wait forever,
    each holding its model and data in memory.
    """

    def poll() -> None:
        while os.getppid() == parent:
            time.sleep(interval)
        os._exit(1)

    threading.Thread(target=poll, name="avbench-parent-watch", daemon=True).start()
