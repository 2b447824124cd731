"""TrainConfig: every knob of a training run in one flat dataclass (no torch at import).

The trailing comment of each field is its help text: ``modcog train --help`` (generated from the
fields by :mod:`agents.config_io`) and ``help(TrainConfig)`` (the field list appended to the class
docstring) both read it, so a new field is documented and reachable from the command line by
adding one commented line. Values are validated in ``__post_init__`` (ValueError naming the
field, the value and what is allowed).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, fields
from typing import TYPE_CHECKING

from modcog_env.batches import DEFAULT_LOSS_WEIGHTS, LOSS_WEIGHTS

from .evaluation import ALL_METRICS, YANG_METRIC
from .yang2019 import RULE_PER_BATCH

if TYPE_CHECKING:
    from .models import ModelConfig

LOSSES = ("ce", "eg", "lsq")  # agents.losses
# int fields and their lower bounds (validation here, argparse types in agents.cli)
POSITIVE_INTS = ("hidden_size", "batch_size", "seq_len", "eval_trials", "log_interval", "dim_ring",
                 "paint_threads")
NONNEGATIVE_INTS = ("steps", "warmup_steps", "lr_decay_steps", "eval_interval", "ckpt_interval",
                    "num_threads", "seed", "eval_seed", "mask_seed")

@dataclass
class TrainConfig:
    """Every knob of a training run, with its default; the comment of each field below is its
    help text (``modcog train --help``, the field list appended to this docstring).
    ``to_dict``/``from_dict``/``to_json``; flat on purpose (nanoGPT style)."""

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
    rec_init: str = "normal"  # "normal" (N(0, gain^2/fan_in)) | "orthogonal" (gain * Q; dense)
    kernel: str = "auto"  # recurrence kernel (agents.kernels); execution only, not in checkpoints
    # ---- tasks and batches (modcog_env.Batches)
    tasks: str | list[str] = "20-cog"  # collection key, one task name or a list of names
    convention: str = "modcog"  # "modcog" | "reference"
    dt: float = 100.0  # ms per step
    dim_ring: int = 16  # ring directions
    sigma: float = 1.0  # input noise scale of the tasks
    schedule: str = "random-no-repeat"  # task of each trial; "rule-per-batch": one per batch
    batch_mode: str = "stream"  # "stream" (windows of back-to-back trials) | "trial" (aligned)
    batch_size: int = 64  # streams per batch
    seq_len: int = 350  # steps per stream window (stream mode)
    loss_weights: str = DEFAULT_LOSS_WEIGHTS  # "all" | "decision" | "yang" (docs/streams.md)
    seed: int = 0  # torch init/noise and the training streams
    # ---- loss
    loss: str = "ce"  # "ce": weighted CE | "eg": fixation MSE + CE | "lsq": Yang's sigmoid MSE
    label_smoothing: float = 0.0  # label smoothing of the cross-entropy (eg recipe: 0.1)
    input_noise: float = 0.0  # std of Gaussian noise added to the network input (training only)
    # ---- optimization
    steps: int = 10_000  # optimizer steps
    lr: float = 1e-3  # peak learning rate (Adam)
    lr_schedule: str = "constant"  # "constant" | "cosine" (after warmup, down to min_lr)
    warmup_steps: int = 0  # linear warmup steps
    lr_decay_steps: int = 0  # cosine reaches min_lr at this step; 0 means `steps`
    min_lr: float = 1e-4  # floor of the cosine schedule
    weight_decay: float = 0.0  # Adam (L2) weight decay
    grad_clip: float = 1.0  # max global gradient norm; 0 disables
    grad_clip_value: float = 0.0  # clip every gradient element to [-v, v] first; 0 disables
    max_loss: float = 0.0  # divergence: also stop when a training loss exceeds this; 0: no bound
    # ---- evaluation, logging, checkpoints
    eval_interval: int = 500  # steps between evaluations (0: only at the start and the end)
    eval_trials: int = 200  # held-out trials per task
    eval_seed: int = 0  # seed of the held-out sets (same for every model)
    criterion: float = 0.9  # steps-to-criterion threshold on the mean of criterion_metric
    criterion_metric: str = "decision_accuracy"  # agents.evaluation.ALL_METRICS (yang_perf: lsq)
    log_interval: int = 50  # steps between train log lines
    ckpt_interval: int = 1000  # steps between checkpoints (0: only at the end)
    save_best: bool = True  # also write best.pt when the criterion metric improves
    out_dir: str | None = None  # run folder; None: a fresh runs/<model>-<UTC timestamp>
    resume: bool = False  # continue the run in out_dir from its ckpt.pt
    overwrite: bool = False  # delete the run already in out_dir and start a new one
    progress: bool = True  # tqdm bar and the start-up printout
    num_threads: int = 1  # torch.set_num_threads; 0 leaves torch's default
    device: str = "cpu"  # torch device of the model
    # batches made ahead while the step runs; None: 24 for a model on the CPU, 8 on another
    # device (batches_ahead, below)
    prefetch_batches: int | None = None  # batches made ahead (0: synchronous; None: 24 CPU, 8 GPU)
    prefetch_process: bool = False  # make them in a worker process, not a thread (shared memory)
    # >1 pays where the training step leaves CPU cores idle (a GPU step); never changes a batch
    paint_threads: int = 1  # threads that paint each refill of stream batches (compiled painter)
    # refills of stream batches painted ahead on helper threads; None: by the data path (below)
    paint_ahead: int | None = None  # Batches(paint_ahead=...): 2, or 1 when synchronous (below)

    def __post_init__(self) -> None:
        if isinstance(self.tasks, tuple):
            self.tasks = list(self.tasks)
        from .models import MODEL_NAMES  # torch: only when a config is made, not for --help

        for name, allowed in {"model": MODEL_NAMES, **CHOICES}.items():
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name}={getattr(self, name)!r} is not one of {allowed}")
        for name in POSITIVE_INTS:
            _check_int(getattr(self, name), name, 1)
        for name in NONNEGATIVE_INTS:
            _check_int(getattr(self, name), name, 0)
        for name in ("lr", "min_lr", "weight_decay", "grad_clip", "grad_clip_value",
                     "noise_std", "rec_gain",
                     "input_noise", "label_smoothing", "max_loss", "sigma"):
            v = getattr(self, name)
            if name == "rec_gain" and v is None:
                continue
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not v >= 0:
                raise ValueError(f"{name}={v!r} must be a number >= 0")
        if self.label_smoothing > 1:
            raise ValueError(f"label_smoothing={self.label_smoothing!r} must be in [0, 1]")
        for name in ("dt", "tau"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 < v < math.inf:
                raise ValueError(f"{name}={v!r} must be a finite number > 0")
        if self.out_dir is not None and not str(self.out_dir).strip():
            raise ValueError(f"out_dir={self.out_dir!r}: give a folder name (or None: a fresh "
                             "runs/<model>-<timestamp>)")
        for name in ("paint_ahead", "prefetch_batches"):
            if getattr(self, name) is not None:
                _check_int(getattr(self, name), name, 0)
        if not isinstance(self.prefetch_process, bool):
            raise ValueError(f"prefetch_process={self.prefetch_process!r} must be True or False")
        if self.prefetch_process and not self.batches_ahead():
            raise ValueError("prefetch_process=True needs prefetch_batches >= 1 (0 makes every "
                             "batch in the training loop)")
        if self.resume and self.overwrite:
            raise ValueError("resume=True and overwrite=True exclude each other")
        self._check_yang()

    def batches_ahead(self) -> int:
        """Batches the background producer makes ahead (``agents.prefetch.BatchSource``):
        ``prefetch_batches``, or when None, 24 (three refill cycles of ``Batches(prefetch=8)``)
        for a model on the CPU and 8 (one cycle) on another device. Measured by
        ``benchmarks/bench_prefetch.py`` (docs/performance.md, sixth pass): next to a 5 ms torch
        step, 24 gave median waits of 1.1-2.1% against 2.1-5.8% with 8; next to a sleeping
        step (a stand-in for a GPU), 8 gave 1.6-2.1% against 2.4-3.0% with 24."""
        if self.prefetch_batches is not None:
            return self.prefetch_batches
        return 24 if str(self.device).split(":")[0] == "cpu" else 8

    def batches_paint_ahead(self) -> int:
        """``Batches(paint_ahead=...)`` of the trainer's data: ``paint_ahead``, or when None, 2
        where a background producer makes the batches and 1 in the synchronous path. Measured
        by ``benchmarks/bench_prefetch.py`` (docs/performance.md, sixth pass): with the thread
        producer at the default depths, 2 gave median waits of 1.1-2.1% next to a 5 ms torch
        step (24 ahead) and 1.6-2.1% next to a sleeping one (8 ahead), against 5.2% and
        5.0-14.3% with 1."""
        if self.paint_ahead is not None:
            return self.paint_ahead
        return 2 if self.batches_ahead() else 1

    def _check_yang(self) -> None:
        """The combinations Yang's recipe needs: lsq on yang2019 trials, and so on."""
        if self.loss == "lsq" and self.convention != "yang2019":
            raise ValueError(f"loss='lsq' needs convention='yang2019' (its trials carry the "
                             f"regression targets), not {self.convention!r}")
        if self.criterion_metric == YANG_METRIC and self.loss != "lsq":
            raise ValueError(f"criterion_metric={YANG_METRIC!r} needs loss='lsq' (Yang's measure "
                             f"reads sigmoid outputs), not loss={self.loss!r}")
        if self.schedule == RULE_PER_BATCH and self.batch_mode != "trial":
            raise ValueError(f"schedule={RULE_PER_BATCH!r} needs batch_mode='trial' (stream "
                             f"windows cut across trials), not {self.batch_mode!r}")
        if self.rec_init == "orthogonal" and self.model != "dense":
            raise ValueError(f"rec_init='orthogonal' needs model='dense', not {self.model!r}")

    def model_config(self, input_size: int, output_size: int) -> ModelConfig:
        """The named model's config for tasks with these observation and action sizes."""
        from .models import model_config

        common = dict(input_size=input_size, output_size=output_size,
                      hidden_size=self.hidden_size, dt=self.dt, tau=self.tau,
                      activation=self.activation, noise_std=self.noise_std,
                      rec_init=self.rec_init, kernel=self.kernel)
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


