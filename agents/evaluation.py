"""Per-task accuracies of a model on fixed held-out trial sets (TASKS.md §7.1).

Held-out set: for each task of a collection, trials ``0 .. n_trials - 1`` of the stream seeded
``stream_seed(seed, HELD_OUT_STREAM)``, sampled by the task itself (``task.sample``). Training rows
of :class:`modcog_env.Batches` are streams ``0 .. B - 1`` of the training seed, so a held-out set
never repeats a training trial, and it is the same for every model evaluated with the same
``(tasks, n_trials, seed)`` and task settings. With several tasks the rule one-hot is appended in
collection order (channel ``base + i`` is 1 on the real steps of task ``i``), as in the training
streams (TASKS.md §6).

Metrics (argmax of the logits at each step against the label; padding never counts):

- ``decision_accuracy``: correct decision steps / decision steps, pooled over a task's trials;
- ``last_step_accuracy``: fraction of trials whose last real step is correct (NeuroGym's);
- ``trial_correct``: fraction of trials correct on every decision step and answering 0 (fixate)
  on every step before the decision period.

Each is reported per task and as the unweighted mean over tasks. :func:`score` computes them
from ``(logits, TrialBatch)`` alone; :func:`evaluate` runs a model on a held-out set.

Yang et al. (2019)'s performance measure (``convention="yang2019"``, regression outputs) is
:func:`yang_perf`: at the last step of a trial, a trial that must fixate (``y_loc`` < 0) is
correct when the fixation output is > 0.5; any other trial is correct when the fixation output is
<= 0.5 and the population-vector angle of the ring outputs (:func:`popvec`) lies within
0.2 pi of ``y_loc``. :func:`yang_score` averages it per task of a TrialBatch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from modcog_env import TaskStreams, TrialBatch, stream_seed

HELD_OUT_STREAM = 2**31 - 1  # stream number of held-out sets (training rows are 0 .. B - 1)
METRICS = ("decision_accuracy", "last_step_accuracy", "trial_correct")
YANG_METRIC = "yang_perf"  # evaluate(..., yang=True): Yang's measure on sigmoid outputs
ALL_METRICS = METRICS + (YANG_METRIC,)


# ------------------------------------------------------------------------------------ metrics
def trial_scores(logits: object, batch: TrialBatch) -> dict[str, np.ndarray]:
    """Per-trial counts from logits ``[B, T, A]`` (numpy or torch, aligned with ``batch``).

    Returns int64 ``decision_steps`` and ``decision_correct`` and bool ``last_correct`` and
    ``trial_correct``, each ``[B]``.
    """
    logits = _to_numpy(logits)
    b, t = batch.label.shape
    if logits.ndim != 3 or logits.shape[:2] != (b, t):
        raise ValueError(
            f"logits must be [B, T, A] = [{b}, {t}, A] like the batch, got {logits.shape}"
        )
    pred = logits.argmax(axis=-1)
    correct = pred == batch.label
    decision = batch.decision & batch.valid
    steps = np.arange(t)[None, :]
    pre = batch.valid & (steps < batch.start["decision"][:, None]) & ~decision
    rows = np.arange(b)
    last = np.clip(batch.length - 1, 0, max(t - 1, 0))
    return {
        "decision_steps": decision.sum(axis=1),
        "decision_correct": (correct & decision).sum(axis=1),
        "last_correct": correct[rows, last] & (batch.length > 0),
        "trial_correct": (correct | ~decision).all(axis=1) & ((pred == 0) | ~pre).all(axis=1),
    }


@dataclass
class EvalTable:
    """Metrics per task (rows in collection order) and their mean over tasks."""

    per_task: dict[str, dict[str, float]]
    mean: dict[str, float]
    n_trials: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"mean": dict(self.mean), "tasks": {k: dict(v) for k, v in self.per_task.items()},
                "n_trials": dict(self.n_trials)}

    def __str__(self) -> str:
        width = max([len("mean")] + [len(k) for k in self.per_task])
        metrics = [m for m in ALL_METRICS if m in self.mean]
        head = f"{'task':<{width}}  " + "  ".join(f"{m:>18}" for m in metrics) + "  trials"
        lines = [head]
        for name, row in self.per_task.items():
            vals = "  ".join(f"{row[m]:>18.4f}" for m in metrics)
            lines.append(f"{name:<{width}}  {vals}  {self.n_trials.get(name, 0):>6}")
        vals = "  ".join(f"{self.mean[m]:>18.4f}" for m in metrics)
        lines.append(f"{'mean':<{width}}  {vals}")
        return "\n".join(lines)


def summarize(
    scores: dict[str, np.ndarray], task: np.ndarray, task_names: Sequence[str]
) -> EvalTable:
    """Pool per-trial scores by task (``task[i]`` indexes ``task_names``) into an EvalTable.

    Tasks without trials are left out of the table and of the mean. A ``"yang_perf"`` entry
    (float [B], :func:`yang_perf`) adds that metric: its mean over a task's trials.
    """
    k = len(task_names)
    count = np.bincount(task, minlength=k)

    def by_task(x: np.ndarray) -> np.ndarray:
        return np.bincount(task, weights=x.astype(np.float64), minlength=k)

    dec_steps, dec_ok = by_task(scores["decision_steps"]), by_task(scores["decision_correct"])
    last_ok, trial_ok = by_task(scores["last_correct"]), by_task(scores["trial_correct"])
    per_task, n_trials = {}, {}
    for i, name in enumerate(task_names):
        if count[i] == 0:
            continue
        per_task[name] = {
            "decision_accuracy": float(dec_ok[i] / dec_steps[i]) if dec_steps[i] else float("nan"),
            "last_step_accuracy": float(last_ok[i] / count[i]),
            "trial_correct": float(trial_ok[i] / count[i]),
        }
        if YANG_METRIC in scores:
            per_task[name][YANG_METRIC] = float(by_task(scores[YANG_METRIC])[i] / count[i])
        n_trials[name] = int(count[i])
    metrics = ALL_METRICS if YANG_METRIC in scores else METRICS
    mean = {m: float(np.mean([row[m] for row in per_task.values()])) if per_task else float("nan")
            for m in metrics}
    return EvalTable(per_task=per_task, mean=mean, n_trials=n_trials)


def score(logits: object, batch: TrialBatch) -> EvalTable:
    """Metrics of logits ``[B, T, A]`` on a trial-aligned batch, per task and averaged."""
    n = int(batch.task.max(initial=-1)) + 1
    names = batch.task_names or tuple(f"task{i}" for i in range(n))
    return summarize(trial_scores(logits, batch), batch.task, names)


# ------------------------------------------------------------------------------------ held-out sets
@dataclass
class HeldOutSet:
    """Fixed evaluation trials: one TrialBatch per task, rule inputs already appended."""

    names: tuple[str, ...]
    batches: tuple[TrialBatch, ...]
    n_trials: int
    seed: int

    @property
    def ob_size(self) -> int:
        return int(self.batches[0].ob.shape[2])


def held_out_set(
    tasks: str | Sequence[str] | TaskStreams,
    n_trials: int = 200,
    seed: int = 0,
    **task_kwargs: object,
) -> HeldOutSet:
    """Trials ``0 .. n_trials - 1`` of every task on the held-out stream of ``seed``.

    ``tasks`` is what :class:`modcog_env.TaskStreams` takes (a collection key, a name, a list of
    names) or a TaskStreams itself (e.g. ``Batches(...).streams``, to match a training run);
    ``task_kwargs`` (``convention``, ``dt``, ``dim_ring``, ``sigma``, ``rule_inputs``, ...) go to
    TaskStreams.
    """
    if isinstance(n_trials, bool) or not isinstance(n_trials, (int, np.integer)) or n_trials < 1:
        raise ValueError(f"n_trials={n_trials!r} must be an int >= 1")
    if isinstance(tasks, TaskStreams):
        if task_kwargs:
            raise ValueError("task settings come from the TaskStreams; pass no task_kwargs")
        streams = tasks
    else:
        streams = TaskStreams(tasks, **task_kwargs)
    s = stream_seed(seed, HELD_OUT_STREAM)
    batches = []
    for i, task in enumerate(streams.tasks):
        tb = task.sample(s, np.arange(n_trials))
        ob = tb.ob
        if streams.rule_inputs:
            rule = np.zeros(tb.ob.shape[:2] + (streams.n,), np.float32)
            rule[:, :, i] = tb.valid
            ob = np.concatenate([tb.ob, rule], axis=2)
        batches.append(
            replace(tb, ob=ob, task=np.full(n_trials, i, np.int64), task_names=streams.names)
        )
    return HeldOutSet(streams.names, tuple(batches), int(n_trials), int(seed))


def evaluate(
    model: object,
    tasks: str | Sequence[str] | TaskStreams | HeldOutSet,
    *,
    n_trials: int = 200,
    seed: int = 0,
    chunk: int = 1024,
    device: object = None,
    yang: bool = False,
    **task_kwargs: object,
) -> EvalTable:
    """Metrics of ``model`` per task: a MaskedRNN, or any module with the same call
    ``model(x, batch_first=True)`` mapping ``[B, T, D]`` inputs to ``[B, T, A]`` logits.

    ``tasks`` is a :class:`HeldOutSet` (reused as is) or what :func:`held_out_set` takes; then
    ``dt`` defaults to the model's. Trials run ``chunk`` at a time, in eval mode, without grad.
    ``yang=True`` (``yang2019`` trials, models trained with the sigmoid + squared-error loss
    ``"lsq"``) adds the metric ``"yang_perf"``: :func:`yang_perf` of ``sigmoid(logits)``.
    """
    import torch

    if not isinstance(tasks, HeldOutSet):
        cfg = getattr(model, "config", None)
        if cfg is not None and not isinstance(tasks, TaskStreams):
            task_kwargs.setdefault("dt", cfg.dt)
        tasks = held_out_set(tasks, n_trials, seed, **task_kwargs)
    expected = getattr(getattr(model, "config", None), "input_size", tasks.ob_size)
    if expected != tasks.ob_size:
        raise ValueError(
            f"model takes {expected} input channels; the tasks {list(tasks.names)[:3]}... give "
            f"{tasks.ob_size} (check the task list, rule inputs and dim_ring)"
        )
    if device is None:
        device = next(iter(model.parameters())).device
    was_training = model.training
    model.eval()
    scores, task_idx = [], []
    try:
        with torch.no_grad():
            for tb in tasks.batches:
                for lo in range(0, tb.batch_size, chunk):
                    whole = lo == 0 and chunk >= tb.batch_size
                    part = tb if whole else tb.take(np.arange(lo, min(lo + chunk, tb.batch_size)))
                    x = torch.from_numpy(part.ob).to(device)
                    logits = model(x, batch_first=True)
                    scores.append(trial_scores(logits, part))
                    if yang:
                        if part.y_loc is None:
                            raise ValueError("yang=True needs convention='yang2019' trials "
                                             "(they carry y_loc)")
                        scores[-1][YANG_METRIC] = yang_perf(
                            torch.sigmoid(logits), part.y_loc, part.length)
                    task_idx.append(part.task)
    finally:
        model.train(was_training)
    merged = {k: np.concatenate([s[k] for s in scores]) for k in scores[0]}
    return summarize(merged, np.concatenate(task_idx), tasks.names)


# ------------------------------------------------------------------------------------ Yang 2019
YANG_FIX_THRESHOLD = 0.5
YANG_ANGLE_TOLERANCE = 0.2 * np.pi


def popvec(y: object) -> np.ndarray:
    """Population-vector angle in [0, 2 pi) of ring activities ``y`` [..., N] (numpy or torch).

    Unit k prefers 2 pi k / N; the angle is atan2(sum y sin, sum y cos). Rows whose activities sum
    to 0 give NaN (no direction), as in Yang's ``popvec``.
    """
    y = _to_numpy(y).astype(np.float64)
    pref = np.arange(y.shape[-1]) * (2 * np.pi / y.shape[-1])
    total = y.sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        c = (y * np.cos(pref)).sum(axis=-1) / total
        s = (y * np.sin(pref)).sum(axis=-1) / total
    return np.mod(np.arctan2(s, c), 2 * np.pi)


def yang_perf(outputs: object, y_loc: object, length: object | None = None) -> np.ndarray:
    """float64 [B] Yang's performance (1 correct, 0 wrong) of ``outputs`` [B, T, 1 + N].

    ``outputs`` are the network's outputs after the sigmoid (channel 0 fixation, then the ring),
    ``y_loc`` [B, T] the target angle (-1: fixate), batch first; numpy or torch. The last step is
    ``length - 1`` per trial when ``length`` [B] is given, else the last column.
    """
    out, loc = _to_numpy(outputs), _to_numpy(y_loc)
    if out.ndim != 3 or loc.shape != out.shape[:2] or out.shape[2] < 2:
        raise ValueError(
            f"outputs must be [B, T, 1 + N] and y_loc [B, T], got {out.shape} and {loc.shape}"
        )
    rows = np.arange(out.shape[0])
    last = (
        np.full(out.shape[0], out.shape[1] - 1)
        if length is None
        else np.asarray(_to_numpy(length), np.int64) - 1
    )
    if last.shape != rows.shape or (last < 0).any() or (last >= out.shape[1]).any():
        raise ValueError(f"length must be [B] with values in 1..{out.shape[1]}, got {length!r}")
    final, target = out[rows, last], loc[rows, last].astype(np.float64)
    fixating = final[:, 0] > YANG_FIX_THRESHOLD
    d = np.abs(popvec(final[:, 1:]) - target)
    dist = np.minimum(d, 2 * np.pi - d)
    near = dist < YANG_ANGLE_TOLERANCE  # NaN (no direction) compares False
    should_fix = target < 0
    return np.where(should_fix, fixating, near & ~fixating).astype(np.float64)


def yang_score(outputs: object, batch: TrialBatch) -> dict[str, float]:
    """Mean :func:`yang_perf` per task of a ``yang2019`` TrialBatch (outputs [B, T, 1 + N])."""
    if batch.y_loc is None:
        raise ValueError("batch has no y_loc: Yang's measure needs convention='yang2019' trials")
    perf = yang_perf(outputs, batch.y_loc, batch.length)
    names = batch.task_names or tuple(f"task{i}" for i in range(int(batch.task.max()) + 1))
    return {
        names[i]: float(perf[batch.task == i].mean())
        for i in range(len(names))
        if (batch.task == i).any()
    }


def _to_numpy(x: object) -> np.ndarray:
    if hasattr(x, "detach"):
        return x.detach().cpu().numpy()
    return np.asarray(x)
