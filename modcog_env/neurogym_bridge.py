"""NeuroGym 2.x both ways: our tasks inside NeuroGym pipelines, NeuroGym envs inside our batches.

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
- **Step.** Rewards and ``performance`` are :class:`~modcog_env.env.TaskEnv`'s (TASKS.md §7.2
  under ``modcog``, §7.3, NeuroGym's own semantics, under ``reference``); like every NeuroGym env,
  trials chain and ``terminated`` stays False. ``reset()`` starts the next trial and returns its
  first observation without NeuroGym's extra random step; ``reset(seed=x)`` also calls
  ``seed(x)``. At a trial switch inside ``ScheduleEnvs`` the returned observation is the new
  trial's first one (NeuroGym's own envs return the old env's).

**NeuroGym envs in our batches** (:class:`NeuroGymStreams`): quacks like ``TaskStreams``, so
``Batches(NeuroGymStreams(env), ...)`` gives stream or trial batches. Stream ``r`` of
``Batches(seed=s)`` is a deep copy of the env seeded with ``env.seed(stream_seed(s, r) % 2**32)``
(NeuroGym seeds a ``RandomState``, which takes 32 bits; stream 0 of a seed below 2**32 is that
seed itself) that plays ``new_trial()`` after ``new_trial()``. The decision mask is NeuroGym's
``decision`` period where the trial has one, else ``gt != 0``.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
from neurogym.core import TrialEnv
from neurogym.envs.registration import make as ngym_make
from neurogym.utils import spaces as ngym_spaces
from neurogym.utils.scheduler import RandomSchedule
from neurogym.wrappers.block import ScheduleEnvs

from . import rng, timing
from .env import TaskEnv, validate_rewards
from .streams import TaskStreams, stream_seed
from .tasks.base import Task
from .tasks.catalog import collection, make_task
from .trials import Trial, TrialBatch

NEUROGYM_SEED_RANGE = 2**32  # numpy RandomState seeds are 32-bit
_RESET_OPTIONS = ("step_fn", "no_step")  # NeuroGym's reset options; moot here (no step taken)


# ---------------------------------------------------------------------------------------------
# our tasks as NeuroGym TrialEnvs
# ---------------------------------------------------------------------------------------------
def neurogym_timing(task: Task) -> dict[str, object]:
    """The task's period durations in NeuroGym's ``timing`` notation (ms)."""
    out: dict[str, object] = {}
    for period in task.periods:
        spec = task.timing[period]
        if isinstance(spec, timing.Fixed):
            out[period] = spec.ms
        elif isinstance(spec, timing.Uniform):
            out[period] = ("uniform", (spec.low, spec.high))
        else:
            out[period] = ("choice", list(spec.values))
    return out


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
        self._dec_start = trial.start["decision"]
        self._fix_stop = trial.stop.get("fixation", 0)
        self._go = bool(trial.params["go"])
        self.broke_fixation = False

    def judge(self, action: int, gt: int, t: int, last: bool) -> tuple[float, str | None]:
        self.t = t
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
    ``Discrete(1 + N)`` named ``fixation`` and ``choice``. Besides NeuroGym's attributes the env
    exposes ``modcog_trial`` (the current :class:`~modcog_env.trials.Trial`), ``trial_index``
    (its position k in the stream), ``stream_seed`` and ``task``.
    """

    PREFETCH = 32  # trials sampled at once when the env plays its stream alone

    metadata: ClassVar[dict[str, Any]] = {
        "paper_name": "Mod-Cog: A modular approach to cognitive tasks (Khona et al. 2023); "
        "Task representations in neural networks trained to perform many cognitive tasks "
        "(Yang et al. 2019)",
        "paper_link": "https://arxiv.org/abs/2207.03523",
        "tags": ["perceptual", "working memory", "multitask", "supervised"],
        "render_modes": [],
    }

    def __init__(
        self,
        task: str | Task = "dlygo",
        *,
        convention: str = "modcog",
        dt: float = 100,
        dim_ring: int = 16,
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
                task, convention=convention, dt=dt, dim_ring=dim_ring, sigma=sigma, timing=timing
            )
        super().__init__(dt=self.task.dt)
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
        self._referee = _Referee(
            self.rewards, self.task.conv.neurogym_rewards, abort_ends_trial
        )
        self.modcog_trial: Trial | None = None
        self.trial_index = -1
        self.stream_seed = 0
        self._count = 0
        self.seed(None)

    def __str__(self) -> str:
        return f"<NeuroGymTaskEnv {self.task.name!r} ({self.task.convention})>"

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

    def _new_trial(self, **kwargs: Any) -> dict[str, Any]:
        if kwargs:
            raise ValueError(
                f"new_trial() got {sorted(kwargs)}: trials of {self.task.name!r} are fixed by "
                "(stream seed, trial index) and take no conditions"
            )
        siblings = self._siblings()
        k = sum(e._count for e in siblings)
        if len(siblings) == 1:  # alone: trial k is the k-th of the stream; sample ahead
            first, batch = self._prefetch
            if batch is None or not first <= k < first + batch.batch_size:
                first, batch = k, self.task.sample(self.stream_seed, range(k, k + self.PREFETCH))
                self._prefetch = (first, batch)
            trial = batch.trial(k - first)
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
            ground_truth=int(trial.label[trial.start["decision"]]),
        )
        return info

    # ------------------------------------------------------------------------------ stepping
    def _step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        trial = self.modcog_trial
        if trial is None:
            raise gym.error.ResetNeeded("Cannot call step() before reset() or new_trial()")
        if not self.action_space.contains(action):
            raise ValueError(
                f"action={action!r} is not in the action space Discrete({self.action_space.n})"
            )
        t = self.t_ind
        gt = int(trial.label[t])
        reward, outcome = self._referee.judge(int(action), gt, t, t == trial.length - 1)
        info: dict[str, Any] = {"new_trial": outcome is not None, "gt": gt}
        if outcome is not None:
            info["outcome"] = outcome
            self.performance = self._referee.performance(outcome)
        return self.ob_now, float(reward), False, False, info

    def post_step(self, ob, reward, terminated, truncated, info):
        """At a trial switch return the first observation of the new trial, wherever it lives."""
        if info.get("new_trial"):
            ob = self._current().ob[0]
        return np.array(ob, dtype=np.float32), reward, terminated, truncated, info

    def reset(
        self, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Start the next trial (trial 0 of stream ``seed`` if given) and return its first step.

        NeuroGym's ``step_fn``/``no_step`` options are accepted and moot: no step is taken.
        """
        unknown = sorted(set(options or {}) - set(_RESET_OPTIONS))
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
        return np.array(current.ob[0], dtype=np.float32), {
            "new_trial": True,
            "trial_index": getattr(current, "trial_index", -1),
        }


def neurogym_envs(
    tasks: str | Sequence[str] = "20-cog", **kwargs: Any
) -> list[NeuroGymTaskEnv]:
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


# ---------------------------------------------------------------------------------------------
# NeuroGym envs as a trial source for Batches
# ---------------------------------------------------------------------------------------------
def _trial_top(env: gym.Env) -> Any:
    """The outermost object of a wrapper chain that makes trials (a TrialEnv or TrialWrapper)."""
    obj = env
    while not hasattr(type(obj), "new_trial"):
        if not isinstance(obj, gym.Wrapper):
            raise ValueError(
                f"env {env!r} is not a NeuroGym TrialEnv (no new_trial() in its wrapper chain)"
            )
        obj = obj.env
    if not isinstance(obj.unwrapped, TrialEnv):
        raise ValueError(f"env {env!r} does not wrap a neurogym.TrialEnv")
    return obj


def _seed_env(top: Any, seed: int) -> None:
    if hasattr(type(top), "seed"):
        top.seed(seed)
    else:  # a TrialWrapper without its own seed(): seed the env it wraps
        top.unwrapped.seed(seed)


@dataclass
class NeuroGymStreamState:
    """Where each of R NeuroGym streams stands: seeds, next position, and its env copy."""

    seeds: np.ndarray  # uint64 [R] stream seeds
    position: np.ndarray  # int64 [R] index of the next trial
    prev: np.ndarray  # int64 [R] always 0 once a trial was made (one task)
    counts: np.ndarray  # int64 [R, 1] trials so far
    envs: list  # the trial-making object of each stream's env copy

    def copy(self) -> NeuroGymStreamState:
        return NeuroGymStreamState(
            self.seeds.copy(),
            self.position.copy(),
            self.prev.copy(),
            self.counts.copy(),
            copy.deepcopy(self.envs),
        )


class NeuroGymStreams(TaskStreams):
    """Any NeuroGym TrialEnv as a one-task trial source with TaskStreams' interface.

    A TaskStreams subclass (``Batches`` accepts TaskStreams instances) that overrides everything
    Batches calls and none of our tasks' machinery: it does not call ``TaskStreams.__init__``.

    ``env``: a NeuroGym env (instance, possibly wrapped, e.g. from ``ngym.make``) or a registered
    id (made with ``env_kwargs``). ``name``: the task name in batches (default: the id or the
    env's class name). ``probe_trials``: trials of a private seed-0 copy used to estimate trial
    lengths (``mean_length_estimate``, ``length_bounds``).

    The env is deep-copied once here; every stream starts from that copy, so later use of ``env``
    changes nothing. Observations must be 1-D Boxes and actions ``Discrete`` (labels are class
    indices). ``Batches(NeuroGymStreams(env), with_mask=True, output="torch")`` works as with our
    tasks; the per-trial params are the numeric scalars of NeuroGym's trial dicts.
    """

    def __init__(
        self,
        env: gym.Env | str,
        *,
        name: str | None = None,
        env_kwargs: Mapping[str, Any] | None = None,
        probe_trials: int = 32,
    ) -> None:
        if isinstance(env, str):
            name = name or env
            env = ngym_make(env, **dict(env_kwargs or {}))
        elif env_kwargs:
            raise ValueError("env_kwargs applies to a registered id, not to an env instance")
        if not isinstance(env, gym.Env):
            raise ValueError(f"env={env!r} must be a NeuroGym env or a registered NeuroGym id")
        if isinstance(probe_trials, bool) or not isinstance(probe_trials, int) or probe_trials < 1:
            raise ValueError(f"probe_trials={probe_trials!r} must be an int >= 1")
        self._top = copy.deepcopy(_trial_top(env))
        ob_space, act_space = self._top.observation_space, self._top.action_space
        if not isinstance(act_space, gym.spaces.Discrete):
            raise ValueError(f"action space {act_space} must be Discrete (labels are classes)")
        if ob_space.shape is None or len(ob_space.shape) != 1:
            raise ValueError(f"observation space {ob_space} must be a 1-D Box")
        self.names = (name or type(self._top.unwrapped).__name__,)
        self.tasks: list[Task] = []  # no modcog_env Task: trials come from NeuroGym
        self.convention = self.dim_ring = None
        self.n = 1
        self.rule_inputs = False
        self.schedule = None
        self.base_size = self.ob_size = int(ob_space.shape[0])
        self.n_actions = int(act_space.n)
        self.dt = float(self._top.unwrapped.dt)
        probe = self.start([0])
        lengths = self.next_trials(probe, probe_trials)[0].length
        self._bounds = (int(lengths.min()), int(lengths.max()))
        self._mean = float(lengths.mean())

    def __repr__(self) -> str:
        return f"NeuroGymStreams({self.names[0]!r}, ob_size={self.ob_size}, dt={self.dt:g})"

    def length_bounds(self) -> tuple[int, int]:
        """(min, max) trial length seen in the probe trials (NeuroGym does not declare bounds)."""
        return self._bounds

    def mean_length_estimate(self) -> float:
        """Mean trial length of the probe trials, in steps."""
        return self._mean

    # ------------------------------------------------------------------------------ state
    def start(self, seeds: np.ndarray | Sequence[int]) -> NeuroGymStreamState:
        """Fresh streams: one env copy per stream seed, seeded ``seed % 2**32``."""
        seeds = np.asarray(seeds, dtype=np.uint64).reshape(-1)
        envs = []
        for s in seeds:
            top = copy.deepcopy(self._top)
            _seed_env(top, int(s) % NEUROGYM_SEED_RANGE)
            envs.append(top)
        r = seeds.size
        return NeuroGymStreamState(
            seeds=seeds,
            position=np.zeros(r, np.int64),
            prev=np.full(r, -1, np.int64),
            counts=np.zeros((r, 1), np.int64),
            envs=envs,
        )

    def state_at(
        self, seeds: np.ndarray | Sequence[int], position: np.ndarray | int
    ) -> NeuroGymStreamState:
        """State of streams about to play trial ``position[r]`` (replays the trials before it)."""
        state = self.start(seeds)
        position = np.broadcast_to(np.asarray(position, dtype=np.int64), state.position.shape)
        if position.any():
            self.next_parts(state, position)
        return state

    # ------------------------------------------------------------------------------ trials
    def _record(self, env: TrialEnv, info: Any) -> dict[str, Any]:
        ob = np.array(env.ob, dtype=np.float32)
        gt = np.asarray(env.gt)
        if ob.ndim != 2 or ob.shape[1] != self.ob_size:
            raise ValueError(
                f"{self.names[0]}: a trial's ob has shape {ob.shape}; expected (T, {self.ob_size})"
            )
        if gt.shape != ob.shape[:1]:
            raise ValueError(
                f"{self.names[0]}: gt has shape {gt.shape}; expected ({ob.shape[0]},) labels"
            )
        length = ob.shape[0]
        start = {p: min(int(i), length) for p, i in env.start_ind.items()}
        stop = {p: min(int(env.end_ind[p]), length) for p in start}
        t = np.arange(length)
        if "decision" in start:
            decision = (t >= start["decision"]) & (t < stop["decision"])
        else:
            decision = gt != 0
            steps = np.flatnonzero(decision)
            start["decision"] = int(steps[0]) if steps.size else length
            stop["decision"] = int(steps[-1]) + 1 if steps.size else length
        params = {}
        if isinstance(info, Mapping):
            params = {
                k: v
                for k, v in info.items()
                if isinstance(v, (bool, int, float, np.bool_, np.integer, np.floating))
            }
        return {
            "ob": ob,
            "label": gt.astype(np.int64),
            "decision": decision,
            "start": start,
            "stop": stop,
            "params": params,
        }

    def _pack(self, records: list[dict[str, Any]], index: np.ndarray) -> TrialBatch:
        m = len(records)
        length = np.array([r["ob"].shape[0] for r in records], dtype=np.int64)
        t_max = int(length.max()) if m else 0
        ob = np.zeros((m, t_max, self.ob_size), np.float32)
        label = np.zeros((m, t_max), np.int64)
        decision = np.zeros((m, t_max), bool)
        periods: list[str] = []
        for i, r in enumerate(records):
            n = length[i]
            ob[i, :n], label[i, :n], decision[i, :n] = r["ob"], r["label"], r["decision"]
            periods += [p for p in r["start"] if p not in periods]
        start = {p: np.array([r["start"].get(p, -1) for r in records], np.int64) for p in periods}
        stop = {p: np.array([r["stop"].get(p, -1) for r in records], np.int64) for p in periods}
        keys = set.intersection(*(set(r["params"]) for r in records)) if records else set()
        params = {k: np.array([r["params"][k] for r in records]) for k in sorted(keys)}
        return TrialBatch(
            ob=ob,
            label=label,
            length=length,
            decision=decision,
            start=start,
            stop=stop,
            task=np.zeros(m, np.int64),
            index=index,
            params=params,
            task_names=self.names,
            dt=self.dt,
        )

    def next_parts(
        self, state: NeuroGymStreamState, count: np.ndarray | int
    ) -> tuple[list[tuple[int, np.ndarray, TrialBatch]], np.ndarray]:
        """The next ``count[r]`` trials of each stream r (one part: task 0); advances ``state``."""
        count = np.broadcast_to(np.asarray(count, dtype=np.int64), state.position.shape)
        rows = np.repeat(np.arange(count.size), count)
        records, index = [], []
        for r in np.flatnonzero(count):
            top = state.envs[r]
            for j in range(int(count[r])):
                info = top.new_trial()
                records.append(self._record(top.unwrapped, info))
                index.append(int(state.position[r]) + j)
        state.position = state.position + count
        state.counts[:, 0] += count
        state.prev[count > 0] = 0
        batch = self._pack(records, np.array(index, dtype=np.int64))
        return [(0, np.arange(rows.size), batch)], rows

    def next_trials(
        self, state: NeuroGymStreamState, count: np.ndarray | int
    ) -> tuple[TrialBatch, np.ndarray]:
        """The next ``count[r]`` trials of each stream r as one TrialBatch; advances ``state``."""
        parts, rows = self.next_parts(state, count)
        return parts[0][2], rows


__all__ = [
    "NEUROGYM_SEED_RANGE",
    "NeuroGymStreamState",
    "NeuroGymStreams",
    "NeuroGymTaskEnv",
    "neurogym_envs",
    "neurogym_timing",
    "schedule_envs",
]