# Fields with a fixed set of values (the CLI offers them as choices).
CHOICES = {
    "geometry": ("sheet", "ring"),
    "batch_mode": ("stream", "trial"),
    "loss_weights": LOSS_WEIGHTS,
    "loss": LOSSES,
    "lr_schedule": ("constant", "cosine"),
    "criterion_metric": ALL_METRICS,
    "rec_init": ("normal", "orthogonal"),  # agents.rnn.REC_INITS (torch-free copy)
    "kernel": ("auto", "dense", "sparse", "reference"),  # agents.kernels.KERNELS (torch-free copy)
}

# Fields of the invocation, not of the run: not written to a run folder's config.toml.
INVOCATION_FIELDS = ("out_dir", "resume", "overwrite", "progress")

# Knobs that may change when a run is resumed: they do not alter the training trajectory.
RESUMABLE_CHANGES = frozenset({
    "steps", "eval_interval", "eval_trials", "eval_seed", "criterion", "criterion_metric",
    "log_interval", "ckpt_interval", "save_best", "out_dir", "resume", "overwrite", "progress",
    "num_threads", "device", "max_loss", "kernel", "prefetch_batches", "prefetch_process",
    "paint_threads", "paint_ahead",
})


def _check_int(v: object, name: str, low: int) -> None:
    if isinstance(v, bool) or not isinstance(v, int) or v < low:
        raise ValueError(f"{name}={v!r} must be an int >= {low}")


def _document_fields(cls: type) -> None:
    """Append "name (type, default): comment" for every field to ``cls.__doc__``."""
    from .config_io import field_help

    helps = field_help(cls)
    lines = [f"    {f.name} ({f.type}, default {f.default!r}): {helps.get(f.name, '')}"
             for f in fields(cls)]
    cls.__doc__ = (cls.__doc__ or "") + "\n\n    Fields:\n\n" + "\n".join(lines) + "\n"


_document_fields(TrainConfig)
