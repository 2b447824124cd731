"""Training: one flat :class:`TrainConfig`, a :class:`Trainer` loop, checkpoints and a metrics log.

``train(TrainConfig(...))`` builds the model and the data stream, trains for ``steps`` optimizer
steps and returns a :class:`TrainResult`. ``out_dir`` receives:

- ``metrics.jsonl``: one JSON object per line. ``{"kind": "train", "step", "samples", "loss",
  "lr", "grad_norm", "ms_per_step"}`` every ``log_interval`` steps (loss averaged since the last
  line) and ``{"kind": "eval", "step", "samples", "mean": {metric: value}, "tasks": {task:
  {metric: value}}, "criterion_met"}`` every ``eval_interval`` steps (step 0 and the last step
  included). ``step`` counts optimizer steps done. :func:`steps_to_criterion` reads it.
- ``ckpt.pt``: the latest checkpoint (every ``ckpt_interval`` steps and at the end), and
  ``best.pt``: the checkpoint of the best evaluation so far (``save_best``).

The loss is cross-entropy per step, weighted by the batch's loss weights (``loss_weights``:
``"all"`` real steps, ``"decision"`` steps only, or Yang et al.'s ``"yang"`` weights) and divided
by the sum of the weights. Adam, global-norm gradient clipping (``grad_clip = 0`` disables), a
constant or warmup + cosine learning rate (:func:`get_lr`, a pure function of the step).

Resume (``resume=True``) continues bit-identically: N steps straight give the same parameters as
k steps, a stop, and N - k more. The checkpoint holds the model and optimizer states, the model,
RNN and train configs, ``iter_num``, the best metric, torch's and numpy's global RNG states and
the data stream. The data stream is stored as the pickled :class:`modcog_env.Batches` object
(its stream states *and* the partial trials left over between stream windows), plus its seed and
``batches_made`` for a consistency check: a pickle is exact and O(1), where replaying the stream
from its seed would cost as long as the data generation of the run so far. Loading therefore
unpickles; load only checkpoints you trust.

Checkpoint files are written atomically with a checksum and verified on load
(:mod:`agents.checkpoints`); a truncated, corrupted or missing file raises
:class:`~agents.checkpoints.CheckpointError` naming it: training never silently starts over.
"""

from __future__ import annotations

import json
import math
import os
import pickle
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from modcog_env import Batches

from .checkpoints import (  # noqa: F401  (re-exported: agents.training API)
    CheckpointError,
    load_checkpoint,
    load_model,
    save_checkpoint,
)
from .evaluation import METRICS, EvalTable, evaluate, held_out_set
from .models import MODEL_NAMES, ModelConfig, build_model, config_from_dict, model_config
from .rnn import MaskedRNN


