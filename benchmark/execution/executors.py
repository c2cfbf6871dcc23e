"""Where units run: a local process pool, Ray tasks, or Slurm jobs through submitit.

All three hand back :class:`concurrent.futures.Future` objects, so the runner's scheduling loop is the same
whichever executor is chosen; units, seeds and outputs do not depend on it.
"""
from __future__ import annotations

import importlib
import multiprocessing
import os
import sys
import threading
from collections.abc import Callable
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from avbench.errors import UserError
from multiprocessing import forkserver
from avbench.errors import unknown

EXECUTORS = ("local", "ray", "slurm")
EXTRAS = {"ray": "ray", "slurm": "submitit"}  # executor → the module its optional extra installs


def extra_module(kind: str) -> Any:
    """The module behind executor ``kind``'s optional extra (``pip install 'avbench[kind]'``), imported: the
    runner calls this before it writes anything, so a missing extra is one line that leaves nothing behind."""
    try:
        return importlib.import_module(EXTRAS[kind])  # deferred: ray or submitit, imported only when chosen
    except ImportError:
        raise UserError(f"the {kind} executor needs the extra: pip install 'avbench[{kind}]'") from None

DEFAULT_SLURM_MINUTES = 24 * 60  # a Slurm job's time limit when the run's configuration gives none


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
    """Units as Ray tasks on a local Ray started on the spot, or on ``address`` for an existing cluster.

    Each task asks Ray for one CPU and ``gpus`` GPUs, so a CUDA run never puts two units on one GPU unless asked.
    """

    def __init__(self, workers: int, address: str | None, gpus: float = 0) -> None:
        ray = extra_module("ray")
        self._ray = ray
        if not ray.is_initialized():
            kwargs: dict[str, Any] = {"address": address} if address else {"num_cpus": workers}
            ray.init(include_dashboard=False, log_to_driver=False, **kwargs)
        self._remote = ray.remote(num_cpus=1, num_gpus=gpus)(_call)

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:  # type: ignore[override]
        return self._remote.remote(fn, args, kwargs).future()

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._ray.shutdown()


class SubmititExecutor(Executor):
    """Units as Slurm jobs via submitit (its local executor when there is no Slurm, which is how it is tested)."""

    def __init__(self, folder: Path, workers: int, cluster: str | None, gpus: int = 0, resources: Any = None) -> None:
        submitit = extra_module("slurm")
        self._executor = submitit.AutoExecutor(folder=str(folder), cluster=cluster)
        self._executor.update_parameters(**slurm_parameters(resources, gpus))
        self._waiters = ThreadPoolExecutor(max_workers=max(1, workers))

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:  # type: ignore[override]
        job = self._executor.submit(fn, *args, **kwargs)
        return self._waiters.submit(job.result)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._waiters.shutdown(wait=wait)


def slurm_parameters(resources: Any, gpus: int) -> dict[str, Any]:
    """submitit's parameters for each unit's job, from the run's
    :class:`~avbench.execution.run_config.SlurmResources` (None: the defaults) and the GPUs a CUDA run asks for.

    One unit is one job of one task, so GPUs per task are the job's ``gpus_per_node``; partition, account and
    memory are Slurm's own (``slurm_*``: submitit's local executor, used without a cluster, ignores them)."""
    parameters: dict[str, Any] = {"timeout_min": DEFAULT_SLURM_MINUTES, "cpus_per_task": 1}
    if resources is not None:
        parameters["timeout_min"] = resources.minutes
        if resources.cpus_per_task is not None:
            parameters["cpus_per_task"] = resources.cpus_per_task
        if resources.gpus_per_task is not None:
            gpus = resources.gpus_per_task
        for key in ("partition", "account", "mem"):
            if getattr(resources, key) is not None:
                parameters[f"slurm_{key}"] = getattr(resources, key)
    if gpus:
        parameters["gpus_per_node"] = gpus
    return parameters


def _call(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    return fn(*args, **kwargs)


def default_workers() -> int:
    return max(1, os.cpu_count() or 1)


# What a local worker imports to run a unit; forked from the server that imported it once (see local_context). The
# store's typed meta.json record (pydantic) is read when a unit opens the store: imported here, not per worker.
WORKER_MODULES = ("__main__", "avbench.execution.units", "avbench.data.meta")


def local_context() -> multiprocessing.context.BaseContext:
    """How local pool workers start: forked from a fork server that has imported :data:`WORKER_MODULES` once (torch
    included), where the platform has one and it is known to fork cleanly (Linux); spawned afresh elsewhere.

    A spawned worker imports torch itself, about two seconds per worker before its first unit; a worker forked
    from the server starts at once. The server is a clean single-threaded process (Python's own default on Linux
    from 3.14), so nothing of the run's main process (its threads, its torch state) is forked.
    """
    if sys.platform.startswith("linux") and "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(list(WORKER_MODULES))
        return context
    return multiprocessing.get_context("spawn")


def start_local_workers(kind: str, workers: int | None) -> None:
    """Start the fork server of local workers now, when a run will use them, so that its import of torch overlaps
    the main process's own set-up instead of following it. Nothing happens for other executors, for one worker
    (units then run in this process) or where workers are spawned. A run that then stops on bad input leaves the
    server to finish its import and exit with this process."""
    if kind != "local" or (workers or default_workers()) == 1:
        return
    if local_context().get_start_method() == "forkserver":

        forkserver.ensure_running()


def make_executor(kind: str, workers: int | None, run_dir: Path, ray_address: str | None = None,
                  slurm_cluster: str | None = None, gpus_per_unit: int = 0, slurm: Any = None) -> Executor:
    """``gpus_per_unit`` GPUs are requested per Ray task or Slurm job (runs with ``--device cuda`` ask for one);
    ``slurm``: the Slurm jobs' resources (:class:`~avbench.execution.run_config.SlurmResources`, which may also set
    the GPUs per job)."""
    if kind not in EXECUTORS:

        raise unknown("executor", kind, EXECUTORS)
    n = workers or default_workers()
    if kind == "ray":
        return RayExecutor(n, ray_address, gpus_per_unit)
    if kind == "slurm":
        return SubmititExecutor(run_dir / ".submitit", n, slurm_cluster, gpus_per_unit, slurm)
    if n == 1:
        return InlineExecutor()
    return ProcessPoolExecutor(max_workers=n, mp_context=local_context(), initializer=start_worker,
                               initargs=(dict(os.environ),))


def start_worker(environment: dict[str, str]) -> None:
    """Pool-worker initializer: this run's environment (a worker forked from the server would otherwise have the
    server's, from when it started: a cache directory or thread count set since would be missed), then
    :func:`watch_parent`."""
    os.environ.clear()
    os.environ.update(environment)
    watch_parent()


def watch_parent() -> None:
    """Exit as soon as the run that started this worker is gone.

    A SIGKILLed run cannot tell its workers to stop; without this they finish their unit and then wait forever,
    each holding its model and data in memory. ``multiprocessing.parent_process()`` is the run whether the worker
    was spawned or forked from the fork server (whose own exit waits for every worker), and its sentinel becomes
    ready when the run's end of the pipe closes, however it ended.
    """
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def wait_for_exit() -> None:
        parent.join()
        os._exit(1)

    threading.Thread(target=wait_for_exit, name="avbench-parent-watch", daemon=True).start()
