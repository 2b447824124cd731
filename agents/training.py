"""Training: one flat :class:`TrainConfig`, a :class:`Trainer` loop, checkpoints and a metrics log.

``train(TrainConfig(...))`` builds the model and the data stream, trains for ``steps`` optimizer
steps and returns a :class:`TrainResult`. Its state lives in the run folder ``out_dir``
(:mod:`agents.runs`): ``run.json`` (run id, creation time, config, status), ``config.toml``,
``metrics.jsonl``, ``ckpt.pt``, ``best.pt`` and the lock ``run.lock``, held while training.

**One run per folder.** A missing or empty ``out_dir`` starts a run (``out_dir=None``: a fresh
``runs/<model>-<UTC timestamp>``). A folder that holds a run raises
:class:`~agents.runs.RunFolderError` naming the step it holds, unless ``resume=True`` (continue
from ``ckpt.pt``; its run id must be the folder's) or ``overwrite=True`` (the old run's files are
deleted first). A second trainer on a locked folder raises :class:`~agents.runs.RunBusy` at once.

**Metrics log** ``metrics.jsonl``, one JSON object per line (strict JSON: a non-finite number is
written as null and named in a ``"nonfinite"`` list). ``{"kind": "train", "step", "samples",
"loss", "lr", "grad_norm", "ms_per_step"}`` every ``log_interval`` steps (loss averaged since the
last such line) and ``{"kind": "eval", "step", "samples", "mean", "tasks", "criterion_met"}`` at
step 0 and every ``eval_interval`` steps. The last step of a run gets a train and an eval line
too; when it is off those grids they carry ``"final": true``, do not count for ``best.pt`` or
steps-to-criterion and are dropped when the run is resumed, so that a run stopped at any step and
resumed logs exactly what an uninterrupted run logs (timings aside). ``eval_interval = 0``
evaluates at step 0 and at every end (then one eval line per stop). A diverged run ends with a
``{"kind": "diverged", "step", "reason", "loss", "grad_norm"}`` line.

**Losses** (:mod:`agents.losses`): ``loss="ce"``, cross-entropy per step weighted by the batch's
loss weights (``loss_weights``: ``"all"`` real steps, ``"decision"`` steps only, or Yang et al.'s
``"yang"``), divided by the weights' sum; ``loss="eg"``, the exponentiated-gradients Mod-Cog
recipe: MSE of the fixation output (softmax probability of action 0) against 1 outside the
decision period plus cross-entropy inside it. ``label_smoothing`` applies to the cross-entropy of
both; ``loss="lsq"`` (``convention="yang2019"``), Yang et al.'s squared error of the sigmoid
outputs against the regression target ``y``, weighted by the cost mask ``c_mask``, averaged over
the real steps; its evaluations add Yang's performance ``yang_perf`` per task.
``schedule="rule-per-batch"`` (trial mode) makes every batch one task (Yang's rule sampling).
``input_noise`` adds Gaussian noise (std) to the network input in training only, drawn
from torch's global generator (saved in checkpoints). Adam, element-wise gradient clipping
(``grad_clip_value``, 0 disables) then global-norm clipping (``grad_clip = 0`` disables), a
constant or warmup + cosine learning rate (:func:`get_lr`).

**Stops.** SIGINT and SIGTERM (handlers installed only in the main thread of the main
interpreter, restored afterwards) finish the current step, write a checkpoint at that step and
raise :class:`TrainingInterrupted` (exit code 130 / 143); a second SIGINT stops at once, leaving
the last complete checkpoint. A non-finite loss, gradient norm or learning rate, or a loss above
``max_loss``, writes a checkpoint of the last finite state (the step before) and raises
:class:`TrainingDiverged`.

**Exact resume**: N steps straight give the same parameters and the same log as k steps, a stop
and N - k more. The checkpoint holds the model and optimizer states, the model, RNN and train
configs, the run id, ``iter_num``, the best metric, the log accumulators, torch's and numpy's
global RNG states, and the data stream as the few integers that determine it
(:meth:`modcog_env.Batches.state_dict`: per-stream trial counters and the trial cut by the last
window, regenerated on load), so a checkpoint is small (about 1 MB for the default config).
Checkpoint files are written atomically with a checksum and verified on load
(:mod:`agents.checkpoints`); a damaged file raises :class:`~agents.checkpoints.CheckpointError`.
"""