@dataclass
class TrainConfig:
    """Every knob of a training run, with its default. ``to_dict``/``from_dict``/``to_json``."""

    # ---- model (agents.models)
    model: str = "lm-rnn"  # "lm-rnn" | "dense" | "random-sparse" | "autapse"
    hidden_size: int = 256  # recurrent units (a perfect square for geometry="sheet")
    geometry: str = "sheet"  # lm-rnn, and the mask random-sparse matches: "sheet" or "ring"
    radius: float | None = 3.0  # lm-rnn/random-sparse: connection radius in grid units (ring: k)
    density: float | None = None  # lm-rnn/random-sparse: target density (set radius=None)
    periodic: bool = True  # sheet on a torus
    mask_seed: int = 0  # random-sparse: seed of the mask
    tau: float = 100.0  # ms; alpha = dt / tau
    activation: str = "relu"  # "relu" | "tanh" | "softplus" | "sigmoid"
    noise_std: float = 0.0  # recurrent noise during training
    rec_gain: float | None = None  # recurrent init gain; None: the model's (1, autapse 0.3)
    # ---- tasks and batches (modcog_env.Batches)
    tasks: str | list[str] = "20-cog"  # collection key, one task name or a list of names
    convention: str = "modcog"  # "modcog" | "reference"
    dt: float = 100.0  # ms per step
    dim_ring: int = 16  # ring directions
    sigma: float = 1.0  # input noise scale of the tasks
    schedule: str = "random-no-repeat"  # which task makes each trial of a stream
    batch_mode: str = "stream"  # "stream" (windows of back-to-back trials) | "trial" (aligned)
    batch_size: int = 64  # streams per batch
    seq_len: int = 350  # steps per stream window (stream mode)
    loss_weights: str = "all"  # "all" | "decision" | "yang"
    seed: int = 0  # torch init/noise and the training streams
    # ---- optimization
    steps: int = 10_000  # optimizer steps
    lr: float = 1e-3  # peak learning rate (Adam)
    lr_schedule: str = "constant"  # "constant" | "cosine" (after warmup, down to min_lr)
    warmup_steps: int = 0  # linear warmup steps
    lr_decay_steps: int = 0  # cosine reaches min_lr at this step; 0 means `steps`
    min_lr: float = 1e-4  # floor of the cosine schedule
    weight_decay: float = 0.0  # Adam (L2) weight decay
    grad_clip: float = 1.0  # max global gradient norm; 0 disables
    # ---- evaluation, logging, checkpoints
    eval_interval: int = 500  # steps between evaluations (0: only at the start and the end)
    eval_trials: int = 200  # held-out trials per task
    eval_seed: int = 0  # seed of the held-out sets (same for every model)
    criterion: float = 0.9  # steps-to-criterion threshold on the mean of criterion_metric
    criterion_metric: str = "decision_accuracy"  # one of agents.evaluation.METRICS
    log_interval: int = 50  # steps between train log lines
    ckpt_interval: int = 1000  # steps between checkpoints (0: only at the end)
    save_best: bool = True  # also write best.pt when the criterion metric improves
    out_dir: str = "runs/default"  # metrics.jsonl, ckpt.pt, best.pt
    resume: bool = False  # continue from out_dir/ckpt.pt (an error if it is missing)
    progress: bool = True  # tqdm bar and the start-up printout
    num_threads: int = 1  # torch.set_num_threads; 0 leaves torch's default
    device: str = "cpu"  # torch device of the model

    def __post_init__(self) -> None:
        if isinstance(self.tasks, tuple):
            self.tasks = list(self.tasks)
        choices = {
            "model": MODEL_NAMES,
            "geometry": ("sheet", "ring"),
            "batch_mode": ("stream", "trial"),
            "loss_weights": ("all", "decision", "yang"),
            "lr_schedule": ("constant", "cosine"),
            "criterion_metric": METRICS,
        }
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name}={getattr(self, name)!r} is not one of {allowed}")
        for name in ("hidden_size", "batch_size", "seq_len", "eval_trials", "log_interval"):
            _check_int(getattr(self, name), name, 1)
        for name in ("steps", "warmup_steps", "lr_decay_steps", "eval_interval", "ckpt_interval",
                     "num_threads"):
            _check_int(getattr(self, name), name, 0)
        for name in ("lr", "min_lr", "weight_decay", "grad_clip", "noise_std", "rec_gain"):
            v = getattr(self, name)
            if name == "rec_gain" and v is None:
                continue
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not v >= 0:
                raise ValueError(f"{name}={v!r} must be a number >= 0")

    def model_config(self, input_size: int, output_size: int) -> ModelConfig:
        """The named model's config for tasks with these observation and action sizes."""
        common = dict(input_size=input_size, output_size=output_size,
                      hidden_size=self.hidden_size, dt=self.dt, tau=self.tau,
                      activation=self.activation, noise_std=self.noise_std)
        if self.rec_gain is not None:
            common["rec_gain"] = self.rec_gain
        local = dict(geometry=self.geometry, radius=self.radius, density=self.density,
                     periodic=self.periodic)
        if self.model == "lm-rnn":
            return model_config("lm-rnn", **common, **local)
        if self.model == "random-sparse":
            return model_config("random-sparse", **common, **local, mask_seed=self.mask_seed)
        return model_config(self.model, **common)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> TrainConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown TrainConfig keys {unknown}; known: {sorted(known)}")
        return cls(**d)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> TrainConfig:
        return cls.from_dict(json.loads(text))


# Knobs that may change when a run is resumed: they do not alter the training trajectory.
RESUMABLE_CHANGES = frozenset({
    "steps", "eval_interval", "eval_trials", "eval_seed", "criterion", "criterion_metric",
    "log_interval", "ckpt_interval", "save_best", "out_dir", "resume", "progress", "num_threads",
    "device",
})


def _check_int(v: object, name: str, low: int) -> None:
    if isinstance(v, bool) or not isinstance(v, int) or v < low:
        raise ValueError(f"{name}={v!r} must be an int >= {low}")


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


