"""Native vector env: sub-env i is the single env reset with seed s + i (Gymnasium's vector
seeding), stepped with "next step" autoreset (issue "... and a native vector env").

The single env (TaskEnv / MultiTaskEnv, optionally under TimeLimit) is the reference: both are
stepped side by side with the same actions and must agree on every observation, reward and flag.
After a row ends, the next vector step must return the row's new first observation (what the
single env's ``reset()`` returns) with reward 0 and both flags False, ignoring the action.
"""

from __future__ import annotations

import re

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.vector.utils import batch_space

import modcog_env
from modcog_env import ModCogVectorEnv, MultiTaskEnv, TaskEnv

GYM_1X = int(gym.__version__.split(".")[0]) >= 1
N_RING = 16
CUSTOM = ["dlygo", "dm1", "dms", "rtgoseqr", "dnmcintl", "go"]


def _single(task, tasks, max_episode_steps=None, **kwargs):
    env = TaskEnv(task, **kwargs) if task is not None else MultiTaskEnv(tasks, **kwargs)
    if max_episode_steps is not None:
        env = gym.wrappers.TimeLimit(env, max_episode_steps=max_episode_steps)
    return env


def _run_side_by_side(
    n_envs: int,
    n_steps: int,
    *,
    task=None,
    tasks=None,
    seed: int = 100,
    max_episode_steps=None,
    oracle_prob: float = 0.7,
    **kwargs,
) -> dict:
    """Step a vector env and ``n_envs`` single envs together; assert they agree at every step.

    Returns counters (trial ends, autoresets, truncations) so tests can check what was covered.
    """
    vec = ModCogVectorEnv(
        n_envs, task=task, tasks=tasks, max_episode_steps=max_episode_steps, **kwargs
    )
    singles = [_single(task, tasks, max_episode_steps, **kwargs) for _ in range(n_envs)]
    obs, info = vec.reset(seed=seed)
    assert obs.shape == (n_envs, vec.single_observation_space.shape[0])
    assert obs.dtype == np.float32
    for i, env in enumerate(singles):
        ob_s, _ = env.reset(seed=seed + i)
        np.testing.assert_array_equal(obs[i], ob_s)
    pending = [False] * n_envs  # single env i ended: its next move is reset()
    rng = np.random.default_rng(seed)
    counts = {"ends": 0, "autoresets": 0, "truncations": 0, "performance_ones": 0}
    n_actions = vec.single_action_space.n
    n_obs = vec.single_observation_space.shape[0]
    # per row and trial: the oracle throughout, or a mix of oracle and random actions
    all_oracle = rng.random(n_envs) < 0.5
    for _ in range(n_steps):
        actions = rng.integers(0, n_actions, n_envs)
        use_oracle = rng.random(n_envs) < oracle_prob
        for i, env in enumerate(singles):
            inner = env.unwrapped
            if (all_oracle[i] or use_oracle[i]) and not pending[i]:
                actions[i] = inner.trial.label[min(inner.t, inner.trial.length - 1)]
        obs, reward, terminated, truncated, info = vec.step(actions)
        assert obs.dtype == np.float32 and obs.shape == (n_envs, n_obs)
        assert terminated.dtype == bool and truncated.dtype == bool
        for i, env in enumerate(singles):
            if pending[i]:
                ob_s, _ = env.reset()
                np.testing.assert_array_equal(obs[i], ob_s)
                assert reward[i] == 0.0
                assert not terminated[i] and not truncated[i]
                assert not info["_performance"][i]
                pending[i] = False
                counts["autoresets"] += 1
                continue
            ob_s, r_s, term_s, trunc_s, info_s = env.step(int(actions[i]))
            np.testing.assert_array_equal(obs[i], ob_s)
            assert reward[i] == r_s
            assert terminated[i] == term_s
            if trunc_s and not term_s:
                assert truncated[i]
                counts["truncations"] += 1
            assert bool(terminated[i] or truncated[i]) == bool(term_s or trunc_s)
            assert info["new_trial"][i] == info_s["new_trial"]
            assert info["gt"][i] == info_s["gt"]
            if "performance" in info_s:
                assert info["_performance"][i]
                assert info["performance"][i] == info_s["performance"]
                counts["ends"] += 1
                counts["performance_ones"] += info_s["performance"] == 1.0
            else:
                assert not info["_performance"][i]
            pending[i] = bool(term_s or trunc_s)
            if pending[i] or info_s["new_trial"]:
                all_oracle[i] = rng.random() < 0.5
    return counts


