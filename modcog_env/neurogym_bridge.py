"""NeuroGym 2.x: our tasks inside NeuroGym pipelines (and, re-exported, NeuroGym envs in batches).

This module imports ``neurogym`` (``import modcog_env`` never does); docs/neurogym.md has the full
story with code.

**Our tasks in NeuroGym** (:class:`NeuroGymTaskEnv`): a ``neurogym.TrialEnv`` subclass that plays
one of our tasks, so ``ngym.Dataset``, ``ScheduleEnvs``, ``plot_env`` and ``Monitor`` accept it.
It never builds observations: ``new_trial()`` asks the task for trial ``k`` of the env's stream
and exposes it the NeuroGym way (``ob``, ``gt``, ``start_t``/``end_t``/``start_ind``/``end_ind``,
``tmax``, ``timing``, named spaces). NeuroGym's legacy methods live here, not in :class:`TaskEnv`.

- **Seed mapping.** ``seed(x)`` makes the env play *stream number x* of its ``base_seed``
  (constructor argument, default 0), i.e. stream seed ``stream_seed(base_seed, x)``, from trial 0.
  ``ngym.Dataset`` seeds its row-i copy with ``seed + i``, so after ``dataset.seed(s)`` row ``r``
  is stream ``s + r``: ``Dataset.seed(0)`` rows are exactly the rows of
  ``Batches(task, seed=base_seed)``; ``Dataset.seed(s)`` rows are
  ``Batches(task, seed=base_seed, streams=range(s, s + B))``. ``seed(None)`` picks a random
  stream (fresh OS entropy), as NeuroGym's ``seed(None)`` does.
- **Trial index.** Alone, trial ``k`` is the ``k``-th ``new_trial()`` since ``seed``. Inside a
  ``ScheduleEnvs``/``MultiEnvs`` whose envs are all bridged, ``k`` is the position in the
  multitask stream (trials made by all of them since they were seeded) and the per-task count is
  the occurrence, exactly as :class:`~modcog_env.streams.TaskStreams` samples: given the same
  task sequence, the trials equal ours bit for bit. The task sequence itself comes from
  NeuroGym's scheduler and its own RandomState, so it cannot equal our schedule.
- **Conditions.** ``new_trial(ground_truth=..., <param>=...)`` honours the conditions (the
  wrappers ``SideBias``, ``RandomGroundTruth``, ``TrialHistoryV2``, ``ScheduleAttr`` pass them);
  ``choices``, the ground truth and how a conditioned trial is keyed are in
  :mod:`modcog_env.neurogym_conditions`. A conditioned trial takes position ``k`` like any other.
- **Step.** Rewards and ``performance`` are :class:`~modcog_env.env.TaskEnv`'s (TASKS.md §7.2
  under ``modcog``, §7.3, NeuroGym's own semantics, under ``reference``); like every NeuroGym env,
  trials chain and ``terminated`` stays False. Scoring reads the *live* trial: ``gt``,
  ``start_t["decision"]``, ``end_t["fixation"]`` and ``tmax`` as they are at each step, so a
  wrapper that edits them in place (``ReactionTime``) changes what is scored, as on native envs.
- **Reset.** ``reset()`` starts the next trial and returns its step-0 observation passed through
  ``options["step_fn"]`` (or the top wrapper's ``step``), as NeuroGym's ``TrialEnv.reset``
  routes it, so ``PassAction``, ``PassReward``, ``Noise`` and wrappers that rewrite ``ob`` shape
  the first observation. Unlike NeuroGym, that call is a *peek*: the env answers it with step 0
  (reward 0, no scoring, time does not advance), and the action passed is 0 (fixate), so the
  first real ``step`` is step 0 of the trial. ``no_step=True`` returns step 0 without
  ``step_fn``. ``reset(seed=x)`` also calls ``seed(x)``. At a trial switch inside
  ``ScheduleEnvs`` the returned observation is the new trial's first one (NeuroGym's own envs
  return the old env's).
- **Trial lengths.** ``trial_length_stats(n)`` measures the next ``n`` trials of the stream
  without playing them: the stream, the current trial and ``rng`` are untouched.

**NeuroGym envs in our batches** live in :mod:`modcog_env.neurogym_streams`
(:class:`~modcog_env.neurogym_streams.NeuroGymStreams`, re-exported here).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
from neurogym.core import TrialEnv
from neurogym.utils import spaces as ngym_spaces
from neurogym.utils.scheduler import RandomSchedule
from neurogym.wrappers.block import ScheduleEnvs

from . import neurogym_conditions as conditions
from . import rng, timing
from .env import TaskEnv, validate_rewards
from .neurogym_registration import (
    NEUROGYM_ID_PREFIX,
    as_suite_name,
    neurogym_collection_id,
    neurogym_id,
    register_neurogym_envs,
)
from .neurogym_streams import NEUROGYM_SEED_RANGE, NeuroGymStreams
from .streams import stream_seed
from .tasks.base import Task
from .tasks.catalog import collection, make_task
from .trials import Trial, TrialBatch

_RESET_OPTIONS = ("step_fn", "no_step")  # NeuroGym's TrialEnv.reset options
_STATS_CHUNK = 500  # trials sampled at once by trial_length_stats


# ---------------------------------------------------------------------------------------------
# our tasks as NeuroGym TrialEnvs
# ---------------------------------------------------------------------------------------------
def neurogym_timing(task: Task) -> dict[str, object]:
    """The task's period durations in NeuroGym's ``timing`` notation (ms); ``make_task(name,
    timing=neurogym_timing(task))`` rebuilds the same timing (:func:`timing.parse_spec`)."""
    return {period: timing.neurogym_notation(task.timing[period]) for period in task.periods}


class _Referee:
    """TaskEnv's scoring (TASKS.md §7.2/§7.3) for the trial being played, reused verbatim.

    ``_judge`` is :meth:`TaskEnv._judge`; :meth:`start` sets the attributes it reads exactly as
    ``TaskEnv._start_trial`` does, so both paths score a trial identically.
    """

    _judge = TaskEnv._judge

    def __init__(
        self, rewards: dict[str, float], neurogym_rewards: bool, abort_ends_trial: bool
    ) -> None:
        self.rewards = rewards
        self._neurogym_rewards = neurogym_rewards
        self.abort_ends_trial = abort_ends_trial
        self.t = 0

    def start(self, trial: Trial) -> None:
        self._seq = trial.params["seq_sign"] != 0
        self._go = bool(trial.params["go"])
        self.broke_fixation = False

    def judge(
        self, action: int, gt: int, t: int, last: bool, dec_start: int, fix_stop: int
    ) -> tuple[float, str | None]:
        """Score ``action`` at step ``t`` of a trial whose decision period starts at
        ``dec_start`` and whose fixation period ends at ``fix_stop`` (steps)."""
        self.t, self._dec_start, self._fix_stop = t, dec_start, fix_stop
        return self._judge(action, gt, last)

    def performance(self, outcome: str) -> float:
        return float(outcome == "correct" and not self.broke_fixation)


class NeuroGymTaskEnv(TrialEnv):
    """One of our tasks as a ``neurogym.TrialEnv`` (see the module docstring).

    Arguments: ``task`` (short name, gym id or a :class:`~modcog_env.tasks.base.Task`),
    ``convention``, ``dt``, ``dim_ring``, ``sigma``, ``timing`` (as :class:`TaskEnv`; ignored
    when a Task is given), ``rewards`` (overrides of correct/fail/abort), ``abort_ends_trial``
    (as :class:`TaskEnv`; NeuroGym calls it ``abort``), ``base_seed`` (the seed whose stream ``x``
    ``seed(x)`` plays).

    Observation space: NeuroGym ``Box`` of 1 + 2N float32 channels named as NeuroGym's yang19
    does (``fixation``, ``stimulus_mod1``, ``stimulus_mod2``); action space: NeuroGym
    ``Discrete(1 + N)`` named ``fixation`` and ``choice``; ``choices`` as NeuroGym's yang19
    (ring indices, or ``["match", "non-match"]``); ``metadata["tags"]`` from NeuroGym's
    vocabulary; ``str(env)`` is NeuroGym's ``<NeuroGymTaskEnv>``, ``repr`` names the task.
    Besides NeuroGym's attributes the env exposes ``modcog_trial`` (the current
    :class:`~modcog_env.trials.Trial`), ``trial_index`` (its position k in the stream),
    ``stream_seed`` and ``task``. Registered NeuroGym-side as ``ModCogNgym-<CamelName>-v0``
    (:mod:`modcog_env.neurogym_registration`).
    """

    PREFETCH = 64  # trials sampled at once when the env plays its stream alone

    metadata: ClassVar[dict[str, Any]] = {
        "paper_name": "Mod-Cog: A modular approach to cognitive tasks (Khona et al. 2023); "
        "Task representations in neural networks trained to perform many cognitive tasks "
        "(Yang et al. 2019)",
        "paper_link": "https://arxiv.org/abs/2207.03523",
        "tags": ["perceptual", "working memory", "supervised"],  # per task: instance metadata
        "render_modes": [],
    }

    def __init__(
        self,
        task: str | Task = "dlygo",
        *,
        convention: str = "modcog",
        dt: float | None = None,
        dim_ring: int | None = None,
        sigma: float = 1.0,
        timing: Mapping[str, object] | None = None,
        rewards: Mapping[str, float] | None = None,
        abort_ends_trial: bool = False,
        base_seed: int = 0,
    ) -> None:
        if isinstance(task, Task):
            self.task = task
        else:
            self.task = make_task(
                as_suite_name(task),
                convention=convention,
                dt=dt,
                dim_ring=dim_ring,
                sigma=sigma,
                timing=timing,
            )
        super().__init__(dt=self.task.dt)
        self.metadata = {**type(self).metadata, "tags": conditions.tags(self.task)}
        self.choices = conditions.choices(self.task)
        self._param_names = tuple(self.task.sample(0, [0]).params)
        self._peek = False
        self.base_seed = rng.normalize_seed(base_seed)
        self.rewards = validate_rewards(rewards)
        self.timing = neurogym_timing(self.task)
        n = self.task.dim_ring
        self.observation_space = ngym_spaces.Box(
            -np.inf,
            np.inf,
            shape=(self.task.ob_size,),
            dtype=np.float32,
            name={
                "fixation": 0,
                "stimulus_mod1": range(1, n + 1),
                "stimulus_mod2": range(n + 1, 2 * n + 1),
            },
        )
        self.action_space = ngym_spaces.Discrete(
            self.task.n_actions, name={"fixation": 0, "choice": range(1, n + 1)}
        )
        if not isinstance(abort_ends_trial, bool):
            raise ValueError(f"abort_ends_trial={abort_ends_trial!r} must be True or False")
        self.abort = abort_ends_trial  # NeuroGym's name for the same switch
        self._referee = _Referee(self.rewards, self.task.conv.neurogym_rewards, abort_ends_trial)
        self.modcog_trial: Trial | None = None
        self.trial_index = -1
        self.stream_seed = 0
        self._count = 0
        self.seed(None)

    def __repr__(self) -> str:
        t = self.task
        return (
            f"{type(self).__name__}({t.name!r}, convention={t.convention!r}, dt={t.dt:g}, "
            f"dim_ring={t.dim_ring}, sigma={t.sigma:g})"
        )

    # ------------------------------------------------------------------------------ seeding
    def seed(self, seed: int | None = None) -> list[int | None]:
        """Play stream ``seed`` of ``base_seed`` from its trial 0 (``None``: a random stream).

        Also seeds ``rng`` (used only by NeuroGym wrappers) and the action space, as NeuroGym does.
        """
        if seed is None:
            self.stream_seed = int(np.random.SeedSequence().entropy) & (2**64 - 1)
        else:
            if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
                raise ValueError(
                    f"seed={seed!r} must be None or an int >= 0 (the stream number of base_seed)"
                )
            self.stream_seed = stream_seed(self.base_seed, int(seed))
        self._count = 0
        self._prefetch: tuple[int, TrialBatch | None] = (0, None)
        self.trial_index = -1
        self.rng = np.random.RandomState(None if seed is None else int(seed) % NEUROGYM_SEED_RANGE)
        self.action_space.seed(None if seed is None else int(seed))
        return [seed]

    # ------------------------------------------------------------------------------ trials
    def _siblings(self) -> list[NeuroGymTaskEnv]:
        """The bridged envs sharing this env's trial stream (itself, or a ScheduleEnvs' envs)."""
        top = self._top
        envs = getattr(top, "envs", None) if top is not self else None
        if isinstance(envs, (list, tuple)):
            group = [getattr(e, "unwrapped", e) for e in envs]
            if any(g is self for g in group):
                return [g for g in group if isinstance(g, NeuroGymTaskEnv)]
        return [self]

    def _current(self) -> TrialEnv:
        """The env that holds the latest trial of this env's stream (a sibling in ScheduleEnvs)."""
        top = self._top
        current = getattr(top, "unwrapped", self) if top is not self else self
        return current if isinstance(current, TrialEnv) else self

    def _next_index(self) -> int:
        """Position k of the next trial of this env's stream (see the module docstring)."""
        return sum(e._count for e in self._siblings())

    def _new_trial(self, **kwargs: Any) -> dict[str, Any]:
        conds, extras = conditions.split(self.task, kwargs, self._param_names)
        siblings = self._siblings()
        k = sum(e._count for e in siblings)
        if conds:
            trial = conditions.conditioned_trial(self.task, self.stream_seed, k, self._count, conds)
        elif len(siblings) == 1:  # alone: trial k is the k-th of the stream; sample ahead
            first, batch = self._prefetch
            if batch is None or not first <= k < first + batch.batch_size:
                first, batch = k, self.task.sample(self.stream_seed, range(k, k + self.PREFETCH))
                self._prefetch = (first, batch)
            trial = batch.trial(k - first, copy=False)  # views: each row is played once
        else:  # in a schedule the next position of this task is unknown until it is drawn
            trial = self.task.sample(self.stream_seed, [k], occurrence=[self._count]).trial(0)
        self._count += 1
        self.trial_index = k
        self.modcog_trial = trial
        self._referee.start(trial)
        dt = self.dt
        self.start_ind = dict(trial.start)
        self.end_ind = dict(trial.stop)
        self.start_t = {p: s * dt for p, s in trial.start.items()}
        self.end_t = {p: s * dt for p, s in trial.stop.items()}
        self._duration = {p: (trial.stop[p] - trial.start[p]) * dt for p in trial.start}
        self._tmax = trial.length * dt
        self.tmax = self._tmax
        self.ob = trial.ob
        self.gt = trial.label
        self._ob_built = self._gt_built = True
        info = dict(trial.params)
        info.update(
            task=self.task.name,
            trial_index=k,
            stream_seed=self.stream_seed,
            ground_truth=conditions.ground_truth(self.task, trial.params),
            **extras,
        )
        return info

    def trial_length_stats(self, num_trials: int = 10000) -> dict[str, float]:
        """NeuroGym's trial-length statistics (steps) of the next ``num_trials`` trials of the
        stream, sampled without playing them (the stream, ``ob``/``gt`` and ``rng`` unchanged):
        ``mean``, ``std``, ``percentile_95``, ``max`` (rounded to 3 decimals, as NeuroGym)."""
        if isinstance(num_trials, bool) or not isinstance(num_trials, (int, np.integer)):
            raise ValueError(f"num_trials={num_trials!r} must be an int >= 1")
        if num_trials < 1:
            raise ValueError(f"num_trials={num_trials!r} must be an int >= 1")
        k, occ = self._next_index(), self._count
        lengths = np.concatenate(
            [
                self.task.sample(
                    self.stream_seed,
                    range(k + a, k + min(a + _STATS_CHUNK, num_trials)),
                    occurrence=range(occ + a, occ + min(a + _STATS_CHUNK, num_trials)),
                ).length
                for a in range(0, int(num_trials), _STATS_CHUNK)
            ]
        )
        return {
            "mean": round(float(np.mean(lengths)), 3),
            "std": round(float(np.std(lengths)), 3),
            "percentile_95": round(float(np.percentile(lengths, 95)), 3),
            "max": round(float(np.max(lengths)), 3),
        }

    # ------------------------------------------------------------------------------ stepping
    def _step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        trial = self.modcog_trial
        if trial is None:
            raise gym.error.ResetNeeded("Cannot call step() before reset() or new_trial()")
        if not self.action_space.contains(action):
            raise ValueError(
                f"action={action!r} is not in the action space Discrete({self.action_space.n})"
            )
        # the live trial (module docstring): wrappers may have edited gt, start_t, end_t, tmax
        t, dt = self.t_ind, self.dt
        gt = int(self.gt[t])
        last = t >= round(self.tmax / dt) - 1
        dec_start = round(self.start_t["decision"] / dt)
        fix_stop = round(self.end_t.get("fixation", 0) / dt)
        reward, outcome = self._referee.judge(int(action), gt, t, last, dec_start, fix_stop)
        info: dict[str, Any] = {"new_trial": outcome is not None, "gt": gt}
        if outcome is not None:
            info["outcome"] = outcome
            self.performance = self._referee.performance(outcome)
        return self.ob_now, float(reward), False, False, info

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        """NeuroGym's ``TrialEnv.step``; during :meth:`reset`'s peek, step 0 unscored."""
        if self._peek:
            t = self.t_ind
            info = {"new_trial": False, "gt": int(self.gt[t])}
            return np.array(self.ob[t], dtype=np.float32), 0.0, False, False, info
        return super().step(action)

    def post_step(self, ob, reward, terminated, truncated, info):
        """At a trial switch return the first observation of the new trial, wherever it lives."""
        if info.get("new_trial"):
            ob = self._current().ob[0]
        return np.array(ob, dtype=np.float32), reward, terminated, truncated, info

    def reset(
        self, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Start the next trial (trial 0 of stream ``seed`` if given) and return its step-0
        observation through ``options["step_fn"]`` (default: the top wrapper's ``step``), called
        as a peek (module docstring); ``options["no_step"]`` skips it."""
        options = dict(options or {})
        unknown = sorted(set(options) - set(_RESET_OPTIONS))
        if unknown:
            raise ValueError(f"reset options {unknown} are not among {list(_RESET_OPTIONS)}")
        if seed is not None:
            self.seed(seed)
        gym.Env.reset(self, seed=seed)
        self.num_tr = 0
        self.t = self.t_ind = 0
        self.performance = 0
        self._top.new_trial()
        current = self._current()
        info = {"new_trial": True, "trial_index": getattr(current, "trial_index", -1)}
        if options.get("no_step", False):
            return np.array(current.ob[0], dtype=np.float32), info
        step_fn = options.get("step_fn") or self._top.step
        peeking = [e for e in {id(current): current, id(self): self}.values()
                   if isinstance(e, NeuroGymTaskEnv)]  # fmt: skip
        for e in peeking:
            e._peek = True
        try:
            ob = step_fn(0)[0]
        finally:
            for e in peeking:
                e._peek = False
        return ob, info


def neurogym_envs(tasks: str | Sequence[str] = "20-cog", **kwargs: Any) -> list[NeuroGymTaskEnv]:
    """One :class:`NeuroGymTaskEnv` per task of a collection key or list of names (same kwargs)."""
    return [NeuroGymTaskEnv(name, **kwargs) for name in collection(tasks)]


def schedule_envs(
    tasks: str | Sequence[str] = "20-cog", *, env_input: bool = True, **kwargs: Any
) -> ScheduleEnvs:
    """NeuroGym's yang19 recipe on our tasks: ``ScheduleEnvs(envs, RandomSchedule(n), env_input)``.

    With ``env_input`` the observation is the task's 1 + 2N channels plus a one-hot of the task
    (53 channels for 20-cog at N=16), as in :class:`~modcog_env.env.MultiTaskEnv`.
    """
    envs = neurogym_envs(tasks, **kwargs)
    return ScheduleEnvs(envs, RandomSchedule(len(envs)), env_input=env_input)


register_neurogym_envs(NeuroGymTaskEnv, schedule_envs)

__all__ = [
    "NEUROGYM_ID_PREFIX",
    "NEUROGYM_SEED_RANGE",
    "NeuroGymStreams",
    "NeuroGymTaskEnv",
    "neurogym_collection_id",
    "neurogym_envs",
    "neurogym_id",
    "neurogym_timing",
    "schedule_envs",
]
