"""Sweeps: a grid of :class:`~agents.training.TrainConfig` = a folder of run folders.

A sweep is a base config, optional ``cases`` (fixed overrides, one variant each) and a ``grid``
(lists of values, crossed): every case is crossed with the product of the grid. Spec file (TOML)::

    [sweep]
    name = "autapse"                 # optional
    out = "/work/sweeps/autapse"     # sweep folder (``--out`` overrides)
    [base]                           # fixed TrainConfig fields
    tasks = "20-cog"
    steps = 2000
    [[cases]]                        # optional: one table per variant
    model = "autapse"
    hidden_size = 64
    [grid]                           # every value a list; the Cartesian product
    seed = [0, 1, 2]
    [report]                         # optional, see agents.sweep_results.report
    x = "density"

TOML has no null: in a spec file the string ``"none"`` stands for None (e.g. ``radius = "none"``
to set a density instead).

Sweep folder layout::

    sweep.json                the expanded run list (names, configs), written by every run call
    runs/<name>/              one run folder per config (agents.training's files, plus
                              result.json on success or error.json on failure)
    runs/_starts.jsonl        one line per trainer start (run, pid, resume, time)
    runs/_locks/<name>.lock   held (flock) by the worker training that run
    runs/_incomplete/         folders of runs that died before their first checkpoint
    results/                  tidy.csv, summary.csv, groups.csv, figures (``--report``)

A run's name is a readable slug of the values that vary across the sweep plus 8 hex digits of
the sha256 of its config: the fields that differ from the TrainConfig defaults, without
``out_dir``, ``resume``, ``progress``, ``num_threads`` (:func:`config_hash`).

Run states (:func:`run_state`): ``done`` (result.json), ``running`` (a live lock: the worker's or
the trainer's ``run.lock``), ``failed`` (error.json), ``pending`` otherwise. Rerunning a sweep
skips done runs (and failed ones unless ``retry_failed``), resumes runs that have a checkpoint
and starts the others afresh. :func:`run_one` is the function every backend executes.
"""

from __future__ import annotations

import fcntl
import hashlib
import itertools
import json
import os
import re
import shutil
import time
import traceback
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from .runs import lock_holder as _lock_file_holder

STATES = ("done", "running", "failed", "pending")
# TrainConfig fields that do not identify a run (they may change between sittings)
VOLATILE = frozenset({"out_dir", "resume", "progress", "num_threads"})
# fields left out of the readable slug (still in the hash): evaluation and logging settings
NOT_IN_SLUG = frozenset({"eval_interval", "eval_trials", "eval_seed", "log_interval",
                         "ckpt_interval", "save_best", "criterion", "criterion_metric"})
SHORT = {"hidden_size": "n", "seed": "seed", "density": "d", "radius": "r", "mask_seed": "ms",
         "model": "", "tasks": ""}
RESULT, ERROR, LOCK, RUN_LOCK = "result.json", "error.json", "_locks", "run.lock"
STARTS = "_starts.jsonl"
INCOMPLETE = "_incomplete"


# ------------------------------------------------------------------------------------ runs
@dataclass(frozen=True)
class Run:
    """One grid point: ``name`` (folder name), ``config`` (TrainConfig dict), ``axes``."""

    name: str
    folder: Path
    config: dict
    axes: dict  # the values of the fields that vary across the sweep


def config_hash(config: Mapping) -> str:
    """8 hex digits of the sha256 of the config's non-volatile fields that differ from the
    TrainConfig defaults (so a field added to TrainConfig later, at its default, keeps every
    existing run's name)."""
    from .training import TrainConfig

    default = TrainConfig().to_dict()
    ident = {k: v for k, v in config.items()
             if k not in VOLATILE and (k not in default or v != default[k])}
    return hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()[:8]


def _slug_value(value: object) -> str:
    if isinstance(value, (list, tuple)):
        text = "+".join(str(v) for v in value) if len(value) <= 3 else f"{len(value)}items"
    elif value is None:
        text = "none"
    else:
        text = str(value)
    return re.sub(r"[^A-Za-z0-9.+-]+", "-", text)[:40]


