"""Native batched vector env: many task streams stepped as arrays (DESIGN.md; STYLE.md §1).

``ModCogVectorEnv`` plays ``num_envs`` streams at once. State is arrays: the current trial of
every row padded into one block, the per-row step ``t``, trial index and flags. Rewards and
flags are array expressions of TASKS.md §7; finished rows get their next trial from one
``TaskStreams.next_trials`` call. Sub-env i after ``reset(seed=s)`` is the single env after
``reset(seed=s + i)`` (Gymnasium's convention for vector seeding).

Autoreset is "next step": a row that terminated or truncated on one call is reset on the next,
which returns its first observation with reward 0 and both flags False, ignoring its action.
Works on gymnasium 0.29 (``modcog_env.make_vec``) and 1.x (``gymnasium.make_vec``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.vector.utils import batch_space

from .env import validate_rewards
from .scheduler import Schedule
from .streams import TaskStreams

try:  # gymnasium >= 1.1
    from gymnasium.vector import AutoresetMode

    NEXT_STEP: Any = AutoresetMode.NEXT_STEP
except ImportError:  # gymnasium 0.29: no enum; the mode is declared by name
    NEXT_STEP = "next_step"

# outcome codes of a step
_GOING, _CORRECT, _FAIL, _NONE, _ABORT = 0, 1, 2, 3, 4
OUTCOMES = ("", "correct", "fail", "none", "abort")  # info["outcome"] names, as in TaskEnv


class ModCogVectorEnv(gym.vector.VectorEnv):
    """``num_envs`` copies of a task (``task=``) or multitask stream (``tasks=``) as arrays.

    Arguments as :class:`~modcog_env.env.TaskEnv` / :class:`~modcog_env.env.MultiTaskEnv`, plus
    ``num_envs`` and ``max_episode_steps`` (truncation per row; None: never).
    Observations float32 [num_envs, D]; actions int [num_envs]. ``info`` holds ``gt`` and
    ``new_trial`` arrays, and ``performance``, ``outcome`` and ``trial_index`` masked (``_key``)
    to the rows whose trial ended; every key has its Gymnasium ``_key`` mask.
    """

    metadata = {"autoreset_mode": NEXT_STEP, "render_modes": []}
    PREFETCH = 16  # trials sampled ahead per row and call (content is a pure function of (seed, k))

    def __init__(
        self,
        num_envs: int = 1,
        task: str | None = None,
        tasks: str | Sequence[str] | None = None,
        *,
        schedule: str | Schedule = "random-no-repeat",
        schedule_kwargs: Mapping[str, object] | None = None,
        convention: str = "modcog",
        dt: float | None = None,
        dim_ring: int | None = None,
        sigma: float = 1.0,
        timing: Mapping[str, object] | None = None,
        rewards: Mapping[str, float] | None = None,
        continuous: bool = False,
        abort_ends_trial: bool = False,
        max_episode_steps: int | None = None,
        render_mode: str | None = None,
    ) -> None:
        if (
            isinstance(num_envs, bool)
            or not isinstance(num_envs, (int, np.integer))
            or num_envs < 1
        ):
            raise ValueError(f"num_envs={num_envs!r} must be an int >= 1")
        if (task is None) == (tasks is None):
            raise ValueError(
                "pass exactly one of task= (one task) or tasks= (a multitask collection)"
            )
        if max_episode_steps is not None and (
            isinstance(max_episode_steps, bool)
            or not isinstance(max_episode_steps, (int, np.integer))
            or max_episode_steps < 1
        ):
            raise ValueError(f"max_episode_steps={max_episode_steps!r} must be an int >= 1 or None")
        if render_mode is not None:
            raise ValueError(
                f"render_mode={render_mode!r}: the vector env does not render; use None"
            )
        if not isinstance(continuous, bool):
            raise ValueError(f"continuous={continuous!r} must be True or False")
        if not isinstance(abort_ends_trial, bool):
            raise ValueError(f"abort_ends_trial={abort_ends_trial!r} must be True or False")
        self.abort_ends_trial = abort_ends_trial
        self.streams = TaskStreams(
            task if task is not None else tasks,
            schedule=schedule,
            schedule_kwargs=schedule_kwargs,
            convention=convention,
            dt=dt,
            dim_ring=dim_ring,
            sigma=sigma,
            timing=timing,
            rule_inputs=tasks is not None,
        )
        self.num_envs = int(num_envs)
        self.rewards = validate_rewards(rewards)
        self.continuous = continuous
        self.max_episode_steps = max_episode_steps
        self.render_mode = None
        self.single_observation_space = spaces.Box(
            -np.inf, np.inf, shape=(self.streams.ob_size,), dtype=np.float32
        )
        self.single_action_space = spaces.Discrete(self.streams.n_actions)
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self.is_vector_env = True
        self.closed = False
        self._neurogym_rewards = self.streams.tasks[0].conv.neurogym_rewards
        self._state = None
        self._np_random = None

    # ------------------------------------------------------------------------------ trials
    def _topup(self, rows: np.ndarray) -> None:
        """Compact the queues of ``rows`` (their current trial to slot 0, then the unplayed ones)
        and fill the freed slots with the next trials of each stream, in one sampling call."""
        k = self.PREFETCH
        q = self._q[rows]  # current slot; k means the queue is used up
        keep = k - q  # slots q .. k-1 stay: the current trial and the ones not played yet
        need = q
        count = np.zeros(self.num_envs, np.int64)
        count[rows] = need
        batch, _ = self.streams.next_trials(self._state, count)
        t_new = batch.max_length
        if t_new > self._qob.shape[2]:
            grow = t_new - self._qob.shape[2]
            self._qob = np.pad(self._qob, ((0, 0), (0, 0), (0, grow), (0, 0)))
            self._qlabel = np.pad(self._qlabel, ((0, 0), (0, 0), (0, grow)))
        src = np.minimum(q[:, None] + np.arange(k)[None, :], k - 1)  # slot j <- slot q + j
        self._qob[rows] = self._qob[rows[:, None], src]
        self._qlabel[rows] = self._qlabel[rows[:, None], src]
        for value in self._qinfo.values():
            value[rows] = value[rows[:, None], src]
        flat_rows = np.repeat(rows, need)
        slot = np.repeat(keep, need) + np.arange(flat_rows.size) - np.repeat(
            np.cumsum(need) - need, need
        )
        self._qob[flat_rows, slot] = 0.0
        self._qob[flat_rows, slot, :t_new] = batch.ob
        self._qlabel[flat_rows, slot] = 0
        self._qlabel[flat_rows, slot, :t_new] = batch.label
        fix = batch.stop.get("fixation")
        per_trial = {
            "length": batch.length,
            "dec_start": batch.start["decision"],
            "fix_stop": np.zeros(batch.batch_size, np.int64) if fix is None else fix,
            "go": batch.params["go"],
            "seq": batch.params["seq_sign"] != 0,
            "index": batch.index,
        }
        for key, value in per_trial.items():
            self._qinfo[key][flat_rows, slot] = value
        self._q[rows] = 0

    def _load(self, rows: np.ndarray) -> None:
        """Move ``rows`` to their next queued trial (refilling empty queues)."""
        self._q[rows] += 1
        if (self._q[rows] >= self.PREFETCH).any():
            # top up every row past half its queue at once: few, large sampling calls
            self._topup(np.flatnonzero(self._q >= self.PREFETCH // 2))
        q = self._q[rows]
        info = self._qinfo
        self._length[rows] = info["length"][rows, q]
        self._dec_start[rows] = info["dec_start"][rows, q]
        self._fix_stop[rows] = info["fix_stop"][rows, q]
        self._go[rows] = info["go"][rows, q]
        self._seq[rows] = info["seq"][rows, q]
        self._trial_index[rows] = info["index"][rows, q]
        self._t[rows] = 0
        self._broke[rows] = False

    def reset(
        self, *, seed: int | Sequence[int] | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Restart every row: row i plays trial 0 of stream ``seed + i`` (or ``seed[i]``)."""
        if seed is None:
            self._np_random = np.random.default_rng()
            base = int(self._np_random.integers(2**62))
            seeds = [base + i for i in range(self.num_envs)]
        elif isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
            self._np_random = np.random.default_rng(int(seed))
            seeds = [int(seed) + i for i in range(self.num_envs)]
        else:
            seeds = [int(s) for s in seed]
            if len(seeds) != self.num_envs:
                raise ValueError(f"seed lists {len(seeds)} seeds; num_envs is {self.num_envs}")
            self._np_random = np.random.default_rng(seeds[0])
        if options:
            raise ValueError(f"options={options!r}: the vector env takes no reset options")
        n, k = self.num_envs, self.PREFETCH
        self._state = self.streams.start(np.array(seeds, dtype=np.uint64))
        self._qob = np.zeros((n, k, 1, self.streams.ob_size), np.float32)
        self._qlabel = np.zeros((n, k, 1), np.int64)
        self._qinfo = {
            "length": np.zeros((n, k), np.int64),
            "dec_start": np.zeros((n, k), np.int64),
            "fix_stop": np.zeros((n, k), np.int64),
            "go": np.zeros((n, k), bool),
            "seq": np.zeros((n, k), bool),
            "index": np.zeros((n, k), np.int64),
        }
        self._q = np.full(n, k - 1, np.int64)  # every queue empty: the first load refills
        self._length = np.zeros(n, np.int64)
        self._dec_start = np.zeros(n, np.int64)
        self._fix_stop = np.zeros(n, np.int64)
        self._go = np.zeros(n, bool)
        self._seq = np.zeros(n, bool)
        self._trial_index = np.zeros(n, np.int64)
        self._t = np.zeros(n, np.int64)
        self._broke = np.zeros(n, bool)
        self._episode_steps = np.zeros(n, np.int64)
        self._autoreset = np.zeros(n, bool)
        rows = np.arange(n)
        self._load(rows)
        info = {"trial_index": self._trial_index.copy(), "_trial_index": np.ones(n, bool)}
        return self._qob[rows, self._q, 0], info

    def current_labels(self) -> np.ndarray:
        """int64 [num_envs]: the label each row's next action is judged against (the oracle's
        action); 0 for rows that autoreset on the next step."""
        if self._state is None:
            raise gym.error.ResetNeeded("Cannot read labels before reset()")
        rows = np.arange(self.num_envs)
        labels = self._qlabel[rows, self._q, np.minimum(self._t, self._length - 1)]
        return np.where(self._autoreset, 0, labels)

    # ------------------------------------------------------------------------------ scoring
    def _judge(self, a: np.ndarray, gt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(reward float64 [N], outcome int [N]) of actions ``a`` at each row's step ``t``."""
        r = self.rewards
        t = self._t
        in_dec = t >= self._dec_start
        last = t == self._length - 1
        resp = a != 0
        outcome = np.full(a.shape, _GOING)
        reward = np.zeros(a.shape)
        if self._neurogym_rewards:  # TASKS.md §7.3
            abort = ~in_dec & resp & (t < self._fix_stop)
            reward[abort] = r["abort"]
            hit = in_dec & resp
            outcome[hit] = np.where(a[hit] == gt[hit], _CORRECT, _FAIL)
            outcome[in_dec & ~resp & last] = _NONE
        else:  # TASKS.md §7.2
            abort = ~in_dec & resp
            reward[abort] = r["abort"]
            self._broke |= abort
            moving = in_dec & self._seq & self._go
            outcome[moving & (a != gt)] = _FAIL
            outcome[moving & (a == gt) & last] = _CORRECT
            other = in_dec & ~moving
            hit = other & resp
            outcome[hit] = np.where(a[hit] == gt[hit], _CORRECT, _FAIL)
            quiet = other & ~resp & last
            outcome[quiet] = np.where(gt[quiet] == 0, _CORRECT, _FAIL)
        if self.abort_ends_trial:
            outcome[abort] = _ABORT
        reward[outcome == _CORRECT] = r["correct"]
        reward[outcome == _FAIL] = r["fail"]
        return reward, outcome

    def step(
        self, actions: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        if self._state is None:
            raise gym.error.ResetNeeded("Cannot call step() before reset()")
        a = np.asarray(actions)
        if a.shape != (self.num_envs,) or not np.issubdtype(a.dtype, np.integer):
            raise ValueError(
                f"actions must be an int array of shape ({self.num_envs},), got {a.dtype} {a.shape}"
            )
        if a.size and (a.min() < 0 or a.max() >= self.single_action_space.n):
            raise ValueError(
                f"actions must lie in 0..{self.single_action_space.n - 1}, got {a.min()}..{a.max()}"
            )
        rows = np.arange(self.num_envs)
        resetting = self._autoreset
        if resetting.any():
            self._load(np.flatnonzero(resetting))
            self._episode_steps[resetting] = 0
        gt = self._qlabel[rows, self._q, self._t]
        # rows that autoreset this step ignore their action (act as if fixating at step 0)
        reward, outcome = self._judge(np.where(resetting, 0, a).astype(np.int64), gt)
        ended = outcome != _GOING
        correct = outcome == _CORRECT
        performance = (correct & ~self._broke) if not self._neurogym_rewards else correct
        info: dict[str, Any] = {
            "gt": np.where(resetting, 0, gt),
            "_gt": ~resetting,
            "new_trial": ended.copy(),
            "_new_trial": np.ones(self.num_envs, bool),
            "performance": performance.astype(np.float64),
            "_performance": ended.copy(),
            "outcome": np.array(OUTCOMES, dtype=object)[outcome],
            "_outcome": ended.copy(),
            "trial_index": self._trial_index.copy(),
            "_trial_index": ended.copy(),
        }
        going = ~ended & ~resetting
        self._t[going] += 1
        self._episode_steps[~resetting] += 1
        obs = np.empty((self.num_envs, self.streams.ob_size), np.float32)
        terminated = np.zeros(self.num_envs, bool)
        if self.continuous:
            if ended.any():
                self._load(np.flatnonzero(ended))
        else:
            terminated = ended
            self._t[ended] = np.minimum(self._t[ended] + 1, self._length[ended] - 1)
        obs[:] = self._qob[rows, self._q, np.minimum(self._t, self._length - 1)]
        truncated = np.zeros(self.num_envs, bool)
        if self.max_episode_steps is not None:
            # as gymnasium's TimeLimit: truncated may coincide with terminated
            truncated = (self._episode_steps >= self.max_episode_steps) & ~resetting
        self._autoreset = terminated | truncated
        return obs, reward, terminated, truncated, info

    def close(self, **kwargs: Any) -> None:
        self.closed = True


def make_vec(task: str, num_envs: int = 1, **kwargs: Any) -> ModCogVectorEnv:
    """The native vector env of a task or collection id / short name / collection key.

    Works on gymnasium 0.29 too (its ``make_vec`` is experimental); on 1.x
    ``gymnasium.make_vec(id, num_envs)`` returns the same class.
    """
    from .tasks.catalog import COLLECTION_IDS, canonical_name

    key = {v: k for k, v in COLLECTION_IDS.items()}.get(task, task)
    if key in COLLECTION_IDS or not isinstance(key, str):
        return ModCogVectorEnv(num_envs, tasks=key, **kwargs)
    return ModCogVectorEnv(num_envs, task=canonical_name(task), **kwargs)
