"""Where the runs of a sweep execute: ``local`` (process pool), ``slurm`` (submitit), ``ray``.

Every backend executes the same function, :func:`agents.sweeps.run_one` ``(run_folder, config,
threads)``, on each run; the backend only decides where. A backend is a callable
``execute(runs, *, workers, threads, on_result, root, **options) -> list[record]`` that calls
``on_result(record)`` as each run finishes (the progress bar). submitit and ray are imported only
by their backend (extras ``modcog-env[slurm]``, ``modcog-env[ray]``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path

from .sweeps import Run, run_one

BACKENDS = ("local", "slurm", "ray")


def get_backend(name: str) -> Callable:
    """The execute function of backend ``name``."""
    table = {"local": run_local, "slurm": run_slurm, "ray": run_ray}
    if name not in table:
        raise ValueError(f"backend={name!r} is not one of {BACKENDS}")
    return table[name]


def _no_options(options: dict, backend: str) -> None:
    if options:
        raise ValueError(f"backend {backend!r} takes no options {sorted(options)}")


def run_local(runs: Sequence[Run], *, workers: int, threads: int, on_result: Callable,
              root: Path, **options) -> list[dict]:
    """A ProcessPoolExecutor of ``workers`` spawned processes, ``threads`` torch threads each."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    _no_options(options, "local")
    if not runs:
        return []
    records = []
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=min(workers, len(runs)), mp_context=ctx) as pool:
        futures = [pool.submit(run_one, str(r.folder), r.config, threads) for r in runs]
        for fut in as_completed(futures):
            record = fut.result()
            records.append(record)
            on_result(record)
    return records


class RequeueableRun:
    """``run_one`` as a submitit callable: on preemption or timeout submitit requeues the same
    call, which resumes the run folder from its latest checkpoint."""

    def __call__(self, run_folder: str, config: dict, threads: int) -> dict:
        return run_one(run_folder, config, threads)

    def checkpoint(self, *args, **kwargs):
        import submitit

        return submitit.helpers.DelayedSubmission(self, *args, **kwargs)


SLURM_OPTIONS = ("partition", "time", "cpus", "gpus", "mem", "cluster", "array_parallelism")


def run_slurm(runs: Sequence[Run], *, workers: int, threads: int, on_result: Callable,
              root: Path, partition: str | None = None, time_min: int = 60,
              cpus: int | None = None, gpus: int = 0, mem_gb: float | None = None,
              cluster: str | None = None, poll_s: float = 2.0, **options) -> list[dict]:
    """One submitit job array over the runs (``slurm_array_parallelism = workers``).

    ``cluster`` is submitit's: None picks slurm when ``sbatch`` exists, ``"local"`` and
    ``"debug"`` run the jobs on this machine (tests). Logs go to ``root/_submitit``. ``cpus``
    defaults to ``threads``.
    """
    import submitit

    _no_options(options, "slurm")
    if not runs:
        return []
    executor = submitit.AutoExecutor(folder=str(root / "_submitit" / "%j"), cluster=cluster)
    params = dict(timeout_min=int(time_min), cpus_per_task=int(cpus or threads),
                  name=f"sweep-{root.name}")
    if gpus:
        params["gpus_per_node"] = int(gpus)
    if mem_gb:
        params["mem_gb"] = mem_gb
    if executor.cluster == "slurm":
        params["slurm_array_parallelism"] = int(workers)
        if partition:
            params["slurm_partition"] = partition
    executor.update_parameters(**params)
    jobs = executor.map_array(RequeueableRun(), [str(r.folder) for r in runs],
                              [r.config for r in runs], [threads] * len(runs))
    records, waiting = [], list(zip(runs, jobs, strict=True))
    while waiting:
        still = []
        for run, job in waiting:
            if not job.done():
                still.append((run, job))
                continue
            try:
                record = job.result()
            except Exception as exc:  # the job itself died (not a failing run): record it
                record = {"status": "failed", "name": run.name,
                          "error": {"type": type(exc).__name__, "message": str(exc)}}
            records.append(record)
            on_result(record)
        waiting = still
        if waiting:
            time.sleep(poll_s)
    return records


def run_ray(runs: Sequence[Run], *, workers: int, threads: int, on_result: Callable,
            root: Path, address: str | None = None, **options) -> list[dict]:
    """Ray core tasks with ``num_cpus = threads``; joins ``address`` or starts a local Ray of
    ``workers * threads`` CPUs. Results are collected with ``ray.wait`` as they finish."""
    import ray

    _no_options(options, "ray")
    if not runs:
        return []
    started = False
    if not ray.is_initialized():
        if address:
            ray.init(address=address, log_to_driver=False)
        else:
            ray.init(num_cpus=workers * threads, include_dashboard=False, log_to_driver=False)
        started = True
    try:
        task = ray.remote(num_cpus=threads, max_retries=0)(run_one)
        refs = [task.remote(str(r.folder), r.config, threads) for r in runs]
        records = []
        while refs:
            ready, refs = ray.wait(refs, num_returns=1)
            record = ray.get(ready[0])
            records.append(record)
            on_result(record)
        return records
    finally:
        if started:
            ray.shutdown()