def run_name(config: Mapping, axes: Sequence[str]) -> str:
    """``<slug of config[axes]>-<config_hash>``, e.g. ``autapse_n64_seed0-1a2b3c4d``."""
    parts = [f"{SHORT.get(k, k)}{_slug_value(config[k])}" for k in axes if k not in NOT_IN_SLUG]
    slug = "_".join(p for p in parts if p)[:100] or "run"
    return f"{slug}-{config_hash(config)}"


def expand(base: object = None, grid: Mapping[str, Sequence] | None = None,
           cases: Sequence[Mapping] | None = None) -> list[dict]:
    """TrainConfig dicts of ``base`` (a TrainConfig or a dict of fields) x cases x grid.

    Every grid value must be a non-empty list; each case is a dict of fixed fields. Each result
    is validated by ``TrainConfig.from_dict``. Order: cases in order, grid in product order.
    """
    from .training import TrainConfig

    if base is None:
        base_dict = TrainConfig().to_dict()
    elif isinstance(base, TrainConfig):
        base_dict = base.to_dict()
    elif isinstance(base, Mapping):
        base_dict = TrainConfig.from_dict(dict(base)).to_dict()
    else:
        raise ValueError(f"base={base!r} must be a TrainConfig, a dict of its fields or None")
    grid = dict(grid or {})
    for key, values in grid.items():
        if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or not values:
            raise ValueError(f"grid[{key!r}]={values!r} must be a non-empty list of values")
    cases = list(cases) if cases else [{}]
    for i, case in enumerate(cases):
        if not isinstance(case, Mapping):
            raise ValueError(f"cases[{i}]={case!r} must be a table (dict) of TrainConfig fields")
    keys = list(grid)
    out = []
    for case in cases:
        for combo in itertools.product(*(grid[k] for k in keys)):
            d = {**base_dict, **case, **dict(zip(keys, combo, strict=True))}
            out.append(TrainConfig.from_dict(d).to_dict())
    return out


def make_runs(configs: Sequence[dict], root: str | os.PathLike) -> list[Run]:
    """Name the configs (slug of the varying fields + hash) as run folders under ``root/runs``.

    A folder that already exists under ``root/runs`` with the same hash keeps its name (adding
    runs to a sweep can change which fields vary, hence the slugs of new runs, never the
    folders of old ones). Duplicated configs raise ValueError. Runs are ordered seed-major (all
    configs of the first seed, then the next), so a sweep stopped part-way holds whole seeds of
    every variant.
    """
    root = Path(root)
    varying = [k for k in configs[0] if k not in VOLATILE
               and len({json.dumps(c[k], sort_keys=True) for c in configs}) > 1] if configs else []
    existing = {}
    if (root / "runs").is_dir():
        existing = {p.name.rsplit("-", 1)[-1]: p.name for p in (root / "runs").iterdir()
                    if p.is_dir() and not p.name.startswith("_")}
    runs, seen = [], {}
    for i, c in enumerate(configs):
        name = existing.get(config_hash(c)) or run_name(c, varying)
        if name in seen:
            raise ValueError(f"configs {seen[name]} and {i} of the sweep are identical ({name})")
        seen[name] = i
        runs.append(Run(name, root / "runs" / name, c, {k: c[k] for k in varying}))
    order = sorted(range(len(runs)), key=lambda i: (runs[i].config.get("seed", 0), i))
    return [runs[i] for i in order]


# ------------------------------------------------------------------------------------ state
def lock_holder(run_folder: str | os.PathLike) -> int | None:
    """pid holding the run's lock (the sweep worker's or the trainer's run.lock), else None."""
    run_folder = Path(run_folder)
    for path in (run_folder.parent / LOCK / f"{run_folder.name}.lock", run_folder / RUN_LOCK):
        pid = _lock_file_holder(path)
        if pid is not None:
            return pid
    return None


def run_state(run_folder: str | os.PathLike) -> str:
    """``done`` | ``running`` | ``failed`` | ``pending`` (see the module docstring)."""
    run_folder = Path(run_folder)
    if (run_folder / RESULT).exists():
        return "done"
    if lock_holder(run_folder) is not None:
        return "running"
    if (run_folder / ERROR).exists():
        return "failed"
    return "pending"


def _write_json(path: Path, obj: object) -> None:
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_text(json.dumps(obj, indent=1, sort_keys=True, default=str))
    os.replace(tmp, path)


