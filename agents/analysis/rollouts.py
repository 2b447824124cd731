"""Rollouts with states: a model run on trial-aligned trials, keeping hidden states [B, T, N].

:func:`task_trials` builds held-out trials of one task exactly as the model saw them in training
(same task list, so the same rule one-hot, convention, dt, dim_ring), optionally without input
noise (``sigma=0``: the clean dynamics that fixed-point analysis asks about). :func:`rollout` runs
the model (``forward(..., return_hidden=True)``, eval mode, no grad) and returns a
:class:`Rollout`: states, logits and the :class:`~modcog_env.TrialBatch` with its periods and
per-trial parameters. Everything else in :mod:`agents.analysis` starts from a Rollout.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from modcog_env import TaskStreams, TrialBatch

from ..evaluation import held_out_set


@dataclass
class Rollout:
    """``states`` float32 [B, T, N] (after each step), ``logits`` float32 [B, T, A], ``batch``.

    Entries beyond ``batch.length`` are the model's response to zero padding; use
    :meth:`period_states` / ``batch.valid`` to select real steps.
    """

    states: np.ndarray
    logits: np.ndarray
    batch: TrialBatch
    task: str
    dt: float

    def period_mask(self, period: str) -> np.ndarray:
        """bool [B, T]: steps inside ``period`` of each trial (False where a trial lacks it)."""
        b = self.batch
        if period not in b.start:
            raise ValueError(f"period={period!r} is not a period of {self.task!r}; "
                             f"has {tuple(b.start)}")
        t = np.arange(b.ob.shape[1])[None, :]
        return (t >= b.start[period][:, None]) & (t < b.stop[period][:, None]) & b.valid

    def period_states(self, period: str) -> tuple[np.ndarray, np.ndarray]:
        """States [M, N] inside ``period`` and their (trial, step) index arrays [M, 2]."""
        m = self.period_mask(period)
        rows, steps = np.nonzero(m)
        return self.states[rows, steps], np.stack([rows, steps], 1)

    def period_input(self, period: str) -> np.ndarray:
        """float64 [D]: the input averaged over every step of ``period`` (noise averages out)."""
        m = self.period_mask(period)
        if not m.any():
            raise ValueError(f"no trial of {self.task!r} has a non-empty {period!r} period")
        return self.batch.ob[m].astype(np.float64).mean(0)


def resolve_task(task: str, trained: Sequence[str]) -> int:
    """Index of ``task`` among the trained task names; ValueError with close matches if absent."""
    trained = list(trained)
    if task in trained:
        return trained.index(task)
    close = difflib.get_close_matches(str(task), trained, n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
    shown = trained if len(trained) <= 12 else trained[:12] + ["..."]
    raise ValueError(f"task={task!r} is not one of the model's tasks {shown}{hint}")


def task_trials(task: str, train_tasks: str | Sequence[str] = None, *, n_trials: int = 256,
                seed: int = 0, sigma: float = 0.0, convention: str = "modcog",
                dt: float = 100.0, dim_ring: int = 16) -> TrialBatch:
    """Held-out trials ``0 .. n_trials - 1`` of ``task``, with the rule inputs of ``train_tasks``.

    ``train_tasks`` (a collection key or names; default ``[task]``) fixes the input layout: the
    trials carry the one-hot of ``task`` among them, as in training. ``sigma`` is the input noise
    scale (0: noise-free inputs).
    """
    streams = TaskStreams(train_tasks if train_tasks is not None else [task],
                          convention=convention, dt=dt, dim_ring=dim_ring, sigma=sigma)
    i = resolve_task(task, streams.names)
    held = held_out_set(streams, n_trials=n_trials, seed=seed)
    return held.batches[i]


def checkpoint_trials(ckpt: dict, task: str, *, n_trials: int = 256, seed: int = 0,
                      sigma: float = 0.0) -> TrialBatch:
    """:func:`task_trials` with the task settings stored in a training checkpoint dict."""
    tc = ckpt["train_config"]
    return task_trials(task, tc["tasks"], n_trials=n_trials, seed=seed, sigma=sigma,
                       convention=tc["convention"], dt=tc["dt"], dim_ring=tc["dim_ring"])


def rollout(model: torch.nn.Module, batch: TrialBatch, *, task: str | None = None) -> Rollout:
    """Run ``model`` (eval mode, no grad) on ``batch``; states and logits as float32 numpy."""
    expected = model.config.input_size
    if batch.ob.shape[2] != expected:
        raise ValueError(f"batch has {batch.ob.shape[2]} input channels; the model takes "
                         f"{expected}")
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            x = torch.from_numpy(batch.ob).to(device)
            logits, states = model(x, batch_first=True, return_hidden=True)
    finally:
        model.train(was_training)
    if task is None:
        names = batch.task_names
        task = names[int(batch.task[0])] if names else "task"
    return Rollout(states.float().cpu().numpy(), logits.float().cpu().numpy(), batch, task,
                   float(model.config.dt))