# ------------------------------------------------------------------------------ equivalence
@pytest.mark.parametrize("convention", ["modcog", "reference"])
@pytest.mark.parametrize("continuous", [False, True], ids=["episodic", "continuous"])
@pytest.mark.parametrize(
    "which", [{"task": "dmsseqr"}, {"task": "dlygointl"}, {"tasks": CUSTOM}],
    ids=["dmsseqr", "dlygointl", "custom"],
)
def test_rows_equal_single_envs(which, continuous, convention):
    counts = _run_side_by_side(
        4, 300, convention=convention, continuous=continuous, **which
    )
    assert counts["ends"] >= 20
    assert counts["performance_ones"] >= 5
    if continuous:
        assert counts["autoresets"] == 0
    else:
        assert counts["autoresets"] >= 20


def test_rows_equal_single_envs_collection_dt20():
    counts = _run_side_by_side(3, 400, tasks="20-cog", dt=20, sigma=0.5, seed=7)
    assert counts["ends"] >= 6


@pytest.mark.parametrize("continuous", [False, True], ids=["episodic", "continuous"])
def test_max_episode_steps_truncation_matches_time_limit(continuous):
    counts = _run_side_by_side(
        3, 250, tasks=CUSTOM, max_episode_steps=12, continuous=continuous, seed=3
    )
    assert counts["truncations"] >= 10
    assert counts["autoresets"] >= 10


def test_truncation_then_next_trial():
    vec = ModCogVectorEnv(2, task="dlygo", max_episode_steps=5)  # dlygo trials last 20 steps
    vec.reset(seed=0)
    fix = np.zeros(2, np.int64)
    for _ in range(4):
        _, _, terminated, truncated, _ = vec.step(fix)
        assert not terminated.any() and not truncated.any()
    _, _, terminated, truncated, _ = vec.step(fix)
    assert truncated.all() and not terminated.any()
    obs, reward, terminated, truncated, info = vec.step(fix)
    assert not truncated.any() and not terminated.any() and not reward.any()
    single = TaskEnv("dlygo")
    for i in range(2):
        single.reset(seed=i, options={"trial_index": 1})  # the next trial of stream i
        np.testing.assert_array_equal(obs[i], single.trial.ob[0])


def test_terminated_row_resets_on_next_step_only():
    vec = ModCogVectorEnv(2, task="rtgo")  # 10 steps, decision from step 5 (TASKS.md §3.1)
    single = TaskEnv("rtgo")
    vec.reset(seed=50)
    single.reset(seed=51)
    label = single.trial.label
    # row 0 keeps fixating; row 1 responds correctly at the first decision step
    for t in range(6):
        a = np.array([0, label[t]])
        obs, reward, terminated, truncated, info = vec.step(a)
    assert terminated.tolist() == [False, True] and reward[1] == 1.0
    assert info["_performance"].tolist() == [False, True] and info["performance"][1] == 1.0
    obs, reward, terminated, truncated, info = vec.step(np.array([0, 5]))  # action 5 ignored
    single.reset()
    np.testing.assert_array_equal(obs[1], single.trial.ob[0])
    assert reward[1] == 0.0 and not terminated[1] and not truncated[1]


# ------------------------------------------------------------------------------ make_vec, spaces
def test_gym_make_vec_returns_native_vector_env():
    if not GYM_1X:
        pytest.skip("gymnasium 0.29's make_vec is experimental; modcog_env.make_vec is tested")
    vec = gym.make_vec("ModCog-DMS-v0", num_envs=4)
    assert isinstance(vec, ModCogVectorEnv)
    assert vec.num_envs == 4
    assert vec.metadata["autoreset_mode"] == gym.vector.AutoresetMode.NEXT_STEP
    multi = gym.make_vec("ModCog-20Cog-v0", num_envs=2, convention="reference")
    assert isinstance(multi, ModCogVectorEnv)
    assert multi.single_observation_space.shape == (53,)
    assert multi.streams.convention == "reference"


