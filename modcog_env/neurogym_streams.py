"""NeuroGym envs inside our batches: any NeuroGym ``TrialEnv`` as a trial source for Batches.

(:class:`NeuroGymStreams`) has the trial-source interface of TaskStreams, so
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
from typing import Any

import gymnasium as gym
import numpy as np
from neurogym.core import TrialEnv
from neurogym.envs.registration import make as ngym_make

from .trials import TrialBatch

NEUROGYM_SEED_RANGE = 2**32  # numpy RandomState seeds are 32-bit


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


class NeuroGymStreams:
    """Any NeuroGym TrialEnv as a one-task trial source with TaskStreams' interface.

    It provides the trial-source interface ``Batches`` uses (``start``, ``next_parts``,
    ``next_trials``, sizes and length estimates), with none of our tasks' machinery.

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
        self.tasks: list = []  # no modcog_env Task: trials come from NeuroGym
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


__all__ = ["NEUROGYM_SEED_RANGE", "NeuroGymStreamState", "NeuroGymStreams"]