from __future__ import annotations

import json
import math
import os
import signal
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
import torch

from modcog_env import Batches, TaskStreams

from . import runs
from .checkpoints import (  # noqa: F401  (re-exported: agents.training API)
    CheckpointError,
    load_checkpoint,
    load_model,
    save_checkpoint,
)
from .evaluation import EvalTable, evaluate, held_out_set
from .losses import loss_fn, weighted_cross_entropy  # noqa: F401  (re-exported)
from .models import build_model, config_from_dict
from .prefetch import BatchSource, tensors_of
from .rnn import MaskedRNN
from .train_config import (  # noqa: F401  (re-exported: agents.training API)
    CHOICES,
    INVOCATION_FIELDS,
    RESUMABLE_CHANGES,
    TrainConfig,
)
from .yang2019 import RULE_PER_BATCH, RulePerBatch


def get_lr(step: int, config: TrainConfig) -> float:
    """Learning rate of optimizer step ``step`` (0-based): warmup, then constant or cosine."""
    if step < config.warmup_steps:
        return config.lr * (step + 1) / (config.warmup_steps + 1)
    if config.lr_schedule == "constant":
        return config.lr
    decay = config.lr_decay_steps or config.steps
    if step >= decay:
        return config.min_lr
    ratio = (step - config.warmup_steps) / max(decay - config.warmup_steps, 1)
    return config.min_lr + 0.5 * (1.0 + math.cos(math.pi * ratio)) * (config.lr - config.min_lr)


# ------------------------------------------------------------------------------------ metrics log
def read_log(path: str | os.PathLike) -> list[dict]:
    """The lines of a ``metrics.jsonl`` as dicts."""
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def steps_to_criterion(
    log: str | os.PathLike | list[dict],
    threshold: float,
    metric: str = "decision_accuracy",
    task: str | None = None,
) -> int | None:
    """First evaluated step at which ``metric`` (mean over tasks, or one ``task``) >= threshold.

    None if never reached. Resolution is ``eval_interval``; off-grid final evaluations
    (``"final": true``) do not count, as in the trainer.
    """
    lines = read_log(log) if isinstance(log, (str, os.PathLike)) else log
    for line in lines:
        if line.get("kind") != "eval" or line.get("final"):
            continue
        value = line["mean"][metric] if task is None else line["tasks"][task][metric]
        if value is not None and value >= threshold:
            return int(line["step"])
    return None


def json_record(record: dict) -> str:
    """One strict-JSON log line: non-finite floats become null, listed under "nonfinite"."""
    bad = [k for k, v in record.items() if isinstance(v, float) and not math.isfinite(v)]
    if bad:
        record = {**{k: (None if k in bad else v) for k, v in record.items()}, "nonfinite": bad}
    return json.dumps(record, allow_nan=False)


# ------------------------------------------------------------------------------------ stops
class TrainingDiverged(RuntimeError):
    """The loss, gradient norm or learning rate became non-finite, or the loss passed
    ``max_loss``. ``step``: the step whose update was refused; ``checkpoint``: the checkpoint of
    the last finite state (step ``step - 1``), or None if it could not be written."""

    def __init__(self, message: str, step: int, checkpoint: Path | None) -> None:
        super().__init__(message)
        self.step, self.checkpoint = step, checkpoint


class TrainingInterrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM stopped training. ``signum``; ``step`` (the checkpoint's);
    ``checkpoint`` (None if no checkpoint exists yet); ``exit_code`` = 128 + signum."""

    def __init__(self, signum: int, step: int, checkpoint: Path | None) -> None:
        name = signal.Signals(signum).name
        where = (f"checkpoint at step {step} in {checkpoint}" if checkpoint is not None
                 else "no checkpoint was written")
        super().__init__(f"{name}: training stopped; {where}")
        self.signum, self.step, self.checkpoint = signum, step, checkpoint
        self.exit_code = 128 + signum


@contextmanager
def signal_handlers(handler):
    """Install ``handler`` for SIGINT and SIGTERM in the main thread of the main interpreter
    (elsewhere, e.g. process-pool threads, nothing is installed); restore the old ones after."""
    old = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                old[sig] = signal.signal(sig, handler)
            except (ValueError, OSError):  # not the main interpreter, or not allowed
                pass
    try:
        yield bool(old)
    finally:
        for sig, previous in old.items():
            signal.signal(sig, previous)


# ------------------------------------------------------------------------------------ trainer
@dataclass
class TrainResult:
    """What :func:`train` returns."""

    model: MaskedRNN
    config: TrainConfig
    steps: int  # optimizer steps done
    final: EvalTable | None  # evaluation at the last step
    best_metric: float  # best mean criterion metric seen
    steps_to_criterion: int | None  # first evaluated step with mean metric >= criterion
    out_dir: Path
    log_path: Path
    checkpoint_path: Path
    run_id: str = ""


def _to_saved(data: dict) -> dict:
    """Batches.state_dict with numpy arrays as torch tensors (loadable with weights_only)."""
    return {k: torch.from_numpy(np.asarray(v, np.int64)) if isinstance(v, np.ndarray) else v
            for k, v in data.items()}


def _from_saved(data: dict) -> dict:
    return {k: v.numpy() if isinstance(v, torch.Tensor) else v for k, v in data.items()}


class Trainer:
    """Owns a run folder (lock held from construction to the end of :meth:`run`), builds or
    resumes model, optimizer and data stream; :meth:`run` trains. See the module docstring."""

    def __init__(self, config: TrainConfig) -> None:
        self.config = cfg = config
        self.write_hook = None  # called inside checkpoint writes (tests simulate signals with it)
        self._signal: int | None = None
        self.replaced: list[str] = []  # files of an old run deleted by overwrite=True
        self.replaced_note = ""
        if cfg.out_dir is None:
            self.out_dir = _claim_fresh(Path("runs"), cfg.model)
        else:
            self.out_dir = runs.check_folder(cfg.out_dir)
            if cfg.resume and not (self.out_dir / runs.CKPT_FILE).is_file():
                raise CheckpointError(self.out_dir / runs.CKPT_FILE, "no such file")
            try:
                self.out_dir.mkdir(parents=True, exist_ok=True)
            except OSError as err:
                raise runs.RunFolderError(f"out_dir={str(cfg.out_dir)!r}: {err.strerror}") from None
        if cfg.num_threads:
            torch.set_num_threads(cfg.num_threads)
        self.log_path = self.out_dir / runs.LOG_FILE
        self.ckpt_path = self.out_dir / runs.CKPT_FILE
        self.best_path = self.out_dir / runs.BEST_FILE
        self.lock = runs.RunLock(self.out_dir).acquire()
        try:
            runs.clean_temporary(self.out_dir)
            if cfg.resume:
                self._resume()
            else:
                held = runs.contents(self.out_dir)
                if held and not cfg.overwrite:
                    raise runs.RunFolderError(_holds_message(self.out_dir, held))
                if held:
                    old = runs.status(self.out_dir)
                    self.replaced = runs.clear(self.out_dir)
                    what = (f"the run {old.run_id} at step {old.step}" if old.run_id
                            else "the files")
                    self.replaced_note = (f"overwrite: deleted {what} in {self.out_dir} "
                                          f"({', '.join(self.replaced)})")
                self._start()
            self.held_out = held_out_set(self.batches.streams, cfg.eval_trials, cfg.eval_seed)
        except BaseException:
            self.lock.release()
            raise
        self.final: EvalTable | None = None

    # -------------------------------------------------------------------------- build / resume
    def _make_optimizer(self) -> torch.optim.Adam:
        return torch.optim.Adam(self.model.parameters(), lr=self.config.lr,
                                weight_decay=self.config.weight_decay)

    def _make_batches(self) -> Batches:
        cfg = self.config
        task_kw = dict(convention=cfg.convention, dt=cfg.dt, dim_ring=cfg.dim_ring, sigma=cfg.sigma)
        schedule = cfg.schedule
        if schedule == RULE_PER_BATCH:  # one task per (trial-mode) batch, drawn from the seed
            schedule = RulePerBatch(TaskStreams(cfg.tasks, **task_kw).n, seed=cfg.seed)
        return Batches(
            cfg.tasks, batch_size=cfg.batch_size, seq_len=cfg.seq_len, mode=cfg.batch_mode,
            seed=cfg.seed, schedule=schedule, loss_weights=cfg.loss_weights,
            targets="regression" if cfg.loss == "lsq" else "class",
            paint_threads=cfg.paint_threads, paint_ahead=cfg.batches_paint_ahead(), **task_kw,
        )

    def _start(self) -> None:
        cfg = self.config
        torch.manual_seed(cfg.seed)
        self.batches = self._make_batches()
        mcfg = cfg.model_config(self.batches.ob_size, self.batches.n_actions)
        self.model = build_model(mcfg).to(cfg.device)
        self.optimizer = self._make_optimizer()
        self.step, self.best_metric = 0, -math.inf
        self.last_eval_step, self.last_ckpt_step, self.criterion_step = -1, -1, None
        self.loss_sum, self.loss_count = 0.0, 0
        identity = runs.new_identity(self._config_dict())
        self.run_id = identity["run_id"]
        runs.write_json(self.out_dir / runs.RUN_FILE, identity)
        self._write_config()
        self.log_path.write_text("")

    def _config_dict(self) -> dict:
        return {**self.config.to_dict(), "out_dir": str(self.out_dir)}

    def _write_config(self) -> None:
        from .config_io import field_help, write_toml

        values = {k: v for k, v in self.config.to_dict().items() if k not in INVOCATION_FIELDS}
        write_toml(self.out_dir / runs.CONFIG_FILE, values, comments=field_help(TrainConfig),
                   header=f"TrainConfig of run {self.run_id} ({self.out_dir}); re-create the run "
                          "with\n  modcog train --config config.toml --out NEW_FOLDER")

    def _resume(self) -> None:
        cfg = self.config
        ckpt = load_checkpoint(self.ckpt_path)
        identity = runs.read_identity(self.out_dir)
        if identity is None:
            raise runs.RunFolderError(
                f"{str(self.out_dir)!r} has a ckpt.pt but no run.json: not a run folder of this "
                "version; start a new run in another folder")
        if ckpt.get("run_id") != identity["run_id"]:
            raise runs.RunFolderError(
                f"{str(self.ckpt_path)!r} belongs to run {ckpt.get('run_id')!r}, not to this "
                f"folder's run {identity['run_id']!r} (copied from another run?); refusing to "
                "resume")
        self.run_id = identity["run_id"]
        saved = TrainConfig.from_dict(ckpt["train_config"])
        changed = {k: (getattr(saved, k), getattr(cfg, k)) for k in saved.to_dict()
                   if k not in RESUMABLE_CHANGES and getattr(saved, k) != getattr(cfg, k)}
        if changed:
            raise ValueError(
                f"resume from {str(self.ckpt_path)!r}: these settings differ from the checkpoint's "
                f"(saved, now): {changed}; only {sorted(RESUMABLE_CHANGES)} may change"
            )
        self.model = build_model(config_from_dict(ckpt["model_config"]), kernel=cfg.kernel)
        self.model.load_state_dict(ckpt["model"])
        self.model.to(cfg.device)
        self.optimizer = self._make_optimizer()
        self.optimizer.load_state_dict(ckpt["optimizer"])
        self.step = int(ckpt["iter_num"])
        self.batches = self._make_batches()
        try:
            self.batches.load_state_dict(_from_saved(ckpt["data"]))
        except (KeyError, ValueError, TypeError) as exc:
            raise CheckpointError(self.ckpt_path, f"data stream cannot be restored: {exc}") from exc
        if self.batches.batches_made != self.step:
            raise CheckpointError(
                self.ckpt_path,
                f"data stream has made {self.batches.batches_made} batches at step {self.step}",
            )
        torch.set_rng_state(ckpt["torch_rng_state"])
        if ckpt.get("cuda_rng_state") is not None and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(ckpt["cuda_rng_state"])
        np_state = dict(ckpt["numpy_rng_state"])
        np_state["state"] = {"key": np.asarray(np_state["state"]["key"], dtype=np.uint32),
                             "pos": np_state["state"]["pos"]}
        np.random.set_state(np_state)
        self.best_metric = float(ckpt["best_metric"])
        self.last_eval_step = int(ckpt["last_eval_step"])
        self.last_ckpt_step = self.step
        self.criterion_step = ckpt["criterion_step"]
        self.loss_sum, self.loss_count = float(ckpt["loss_sum"]), int(ckpt["loss_count"])
        identity["config"] = self._config_dict()
        runs.write_json(self.out_dir / runs.RUN_FILE, identity)
        self._write_config()
        self._truncate_log()

    def _truncate_log(self) -> None:
        """Keep the log lines up to the checkpoint's step, without its off-grid final lines
        (a crash after the checkpoint or a longer resumed run), atomically."""
        lines = []
        drop_final = self.config.steps > self.step  # the run goes on: its old end is no end
        if self.log_path.exists():
            for line in self.log_path.read_text().splitlines():
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a line cut by a crash
                limit = self.last_eval_step if rec.get("kind") == "eval" else self.step
                if rec.get("kind") == "diverged" or (drop_final and rec.get("final")):
                    continue
                if rec.get("step", math.inf) <= limit:
                    lines.append(line)
        tmp = self.log_path.with_name(f".{self.log_path.name}.tmp{os.getpid()}")
        tmp.write_text("".join(line + "\n" for line in lines))
        os.replace(tmp, self.log_path)

    # -------------------------------------------------------------------------- checkpoints
    def checkpoint(
        self, *, data: dict | None = None, torch_rng: torch.Tensor | None = None
    ) -> dict:
        """The checkpoint dict of the current state (see the module docstring)."""
        np_state = np.random.get_state(legacy=False)
        np_state["state"] = {"key": np_state["state"]["key"].tolist(),
                             "pos": int(np_state["state"]["pos"])}
        return {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "model_config": self.model.model_config.to_dict(),
            "rnn_config": self.model.config.to_dict(),
            "train_config": self.config.to_dict(),
            "run_id": self.run_id,
            "iter_num": self.step,
            "best_metric": self.best_metric,
            "last_eval_step": self.last_eval_step,
            "criterion_step": self.criterion_step,
            "loss_sum": self.loss_sum,
            "loss_count": self.loss_count,
            "torch_rng_state": torch.get_rng_state() if torch_rng is None else torch_rng,
            "cuda_rng_state": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
            "numpy_rng_state": np_state,
            "data": _to_saved(self._data_state() if data is None else data),
        }

    def save(self, state: str = "running", **checkpoint_kw) -> Path:
        """Write ckpt.pt of the current step and record ``state`` in run.json."""
        save_checkpoint(self.checkpoint(**checkpoint_kw), self.ckpt_path, hook=self.write_hook)
        self.last_ckpt_step = self.step
        runs.write_status(self.out_dir, state, self.step, self.config.steps)
        return self.ckpt_path

    def _log(self, record: dict) -> None:
        with open(self.log_path, "a") as f:
            f.write(json_record(record) + "\n")

    # -------------------------------------------------------------------------- evaluation
    def _on_eval_grid(self, step: int) -> bool:
        cfg = self.config
        if step == 0:
            return True
        if cfg.eval_interval:
            return step % cfg.eval_interval == 0
        return step == cfg.steps

    def evaluate(self, final: bool = False) -> EvalTable:
        """Evaluate on the held-out sets and log it; a grid evaluation (``final=False``) also
        tracks the best (best.pt) and the criterion step."""
        cfg = self.config
        table = evaluate(self.model, self.held_out, device=cfg.device, yang=cfg.loss == "lsq")
        value = table.mean[cfg.criterion_metric]
        met = value >= cfg.criterion
        self.last_eval_step = self.step
        record = {"kind": "eval", "step": self.step, "samples": self.step * cfg.batch_size,
                  **table.to_dict(), "criterion_met": bool(met)}
        self._log({**record, "final": True} if final else record)
        if not final:
            if met and self.criterion_step is None:
                self.criterion_step = self.step
            if value > self.best_metric:
                self.best_metric = value
                if cfg.save_best:
                    save_checkpoint(self.checkpoint(), self.best_path, hook=self.write_hook)
        self.model.train()
        return table

    # -------------------------------------------------------------------------- training
    _source: BatchSource | None = None  # made at the first batch; closed at the end of run()

    def _next_batch(self) -> tuple[torch.Tensor | None, ...]:
        """(x [T, B, D], labels [T, B], weights [T, B], decision [T, B]) on the device; for
        ``loss="lsq"`` (x, y [T, B, K], c_mask [T, B, K], valid [T, B] or None in stream mode);
        with ``batches_ahead()`` > 0 made ahead by a background thread or, with
        ``prefetch_process``, a worker process (agents.prefetch)."""
        if self._source is None:
            self._source = BatchSource(self.batches, self.config.batches_ahead(),
                                       limit=max(self.config.steps - self.step, 0),
                                       process=self.config.prefetch_process,
                                       convert=tensors_of)
        device = torch.device(self.config.device)
        if device.type == "cpu":
            return self._source.next()
        return tuple(None if a is None else a.to(device) for a in self._source.next())

    def _data_state(self, rewind: int = 0) -> dict:
        """The data stream's state after the batches consumed (``rewind=1``: before the last)."""
        if self._source is None:
            return self.batches.state_dict(rewind=rewind)
        return self._source.state_dict(rewind=rewind)

    def _on_signal(self, signum: int, frame: object) -> None:
        if self._signal is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt  # a second Ctrl-C: stop now
        self._signal = signum

    def run(self) -> TrainResult:
        """Train until ``config.steps``; evaluate, log and checkpoint on the way. Releases the
        folder's lock at the end (a Trainer runs once)."""
        state = "stopped"
        try:
            with signal_handlers(self._on_signal):
                try:
                    result = self._loop()
                except KeyboardInterrupt as exc:
                    if isinstance(exc, TrainingInterrupted):
                        state = "interrupted"
                        raise
                    state = "interrupted"  # a second Ctrl-C or an unhandled SIGINT
                    ckpt = self.ckpt_path if self.ckpt_path.is_file() else None
                    step = int(load_checkpoint(ckpt)["iter_num"]) if ckpt else 0
                    raise TrainingInterrupted(signal.SIGINT, step, ckpt) from None
                except TrainingDiverged:
                    state = "diverged"
                    raise
            state = "finished"
            return result
        finally:
            try:
                if state != "finished" and runs.read_identity(self.out_dir) is not None:
                    ckpt_step = self.last_ckpt_step if self.last_ckpt_step >= 0 else None
                    runs.write_status(self.out_dir, state, ckpt_step, self.config.steps)
            finally:
                if self._source is not None:
                    self._source.close()
                self.lock.release()

    def _loop(self) -> TrainResult:
        from tqdm.auto import tqdm

        cfg, model = self.config, self.model
        if cfg.progress:
            print(_banner(self))
        bar = tqdm(total=cfg.steps, initial=self.step, disable=not cfg.progress, unit="step")
        postfix: dict[str, str] = {}
        t0 = time.perf_counter()
        params = [p for p in model.parameters()]
        model.train()
        while True:
            if self._signal is not None:  # SIGINT / SIGTERM: checkpoint this step and stop
                if self.step != self.last_ckpt_step:
                    self.save("interrupted")
                bar.close()
                raise TrainingInterrupted(self._signal, self.step, self.ckpt_path)
            if self._on_eval_grid(self.step) and self.step != self.last_eval_step:
                bar.set_postfix_str("evaluating...", refresh=True)
                table = self.final = self.evaluate()
                postfix["acc"] = f"{table.mean[cfg.criterion_metric]:.3f}"
                bar.set_postfix(postfix)
            if self.step >= cfg.steps:
                if self.step != self.last_eval_step:  # off the grid: a final evaluation
                    bar.set_postfix_str("evaluating...", refresh=True)
                    self.final = self.evaluate(final=True)
                if self.step != self.last_ckpt_step:
                    self.save("finished")
                else:
                    runs.write_status(self.out_dir, "finished", self.step, cfg.steps)
                break
            at_ckpt = cfg.ckpt_interval and self.step % cfg.ckpt_interval == 0 and self.step > 0
            if at_ckpt and self.step != self.last_ckpt_step:
                self.save()

            lr = get_lr(self.step, cfg)
            for group in self.optimizer.param_groups:
                group["lr"] = lr
            rng_before = torch.get_rng_state()
            x, y, w, dec = self._next_batch()
            if cfg.input_noise:
                x = x + cfg.input_noise * torch.randn(x.shape, device=x.device, dtype=x.dtype)
            logits = model(x)
            loss = loss_fn(cfg.loss, logits, y, w, dec, cfg.label_smoothing)
            loss_value = loss.item()
            if not math.isfinite(loss_value) or (cfg.max_loss and loss_value > cfg.max_loss):
                self._diverged("loss", loss_value, None, rng_before, bar)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.grad_clip_value > 0:  # element-wise (Yang's clip_by_value), before the norm
                torch.nn.utils.clip_grad_value_(params, cfg.grad_clip_value)
            max_norm = cfg.grad_clip if cfg.grad_clip > 0 else math.inf
            grad_norm = float(torch.nn.utils.clip_grad_norm_(params, max_norm))
            if not math.isfinite(grad_norm):
                self._diverged("grad_norm", loss_value, grad_norm, rng_before, bar)
            if not math.isfinite(lr):
                self._diverged("lr", loss_value, grad_norm, rng_before, bar)
            self.optimizer.step()
            if not all(bool(p.isfinite().all()) for p in params):
                self._diverged("parameters", loss_value, grad_norm, None, bar)
            self.step += 1
            self.loss_sum, self.loss_count = self.loss_sum + loss_value, self.loss_count + 1

            on_grid = self.step % cfg.log_interval == 0
            if on_grid or self.step == cfg.steps:
                elapsed = time.perf_counter() - t0
                mean_loss = self.loss_sum / self.loss_count
                record = {"kind": "train", "step": self.step,
                          "samples": self.step * cfg.batch_size, "loss": mean_loss, "lr": lr,
                          "grad_norm": grad_norm, "ms_per_step": 1000 * elapsed / self.loss_count}
                self._log(record if on_grid else {**record, "final": True})
                postfix["loss"] = f"{mean_loss:.4f}"
                bar.set_postfix(postfix)
                if on_grid:
                    self.loss_sum, self.loss_count, t0 = 0.0, 0, time.perf_counter()
            bar.update(1)
        bar.close()
        if self.final is None:  # resumed at its end: evaluate without logging
            self.final = evaluate(self.model, self.held_out, device=cfg.device,
                                  yang=cfg.loss == "lsq")
        return TrainResult(
            model=model, config=cfg, steps=self.step, final=self.final,
            best_metric=self.best_metric, steps_to_criterion=self.criterion_step,
            out_dir=self.out_dir, log_path=self.log_path, checkpoint_path=self.ckpt_path,
            run_id=self.run_id,
        )

    def _diverged(self, what: str, loss: float, grad_norm: float | None,
                  rng_before: torch.Tensor | None, bar) -> None:
        """Log the divergence, checkpoint the last finite state and raise TrainingDiverged."""
        bar.close()
        step = self.step + 1  # the step whose update is refused
        values = {"loss": loss, "grad_norm": grad_norm, "lr": get_lr(self.step, self.config)}
        reason = {
            "loss": f"loss {loss:.4g}" + ("" if not math.isfinite(loss)
                                          else f" > max_loss {self.config.max_loss:g}"),
            "grad_norm": f"gradient norm {grad_norm}",
            "lr": f"learning rate {values['lr']}",
            "parameters": "parameters became non-finite",
        }[what]
        self._log({"kind": "diverged", "step": step, "reason": reason, **values})
        if rng_before is not None:  # the update was refused: the state is that of step - 1
            ckpt = self.save("diverged", data=self._data_state(rewind=1),
                             torch_rng=rng_before)
            where = f"the last finite state (step {self.step}) is in {ckpt}"
        else:  # the parameters are already broken: keep the last checkpoint
            ckpt = self.ckpt_path if self.ckpt_path.is_file() else None
            where = (f"the last checkpoint ({ckpt}) is kept" if ckpt
                     else "no finite checkpoint exists")
        raise TrainingDiverged(f"training diverged at step {step}: {reason}; {where}",
                               step, ckpt)


def _claim_fresh(root: Path, stem: str) -> Path:
    """Create and return a new folder ``root/<stem>-<UTC timestamp>[-k]``."""
    while True:
        path = runs.fresh_name(root, stem)
        try:
            path.mkdir(parents=True)
            return path
        except FileExistsError:
            continue
        except OSError as err:
            raise runs.RunFolderError(f"cannot create {str(path)!r}: {err.strerror}") from None


def _holds_message(folder: Path, held: list[str]) -> str:
    st = runs.status(folder)  # our own lock is held: take the recorded state
    state = ((runs.read_identity(folder) or {}).get("status") or {}).get("state", "stopped")
    state = "stopped" if state == "running" else state
    if st.run_id is None:
        names = ", ".join(held[:4]) + (", ..." if len(held) > 4 else "")
        what = f"holds files that are not a run ({names})"
    elif st.step is None:
        what = "holds a run with no checkpoint yet"
    else:
        what = f"holds a run at step {st.step} of {st.steps} ({state})"
    return (f"out_dir {str(folder)!r} {what}; continue it with --resume (resume=True), replace "
            "it with --overwrite (overwrite=True), or choose another folder")


def _banner(trainer: Trainer) -> str:
    """The start-up printout: run folder and model, then the config as a table (non-default
    values marked with *)."""
    cfg, model = trainer.config, trainer.model
    default = TrainConfig()
    cells = []
    for f in fields(cfg):
        value = getattr(cfg, f.name)
        if isinstance(value, list):
            text = ",".join(value)
            value = text if len(text) <= 20 else f"{len(value)} tasks: {text}"
        mark = "*" if getattr(cfg, f.name) != getattr(default, f.name) else " "
        cells.append(f"{f.name:<16}{mark}{str(value)[:20]:<20}")
    cols = 3
    rows = [" ".join(cells[i:i + cols]).rstrip() for i in range(0, len(cells), cols)]
    verb = "resuming at step " + str(trainer.step) if cfg.resume else "new run"
    head = (f"{verb} {trainer.run_id} in {trainer.out_dir}\n"
            f"model {model.model_config.name}: {model.num_parameters():,} effective parameters "
            f"({model.num_parameters(effective=False):,} stored); * = not the default")
    note = f"{trainer.replaced_note}\n" if trainer.replaced_note else ""
    return note + head + "\n" + "\n".join(rows)


def train(config: TrainConfig) -> TrainResult:
    """Train (or resume, with ``config.resume``) a model in its run folder; see :class:`Trainer`.

    Raises :class:`~agents.runs.RunFolderError` (folder holds a run, is busy, is not a folder),
    :class:`TrainingDiverged` and :class:`TrainingInterrupted` (SIGINT/SIGTERM).
    """
    return Trainer(config).run()