def weighted_cross_entropy(
    logits: torch.Tensor, labels: torch.Tensor, weights: torch.Tensor
) -> torch.Tensor:
    """sum(w * CE) / sum(w) over every step of logits [..., A], labels [...], weights [...]."""
    ce = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1),
                         reduction="none")
    w = weights.reshape(-1).to(ce.dtype)
    return (ce * w).sum() / w.sum().clamp(min=1e-12)


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

    None if never reached. Resolution is ``eval_interval``.
    """
    lines = read_log(log) if isinstance(log, (str, os.PathLike)) else log
    for line in lines:
        if line.get("kind") != "eval":
            continue
        value = line["mean"][metric] if task is None else line["tasks"][task][metric]
        if value >= threshold:
            return int(line["step"])
    return None


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


class Trainer:
    """Builds (or resumes) model, optimizer and data stream; :meth:`run` trains. See module doc."""

    def __init__(self, config: TrainConfig) -> None:
        self.config = cfg = config
        if cfg.num_threads:
            torch.set_num_threads(cfg.num_threads)
        self.out_dir = Path(cfg.out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = self.out_dir / "metrics.jsonl"
        self.ckpt_path = self.out_dir / "ckpt.pt"
        self.best_path = self.out_dir / "best.pt"
        if cfg.resume:
            self._resume()
        else:
            self._start()
        self.held_out = held_out_set(self.batches.streams, cfg.eval_trials, cfg.eval_seed)
        self.final: EvalTable | None = None

    def _make_optimizer(self) -> torch.optim.Adam:
        return torch.optim.Adam(self.model.parameters(), lr=self.config.lr,
                                weight_decay=self.config.weight_decay)

    def _start(self) -> None:
        cfg = self.config
        torch.manual_seed(cfg.seed)
        self.batches = Batches(
            cfg.tasks, batch_size=cfg.batch_size, seq_len=cfg.seq_len, mode=cfg.batch_mode,
            seed=cfg.seed, schedule=cfg.schedule, convention=cfg.convention, dt=cfg.dt,
            dim_ring=cfg.dim_ring, sigma=cfg.sigma, loss_weights=cfg.loss_weights,
            with_mask=True, batch_first=False, output="torch",
        )
        mcfg = cfg.model_config(self.batches.ob_size, self.batches.n_actions)
        self.model = build_model(mcfg).to(cfg.device)
        self.optimizer = self._make_optimizer()
        self.step, self.best_metric = 0, -math.inf
        self.last_eval_step, self.last_ckpt_step, self.criterion_step = -1, -1, None
        self.log_path.write_text("")

    def _resume(self) -> None:
        cfg = self.config
        ckpt = load_checkpoint(self.ckpt_path)
        saved = TrainConfig.from_dict(ckpt["train_config"])
        changed = {k: (getattr(saved, k), getattr(cfg, k)) for k in saved.to_dict()
                   if k not in RESUMABLE_CHANGES and getattr(saved, k) != getattr(cfg, k)}
        if changed:
            raise ValueError(
                f"resume from {str(self.ckpt_path)!r}: these settings differ from the checkpoint's "
                f"(saved, now): {changed}; only {sorted(RESUMABLE_CHANGES)} may change"
            )
        self.model = build_model(config_from_dict(ckpt["model_config"]))
        self.model.load_state_dict(ckpt["model"])
        self.model.to(cfg.device)
        self.optimizer = self._make_optimizer()
        self.optimizer.load_state_dict(ckpt["optimizer"])
        data = ckpt["data"]
        try:
            self.batches = pickle.loads(data["batches"])
        except Exception as exc:
            raise CheckpointError(self.ckpt_path, f"data stream cannot be restored: {exc}") from exc
        self.step = int(ckpt["iter_num"])
        if self.batches.batches_made != self.step or self.batches.seed != data["seed"]:
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
        self._truncate_log()

    def _truncate_log(self) -> None:
        """Drop log lines written after the checkpoint (a crash after it), atomically."""
        lines = []
        if self.log_path.exists():
            for line in self.log_path.read_text().splitlines():
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a line cut by a crash
                limit = self.last_eval_step if rec.get("kind") == "eval" else self.step
                if rec.get("step", math.inf) <= limit:
                    lines.append(line)
        tmp = self.log_path.with_name(f".{self.log_path.name}.tmp{os.getpid()}")
        tmp.write_text("".join(line + "\n" for line in lines))
        os.replace(tmp, self.log_path)

    def checkpoint(self) -> dict:
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
            "iter_num": self.step,
            "best_metric": self.best_metric,
            "last_eval_step": self.last_eval_step,
            "criterion_step": self.criterion_step,
            "torch_rng_state": torch.get_rng_state(),
            "cuda_rng_state": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
            "numpy_rng_state": np_state,
            "data": {"seed": self.batches.seed, "batches_made": self.batches.batches_made,
                     "batches": pickle.dumps(self.batches)},
        }

    def _log(self, record: dict) -> None:
        with open(self.log_path, "a") as f:
            f.write(json.dumps(record) + "\n")

    def evaluate(self) -> EvalTable:
        """Evaluate on the held-out sets, log it, track the best and the criterion step."""
        cfg = self.config
        table = evaluate(self.model, self.held_out, device=cfg.device)
        value = table.mean[cfg.criterion_metric]
        met = value >= cfg.criterion
        if met and self.criterion_step is None:
            self.criterion_step = self.step
        self.last_eval_step = self.step
        self._log({"kind": "eval", "step": self.step, "samples": self.step * cfg.batch_size,
                   **table.to_dict(), "criterion_met": bool(met)})
        if value > self.best_metric:
            self.best_metric = value
            if cfg.save_best:
                save_checkpoint(self.checkpoint(), self.best_path)
        return table

    def run(self) -> TrainResult:
        """Train until ``config.steps``; evaluate, log and checkpoint on the way."""
        from tqdm.auto import tqdm

        cfg, model = self.config, self.model
        if cfg.progress:
            print(f"TrainConfig: {cfg.to_json()}")
            print(f"model {model.model_config.name}: {model.num_parameters():,} effective "
                  f"parameters ({model.num_parameters(effective=False):,} stored)")
        bar = tqdm(total=cfg.steps, initial=self.step, disable=not cfg.progress, unit="step")
        loss_sum, loss_count, t0 = 0.0, 0, time.perf_counter()
        model.train()
        while True:
            # evaluation at step 0, every eval_interval steps and at the end (once per step)
            at_eval = cfg.eval_interval and self.step % cfg.eval_interval == 0
            if (at_eval or self.step in (0, cfg.steps)) and self.step != self.last_eval_step:
                self.final = self.evaluate()
            at_ckpt = cfg.ckpt_interval and self.step % cfg.ckpt_interval == 0 and self.step > 0
            if (at_ckpt or self.step == cfg.steps) and self.step != self.last_ckpt_step:
                save_checkpoint(self.checkpoint(), self.ckpt_path)
                self.last_ckpt_step = self.step
            if self.step >= cfg.steps:
                break

            lr = get_lr(self.step, cfg)
            for group in self.optimizer.param_groups:
                group["lr"] = lr
            x, y, w = (t.to(cfg.device) for t in next(self.batches))
            logits = model(x)
            loss = weighted_cross_entropy(logits, y, w)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            grad_norm = (
                float(torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip))
                if cfg.grad_clip > 0 else None
            )
            self.optimizer.step()
            self.step += 1
            loss_sum, loss_count = loss_sum + loss.item(), loss_count + 1

            if self.step % cfg.log_interval == 0 or self.step == cfg.steps:
                elapsed = time.perf_counter() - t0
                mean_loss = loss_sum / loss_count
                self._log({"kind": "train", "step": self.step,
                           "samples": self.step * cfg.batch_size, "loss": mean_loss, "lr": lr,
                           "grad_norm": grad_norm, "ms_per_step": 1000 * elapsed / loss_count})
                bar.set_postfix(loss=f"{mean_loss:.4f}")
                loss_sum, loss_count, t0 = 0.0, 0, time.perf_counter()
            bar.update(1)
        bar.close()
        if self.final is None or self.last_eval_step != self.step:
            self.final = evaluate(self.model, self.held_out, device=cfg.device)
        return TrainResult(
            model=model, config=cfg, steps=self.step, final=self.final,
            best_metric=self.best_metric, steps_to_criterion=self.criterion_step,
            out_dir=self.out_dir, log_path=self.log_path, checkpoint_path=self.ckpt_path,
        )


def train(config: TrainConfig) -> TrainResult:
    """Train (or resume, with ``config.resume``) a model; see :class:`Trainer`."""
    return Trainer(config).run()