def test_autoreset_mode_metadata():
    mode = ModCogVectorEnv.metadata["autoreset_mode"]
    if GYM_1X:
        assert mode == gym.vector.AutoresetMode.NEXT_STEP
    else:
        assert str(mode).lower().replace("_", "") in ("nextstep", "autoresetmode.nextstep")


@pytest.mark.parametrize(
    "name, size",
    [("ModCog-DMS-v0", 33), ("dlygo", 33), ("ModCog-20Cog-v0", 53), ("mod-cog-82", 115)],
)
def test_modcog_make_vec(name, size):
    vec = modcog_env.make_vec(name, num_envs=3)
    assert isinstance(vec, ModCogVectorEnv) and vec.num_envs == 3
    assert vec.single_observation_space.shape == (size,)
    obs, _ = vec.reset(seed=1)
    assert obs.shape == (3, size)


@pytest.mark.parametrize("which", [{"task": "dms"}, {"tasks": CUSTOM}], ids=["task", "tasks"])
def test_spaces_are_batched_single_spaces(which):
    vec = ModCogVectorEnv(5, **which)
    single = _single(which.get("task"), which.get("tasks"))
    assert vec.single_observation_space == single.observation_space
    assert vec.single_action_space == single.action_space
    assert vec.observation_space == batch_space(single.observation_space, 5)
    assert vec.action_space == batch_space(single.action_space, 5)
    assert vec.single_action_space == gym.spaces.Discrete(1 + N_RING)


def test_reset_with_seed_list_and_determinism():
    vec = ModCogVectorEnv(3, tasks=CUSTOM)
    a, _ = vec.reset(seed=[10, 11, 12])
    b, _ = vec.reset(seed=10)
    np.testing.assert_array_equal(a, b)
    c, _ = vec.reset(seed=[12, 10, 11])
    np.testing.assert_array_equal(c, b[[2, 0, 1]])


# ------------------------------------------------------------------------------ errors
@pytest.mark.parametrize(
    "actions",
    [np.array([0, 17, 0]), np.array([0, -1, 0]), np.array([0, 1]), np.array([0.0, 1.0, 2.0])],
    ids=["too-high", "negative", "wrong-shape", "float"],
)
def test_bad_actions_raise(actions):
    vec = ModCogVectorEnv(3, task="dms")
    vec.reset(seed=0)
    with pytest.raises(ValueError, match=re.escape("actions must")):
        vec.step(actions)


def test_step_before_reset_raises():
    with pytest.raises(gym.error.ResetNeeded):
        ModCogVectorEnv(2, task="dms").step(np.zeros(2, np.int64))


@pytest.mark.parametrize(
    "kwargs, fragment",
    [
        ({"num_envs": 0, "task": "dms"}, "num_envs=0"),
        ({"num_envs": 2}, "exactly one of task="),
        ({"num_envs": 2, "task": "dms", "tasks": CUSTOM}, "exactly one of task="),
        ({"num_envs": 2, "task": "dms", "max_episode_steps": 0}, "max_episode_steps=0"),
        ({"num_envs": 2, "task": "dms", "continuous": 1}, "continuous=1"),
        ({"num_envs": 2, "task": "dms", "rewards": {"win": 1.0}}, "'win'"),
    ],
)
def test_bad_arguments_raise(kwargs, fragment):
    with pytest.raises(ValueError, match=re.escape(fragment)):
        ModCogVectorEnv(**kwargs)


def test_seed_list_of_wrong_length_raises():
    vec = ModCogVectorEnv(3, task="dms")
    with pytest.raises(ValueError, match=re.escape("num_envs is 3")):
        vec.reset(seed=[1, 2])


# ------------------------------------------------------------------------------ info
def test_performance_reported_only_on_trial_ends():
    vec = ModCogVectorEnv(4, tasks=["go", "dms"])
    vec.reset(seed=1)
    ends = 0
    for _ in range(120):
        obs, reward, terminated, truncated, info = vec.step(np.zeros(4, np.int64))
        np.testing.assert_array_equal(info["_performance"], info["new_trial"])
        np.testing.assert_array_equal(info["_performance"], terminated)
        ends += int(terminated.sum())
        # "always fixate": performance 0 on go trials, 1 on no-go trials (TASKS.md §7.2)
        for i in np.flatnonzero(terminated):
            assert info["performance"][i] == (1.0 if reward[i] == 1.0 else 0.0)
    assert ends >= 10
