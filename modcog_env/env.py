"""TaskEnv: one task played step by step as a ``gymnasium.Env`` (DESIGN.md, TASKS.md §7).

The env never builds observations: it asks its task for trial ``k`` of its stream
(``task.sample(stream_seed, [k])``) and plays it. ``reset(seed=s)`` makes ``s`` the stream seed and
plays trial 0; each later ``reset()`` (no seed) plays the next trial of the same stream.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from .scheduler import Schedule
from .streams import TaskStreams
from .trials import Trial

DEFAULT_REWARDS = {"correct": 1.0, "fail": 0.0, "abort": -0.1}


def validate_rewards(rewards: Mapping[str, float] | None) -> dict[str, float]:
    """Merge user rewards into NeuroGym's defaults; unknown keys raise ``ValueError``."""
    out = dict(DEFAULT_REWARDS)
    for key, value in (rewards or {}).items():
        if key not in DEFAULT_REWARDS:
            raise ValueError(f"rewards key {key!r} is not one of {sorted(DEFAULT_REWARDS)}")
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not math.isfinite(value)
        ):
            raise ValueError(f"rewards[{key!r}]={value!r} must be a finite number")
        out[key] = float(value)
    return out


class TaskEnv(gym.Env):
    """One Mod-Cog task as a Gymnasium environment; one trial per episode unless ``continuous``.

    ## Description
    Plays the trials of one task of the 20-Cog / Mod-Cog suite (Yang et al. 2019; Khona et al.
    2023). Task semantics: ``docs/tasks.md`` and TASKS.md §3-4.

    ## Action space
    ``Discrete(1 + dim_ring)``: 0 = fixate (no response), 1 + k = respond toward direction k.

    ## Observation space
    ``Box(-inf, inf, (1 + 2 * dim_ring,), float32)``: channel 0 fixation input, then the two rings.

    ## Rewards (``modcog``, TASKS.md §7.2)
    ``abort`` (-0.1) for a response before the decision period (the trial goes on); in the decision
    period the first response ends the trial with ``correct`` (+1) or ``fail`` (0); in ``seq``
    tasks every decision step must match the moving label; a no-go trial is ``correct`` when
    withheld to the end. ``info["performance"]`` (at trial end) is 1 iff correct and fixation was
    never broken. ``reference`` reproduces NeuroGym's rewards (TASKS.md §7.3).

    ## Episode end
    ``terminated=True`` when the trial ends, unless ``continuous=True``: then trials chain forever
    and ``info["new_trial"]`` marks the step that ended one. Truncation is left to ``TimeLimit``.
    With ``abort_ends_trial=True`` a response that earns ``abort`` also ends the trial (outcome
    ``"abort"``, performance 0).

    ## Arguments
    ``task`` (short name or gym id), ``convention``, ``dt`` (ms), ``dim_ring``, ``sigma``,
    ``timing`` (period overrides), ``rewards`` (overrides of correct/fail/abort), ``continuous``,
    ``abort_ends_trial``, ``render_mode`` (``"ansi"``: a text line per step; ``"rgb_array"``: an
    RGB uint8 [H, W, 3] figure of the trial so far, needs matplotlib).

    ## Oracle policy
    ``env.unwrapped.trial`` is the current :class:`~modcog_env.trials.Trial` and ``env.unwrapped.t``
    the index of the coming step, so ``action = env.unwrapped.trial.label[env.unwrapped.t]``.
    Under ``convention="yang2019"`` the trial also carries Yang's regression target
    ``trial.y`` [T, 33], response angle ``trial.y_loc`` [T] and cost mask ``trial.c_mask``
    [T, 33]; ``dt`` and ``dim_ring`` default (``None``) to the convention's (20 ms and 32 there).

    >>> import gymnasium as gym, modcog_env
    >>> env = gym.make("ModCog-DelayGo-v0")
    >>> ob, info = env.reset(seed=123)
    >>> ob.shape, env.action_space
    ((33,), Discrete(17))

    ## Version history
    v0: initial version.
    """

    metadata = {"render_modes": ["ansi", "rgb_array"], "render_fps": 10}
    PREFETCH = 64  # trials sampled ahead (trial k is a pure function of (seed, k))

    def __init__(
        self,
        task: str = "dlygo",
        *,
        convention: str = "modcog",
        dt: float | None = None,
        dim_ring: int | None = None,
        sigma: float = 1.0,
        timing: Mapping[str, object] | None = None,
        rewards: Mapping[str, float] | None = None,
        continuous: bool = False,
        abort_ends_trial: bool = False,
        render_mode: str | None = None,
    ) -> None:
        self._setup(
            TaskStreams(
                task,
                convention=convention,
                dt=dt,
                dim_ring=dim_ring,
                sigma=sigma,
                timing=timing,
                rule_inputs=False,
            ),
            rewards,
            continuous,
            render_mode,
            abort_ends_trial,
        )
        self.task = self.streams.tasks[0]

    def _setup(
        self,
        streams: TaskStreams,
        rewards: Mapping[str, float] | None,
        continuous: bool,
        render_mode: str | None,
        abort_ends_trial: bool = False,
    ) -> None:
        self.streams = streams
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(
                f"render_mode={render_mode!r} is not supported; allowed: "
                f"{self.metadata['render_modes']} or None"
            )
        if not isinstance(continuous, bool):
            raise ValueError(f"continuous={continuous!r} must be True or False")
        if not isinstance(abort_ends_trial, bool):
            raise ValueError(f"abort_ends_trial={abort_ends_trial!r} must be True or False")
        self.abort_ends_trial = abort_ends_trial
        self.render_mode = render_mode
        self.continuous = continuous
        self.rewards = validate_rewards(rewards)
        self.dt = streams.dt
        self.observation_space = spaces.Box(
            -np.inf, np.inf, shape=(streams.ob_size,), dtype=np.float32
        )
        self.action_space = spaces.Discrete(streams.n_actions)
        self._neurogym_rewards = streams.tasks[0].conv.neurogym_rewards
        self._state = None
        self._queue: tuple[int, list[Trial] | None] = (0, None)
        self.stream_seed: int | None = None
        self.trial_index = -1
        self.trial: Trial | None = None
        self.t = 0
        self._done = True
        self._last: dict[str, Any] = {}

    # ------------------------------------------------------------------------------ trials
    def _start_trial(self, k: int) -> None:
        first, queue = self._queue
        if queue is None or not first <= k < first + len(queue):
            # sample the next PREFETCH trials of the stream at once: same trials, less overhead
            if self._state is None or int(self._state.position[0]) != k:
                self._state = self.streams.state_at([self.stream_seed], k)
            batch = self.streams.next_trials(self._state, self.PREFETCH)[0]
            # views into the private batch, which is never written after sampling
            first, queue = k, batch.trials()
            self._queue = (first, queue)
        self.trial_index = k
        self.trial = queue[k - first]
        self._labels = self.trial.label.tolist()
        self._length = len(self._labels)
        self._seq = self.trial.params["seq_sign"] != 0
        self._dec_start = self.trial.start["decision"]
        self._fix_stop = self.trial.stop.get("fixation", 0)
        self._go = bool(self.trial.params["go"])
        self.t = 0
        self.broke_fixation = False
        self._done = False
        self.actions: list[int] = []  # actions of this trial, kept when a render_mode is set

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Start trial 0 of stream ``seed``, or the next trial of the current stream if no seed.

        ``options={"trial_index": k}`` jumps to trial ``k`` of the stream.
        """
        super().reset(seed=seed)
        if seed is not None:
            self.stream_seed, k, self._state, self._queue = int(seed), 0, None, (0, None)
        elif self.stream_seed is None:
            self.stream_seed, k = int(self.np_random.integers(2**63)), 0
            self._state, self._queue = None, (0, None)
        else:
            k = self.trial_index + 1
        if options and "trial_index" in options:
            k = options["trial_index"]
            if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 0:
                raise ValueError(f"options['trial_index']={k!r} must be an int >= 0")
        self._start_trial(int(k))
        self._last = {}
        return self.trial.ob[0].copy(), {"trial_index": self.trial_index, "new_trial": True}

    # ------------------------------------------------------------------------------ scoring
    def _judge(self, action: int, gt: int, last: bool) -> tuple[float, str | None]:
        """Reward and outcome (None while the trial goes on) of ``action`` at step ``self.t``."""
        in_decision = self.t >= self._dec_start
        r = self.rewards
        if self._neurogym_rewards:  # TASKS.md §7.3
            if not in_decision:
                if action != 0 and self.t < self._fix_stop:
                    return r["abort"], ("abort" if self.abort_ends_trial else None)
                return 0.0, None
            if action != 0:
                return (r["correct"], "correct") if action == gt else (r["fail"], "fail")
            return 0.0, ("none" if last else None)
        if not in_decision:  # TASKS.md §7.2
            if action != 0:
                self.broke_fixation = True
                return r["abort"], ("abort" if self.abort_ends_trial else None)
            return 0.0, None
        if self._seq and self._go:
            if action != gt:
                return r["fail"], "fail"
            return (r["correct"], "correct") if last else (0.0, None)
        if action != 0:
            return (r["correct"], "correct") if action == gt else (r["fail"], "fail")
        if last:
            return (r["correct"], "correct") if gt == 0 else (r["fail"], "fail")
        return 0.0, None

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        if self.trial is None:
            raise gym.error.ResetNeeded("Cannot call step() before reset()")
        if self._done:
            raise gym.error.ResetNeeded("The trial has ended (terminated=True); call reset()")
        n = self.action_space.n
        if type(action) is int or isinstance(action, np.integer):  # fast path of contains()
            valid = 0 <= action < n
        else:
            valid = self.action_space.contains(action)
        if not valid:
            raise ValueError(
                f"action={action!r} is not in the action space Discrete({n}): "
                f"allowed ints 0..{n - 1}"
            )
        action = int(action)
        trial, t = self.trial, self.t
        gt = self._labels[t]
        last = t == self._length - 1
        reward, outcome = self._judge(action, gt, last)
        info: dict[str, Any] = {"gt": gt, "new_trial": outcome is not None}
        if self.render_mode is not None:
            self.actions.append(action)
            self._last = {
                "trial": trial,
                "index": self.trial_index,
                "t": t,
                "action": action,
                "gt": gt,
                "reward": reward,
                "outcome": outcome,
            }
        terminated = False
        if outcome is None:
            self.t = t + 1
            ob = trial.ob[self.t]
        else:
            correct = outcome == "correct"
            info["performance"] = float(correct and not self.broke_fixation)
            info["outcome"] = outcome
            info["trial_index"] = self.trial_index
            info["trial"] = trial.params
            if self.continuous:
                self._start_trial(self.trial_index + 1)
                ob = self.trial.ob[0]
            else:
                self._done = True
                terminated = True
                self.t = t + 1
                ob = trial.ob[min(t + 1, self._length - 1)]
        return ob.copy(), float(reward), terminated, False, info

    # ------------------------------------------------------------------------------ render
    def render(self) -> str | np.ndarray | None:
        """``"ansi"``: a text line on the last step (or the trial just reset).
        ``"rgb_array"``: uint8 [H, W, 3] figure of the current trial, actions so far, a cursor."""
        if self.render_mode is None:
            gym.logger.warn("render() called without a render_mode; pass render_mode='ansi'")
            return None
        if self.trial is None:
            if self.render_mode == "rgb_array":
                return np.zeros((384, 512, 3), np.uint8)
            return "no trial: call reset() first"
        if self.render_mode == "rgb_array":
            from .plotting import render_rgb

            trial = self.trial
            return render_rgb(
                trial,
                actions=self.actions,
                t=min(self.t, trial.length - 1),
                dim_ring=self.streams.dim_ring,
            )
        trial = self.trial
        if not self._last:
            return (
                f"{trial.task_name} trial {self.trial_index}: {trial.length} steps, "
                f"{trial.period_names}"
            )
        s = self._last
        trial = s["trial"]
        end = f" -> {s['outcome']}" if s["outcome"] else ""
        return (
            f"{trial.task_name} trial {s['index']} t={s['t']:>3} {trial.period_at(s['t']):<9} "
            f"fix={trial.ob[s['t'], 0]:+.2f} gt={s['gt']:>2} action={s['action']:>2} "
            f"reward={s['reward']:+.1f}{end}"
        )


class MultiTaskEnv(TaskEnv):
    """Several tasks in one env: a schedule picks each trial's task; a rule one-hot is appended.

    ## Observation space
    ``Box(-inf, inf, (1 + 2 * dim_ring + n,), float32)``: the single-task channels, then a one-hot
    of the current task's index in ``tasks`` (53 / 115 / 159 for 20-cog / mod-cog-82 /
    mod-cog-126 at dim_ring 16). Rule channels never carry noise. Actions, rewards and episodes are
    as in :class:`TaskEnv`.

    ## Arguments
    ``tasks``: a collection key (``"20-cog"``, ``"mod-cog-82"``, ``"mod-cog-126"``) or a list of
    short names (its order defines the rule index). ``schedule``: ``"random-no-repeat"``
    (default), ``"uniform"``, ``"weighted"`` (``schedule_kwargs={"weights": [...]}``),
    ``"sequential"``, ``"blocks"`` (``schedule_kwargs={"block_size": b}``) or a Schedule. The
    other arguments as in :class:`TaskEnv`; every task shares them.

    Trial k after ``reset(seed=s)`` is trial k of stream ``s``: the same trial that
    ``Batches(tasks, seed=s)`` puts in stream 0 (``modcog_env.stream_seed`` maps stream r).

    Registered ids: ``ModCog-20Cog-v0``, ``ModCog-ModCog82-v0``, ``ModCog-ModCog126-v0``.
    Version history: v0, initial version.
    """

    def __init__(
        self,
        tasks: str | list[str] = "20-cog",
        *,
        schedule: str | Schedule = "random-no-repeat",
        schedule_kwargs: Mapping[str, object] | None = None,
        convention: str = "modcog",
        dt: float | None = None,
        dim_ring: int | None = None,
        sigma: float = 1.0,
        rewards: Mapping[str, float] | None = None,
        continuous: bool = False,
        abort_ends_trial: bool = False,
        render_mode: str | None = None,
    ) -> None:
        self._setup(
            TaskStreams(
                tasks,
                schedule=schedule,
                schedule_kwargs=schedule_kwargs,
                convention=convention,
                dt=dt,
                dim_ring=dim_ring,
                sigma=sigma,
                rule_inputs=True,
            ),
            rewards,
            continuous,
            render_mode,
            abort_ends_trial,
        )
        self.tasks = self.streams.names

    @property
    def task(self):  # the task of the current trial
        if self.trial is None:
            return None
        return self.streams.tasks[self.streams.names.index(self.trial.task_name)]