def _move_aside(run_folder: Path) -> Path:
    """Move a folder without a checkpoint to ``runs/_incomplete/<name>.<n>``."""
    dest_root = run_folder.parent / INCOMPLETE
    dest_root.mkdir(exist_ok=True)
    n = 0
    while (dest_root / f"{run_folder.name}.{n}").exists():
        n += 1
    dest = dest_root / f"{run_folder.name}.{n}"
    shutil.move(str(run_folder), str(dest))
    return dest


# ------------------------------------------------------------------------------------ worker
def run_one(run_folder: str, config: dict, threads: int = 1) -> dict:
    """Train (or resume) one run in ``run_folder``; never raises for a failing run.

    Sets torch's intra-op threads to ``threads``. If ``result.json`` exists, returns it. Holds
    ``runs/_locks/<name>.lock`` while it works (another worker on the same run returns a
    ``busy`` record). With ``ckpt.pt`` present it resumes; otherwise a leftover folder is moved
    to ``runs/_incomplete`` and the run starts afresh. Success writes ``result.json`` (the
    record returned); an exception writes ``error.json`` with type, message and traceback and
    returns it as a ``failed`` record.
    """
    import torch

    folder = Path(run_folder)
    name = folder.name
    if (folder / RESULT).exists():
        return json.loads((folder / RESULT).read_text())
    lock_dir = folder.parent / LOCK
    lock_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_dir / f"{name}.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _lock_file_holder(lock_dir / f"{name}.lock")
            return {"status": "busy", "name": name, "pid": holder}
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        return _train_locked(folder, config, threads, torch)
    finally:
        os.close(fd)


def _train_locked(folder: Path, config: dict, threads: int, torch) -> dict:
    from .training import TrainConfig, train

    name = folder.name
    if threads:
        torch.set_num_threads(threads)
    resume = (folder / "ckpt.pt").exists()
    if not resume and folder.exists():
        _move_aside(folder)
    (folder / ERROR).unlink(missing_ok=True)
    start = {"run": name, "pid": os.getpid(), "resume": resume, "time": time.time()}
    with open(folder.parent / STARTS, "a") as f:
        f.write(json.dumps(start) + "\n")
    t0 = time.perf_counter()
    try:
        cfg = TrainConfig.from_dict({**config, "out_dir": str(folder), "resume": resume,
                                     "progress": False, "num_threads": threads})
        result = train(cfg)
        record = {
            "status": "done", "name": name, "config": config, "steps": result.steps,
            "best_metric": result.best_metric, "steps_to_criterion": result.steps_to_criterion,
            "final": result.final.to_dict() if result.final is not None else None,
            "params": result.model.num_parameters(),
            "params_stored": result.model.num_parameters(effective=False),
            "threads": threads, "resumed": resume, "wall_s": time.perf_counter() - t0,
        }
        _write_json(folder / RESULT, record)
    except Exception as exc:  # a failing run is recorded; the sweep goes on
        record = {"status": "failed", "name": name, "config": config,
                  "error": {"type": type(exc).__name__, "message": str(exc),
                            "traceback": traceback.format_exc()},
                  "wall_s": time.perf_counter() - t0}
        folder.mkdir(parents=True, exist_ok=True)
        _write_json(folder / ERROR, record)
    return record


# ------------------------------------------------------------------------------------ sweep
def read_spec(path: str | os.PathLike) -> dict:
    """The spec file as a dict with keys sweep, base, grid, cases, report (TOML)."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    path = Path(path)
    with open(path, "rb") as f:
        spec = tomllib.load(f)
    allowed = {"sweep", "base", "grid", "cases", "report"}
    unknown = sorted(set(spec) - allowed)
    if unknown:
        raise ValueError(
            f"spec {str(path)!r}: unknown sections {unknown}; allowed {sorted(allowed)}")
    return {k: _none(v) if k in ("base", "grid", "cases") else v for k, v in spec.items()}


def _none(value: object) -> object:
    """The spec's ``"none"`` strings as None, through tables and lists."""
    if isinstance(value, dict):
        return {k: _none(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_none(v) for v in value]
    return None if value == "none" else value


class Sweep:
    """A set of runs in one folder; :meth:`run` trains the unfinished ones on a backend.

    Python API: ``Sweep(base, grid, out, cases=None)`` with ``base`` a TrainConfig (or dict),
    or ``Sweep(out=..., configs=[...])`` with an explicit list of TrainConfigs (or dicts);
    ``Sweep.from_spec(path, out=None)`` reads a TOML spec (module docstring).
    """

    def __init__(self, base: object = None, grid: Mapping[str, Sequence] | None = None,
                 out: str | os.PathLike = "sweeps/default", cases: Sequence[Mapping] | None = None,
                 name: str | None = None, report: Mapping | None = None,
                 configs: Sequence[Mapping] | None = None) -> None:
        self.root = Path(out)
        self.name = name or self.root.name
        self.report_options = dict(report or {})
        if configs is not None:  # an explicit list of configs instead of base x cases x grid
            if base is not None or grid or cases:
                raise ValueError("give either configs or base/grid/cases, not both")
            configs = [expand(c)[0] for c in configs]
        else:
            configs = expand(base, grid, cases)
        self.runs = make_runs(configs, self.root)
        self.grid_keys = sorted({k for r in self.runs for k in r.axes})

    @classmethod
    def from_spec(cls, path: str | os.PathLike, out: str | os.PathLike | None = None) -> Sweep:
        spec = read_spec(path)
        meta = spec.get("sweep", {})
        out = out or meta.get("out")
        if not out:
            raise ValueError(f"spec {str(path)!r} has no [sweep] out = ...; pass --out")
        return cls(spec.get("base"), spec.get("grid"), out, spec.get("cases"),
                   name=meta.get("name"), report=spec.get("report"))

    def states(self) -> dict[str, str]:
        """Run name -> state."""
        return {r.name: run_state(r.folder) for r in self.runs}

    def counts(self) -> dict[str, int]:
        states = list(self.states().values())
        return {s: states.count(s) for s in STATES}

    def write_index(self) -> None:
        """``sweep.json``: every run's name, axes and config."""
        self.root.mkdir(parents=True, exist_ok=True)
        _write_json(self.root / "sweep.json", {
            "name": self.name, "grid_keys": self.grid_keys, "report": self.report_options,
            "runs": [{"name": r.name, "axes": r.axes, "config": r.config} for r in self.runs],
        })

    def todo(self, retry_failed: bool = False) -> list[Run]:
        """Runs to execute now: pending ones (and failed ones with ``retry_failed``)."""
        want = {"pending", "failed"} if retry_failed else {"pending"}
        return [r for r in self.runs if run_state(r.folder) in want]

    def run(self, backend: str = "local", *, workers: int = 1, threads: int = 1,
            retry_failed: bool = False, progress: bool = True, **options) -> list[dict]:
        """Execute the unfinished runs on ``backend``; returns the records of this call."""
        from .sweep_backends import get_backend

        _check_int(workers, "workers")
        _check_int(threads, "threads")
        execute = get_backend(backend)
        self.write_index()
        todo = self.todo(retry_failed)
        counts = self.counts()
        bar = _progress(len(self.runs), counts["done"], counts["failed"] if not retry_failed else 0,
                        progress, self.name)
        try:
            return execute(todo, workers=workers, threads=threads, on_result=bar.update_record,
                           root=self.root, **options)
        finally:
            bar.close()


def _check_int(v: object, name: str) -> None:
    if isinstance(v, bool) or not isinstance(v, int) or v < 1:
        raise ValueError(f"{name}={v!r} must be an int >= 1")


class _progress:
    """tqdm bar over runs with done / failed counts in the postfix."""

    def __init__(self, total: int, done: int, failed: int, enabled: bool, desc: str) -> None:
        from tqdm.auto import tqdm

        self.done, self.failed = done, failed
        self.bar = tqdm(total=total, initial=done + failed, unit="run", desc=desc,
                        disable=not enabled, smoothing=0)
        self.bar.set_postfix(done=done, failed=failed)

    def update_record(self, record: dict) -> None:
        status = record.get("status")
        if status == "done":
            self.done += 1
        elif status == "failed":
            self.failed += 1
        self.bar.set_postfix(done=self.done, failed=self.failed)
        self.bar.update(1)

    def close(self) -> None:
        self.bar.close()


def load_results(path: str | os.PathLike):
    """A results CSV (tidy or summary) as a pandas DataFrame, or a list of row dicts.

    Without pandas, numbers are parsed to int or float and empty cells to None.
    """
    from .sweep_results import read_csv

    return read_csv(path)
