"""Gymnasium-facing behaviour of every registered task (modelled on Gymnasium's
``tests/envs/test_envs.py`` and MiniGrid's ``tests/test_envs.py``).

Expected rewards and outcomes are derived from TASKS.md §7, never read back from the code.
"""

from __future__ import annotations

import inspect
import json
import pickle
import re
import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from utils import (
    family_of,
    fixate_action,
    id_of,
    is_go_trial,
    oracle_action,
    play_trial,
    rollout,
    short_name,
    split_name,
    unexpected_warnings,
)

CONVENTIONS = ("modcog", "reference")
N_RING = 16  # default dim_ring (TASKS.md §1)
REWARD_CORRECT, REWARD_FAIL, REWARD_ABORT = 1.0, 0.0, -0.1  # TASKS.md §7.2


def _check_env(env: gym.Env, render: bool) -> None:
    """``check_env`` on gymnasium 0.29 (no skip_close_check) and 1.x, every check on except, if
    ``render`` is False, the render check (in 1.x it makes and renders one env per render mode,
    and rgb_array draws a matplotlib figure: ~1 s per env)."""
    params = inspect.signature(check_env).parameters
    kwargs = {"skip_render_check": not render}
    if "skip_close_check" in params:
        kwargs["skip_close_check"] = False
    check_env(env, **kwargs)


def _decision_start(trial) -> int:
    return trial.start["decision"]


def _oracle_end_step(trial, seq: bool) -> int:
    """Step at which the oracle's trial ends under ``modcog`` (TASKS.md §7.2): the first decision
    step on a go trial without seq, else the last step (seq go trials and no-go trials)."""
    if is_go_trial(trial) and not seq:
        return _decision_start(trial)
    return trial.length - 1


def _is_seq(spec_id: str) -> bool:
    return "seq" in split_name(short_name(spec_id))[1]


# ------------------------------------------------------------------------------ checkers
@pytest.mark.parametrize("convention", CONVENTIONS)
def test_check_env(any_spec_id, convention):
    env = gym.make(any_spec_id, convention=convention).unwrapped
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _check_env(env, render=False)
    assert unexpected_warnings(caught) == []
    env.close()


RENDER_CHECK_IDS = ["ModCog-DelayGo-v0", "ModCog-DMCIntLSeqR-v0", "ModCog-20Cog-v0"]


@pytest.mark.parametrize("render_mode", [None, "ansi", "rgb_array"])
@pytest.mark.parametrize("env_id", RENDER_CHECK_IDS)
def test_check_env_with_render(env_id, render_mode):
    if "rgb_array" in gym.make(env_id).metadata["render_modes"]:
        pytest.importorskip("matplotlib")  # the render check makes every mode in metadata
    env = gym.make(env_id, render_mode=render_mode).unwrapped
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _check_env(env, render=True)
    assert unexpected_warnings(caught) == []


def test_make_spaces_and_passive_checker(spec_id):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        env = gym.make(spec_id)
        assert env.observation_space.shape == (1 + 2 * N_RING,)
        assert env.observation_space.dtype == np.float32
        assert env.action_space == gym.spaces.Discrete(1 + N_RING)
        obs, info = env.reset(seed=0)
        assert obs.shape == (33,) and obs.dtype == np.float32
        assert isinstance(info, dict)
        obs, reward, terminated, truncated, info = env.step(0)
        assert obs.shape == (33,) and obs.dtype == np.float32
        assert type(reward) is float
        assert type(terminated) is bool and type(truncated) is bool
        assert isinstance(info, dict) and "gt" in info
    assert unexpected_warnings(caught) == []


# ------------------------------------------------------------------------------ determinism
def _assert_same_records(a, b):
    assert len(a) == len(b)
    for (o1, r1, te1, tr1, i1, a1), (o2, r2, te2, tr2, i2, a2) in zip(a, b, strict=True):
        assert a1 == a2
        np.testing.assert_array_equal(o1, o2)
        assert r1 == r2 and te1 == te2 and tr1 == tr2
        assert i1.get("gt") == i2.get("gt")
        assert i1.get("new_trial") == i2.get("new_trial")
        assert i1.get("performance") == i2.get("performance")


@pytest.mark.parametrize("convention", CONVENTIONS)
def test_determinism_rollout(any_spec_id, convention):
    env_1 = gym.make(any_spec_id, convention=convention, disable_env_checker=True)
    env_2 = gym.make(any_spec_id, convention=convention, disable_env_checker=True)
    records_1 = rollout(env_1, seed=123, n_steps=60, action_seed=7)
    records_2 = rollout(env_2, seed=123, n_steps=60, action_seed=7)
    assert sum(r[2] for r in records_1) >= 1, "the rollout should cross a reset"
    _assert_same_records(records_1, records_2)


def _oracle_obs(env, seed: int, n_trials: int) -> np.ndarray:
    env.reset(seed=seed)
    obs = []
    for k in range(n_trials):
        if k:
            env.reset()
        obs.append(env.unwrapped.trial.ob)
        play_trial(env, oracle_action)
    return np.concatenate(obs)


@pytest.mark.parametrize("convention", CONVENTIONS)
def test_different_seeds_differ(spec_id, convention):
    env = gym.make(spec_id, convention=convention, disable_env_checker=True)
    obs_1 = _oracle_obs(env, seed=1, n_trials=3)
    obs_2 = _oracle_obs(env, seed=2, n_trials=3)
    assert obs_1.shape != obs_2.shape or not np.array_equal(obs_1, obs_2)


@pytest.mark.parametrize("convention", CONVENTIONS)
def test_reset_plays_trials_of_the_stream(spec_id, convention):
    """reset(seed=s) plays trial 0 of stream s, each reset() the next trial (DESIGN: env)."""
    env = gym.make(spec_id, convention=convention)
    task = env.unwrapped.task
    seed = 2024
    for k in range(3):
        obs, info = env.reset(seed=seed) if k == 0 else env.reset()
        expected = task.sample(seed, [k]).trial(0)
        assert info["trial_index"] == k == env.unwrapped.trial_index
        np.testing.assert_array_equal(obs, expected.ob[0])
        np.testing.assert_array_equal(env.unwrapped.trial.label, expected.label)
        end = _oracle_end_step(expected, _is_seq(spec_id)) if convention == "modcog" else None
        for t in range(expected.length):
            obs, _, terminated, _, info = env.step(oracle_action(env))
            if terminated:
                assert end is None or t == end
                break
            np.testing.assert_array_equal(obs, expected.ob[t + 1])
        else:
            pytest.fail("the trial did not terminate")


@pytest.mark.parametrize("k", [0, 5, 1000])
def test_reset_option_trial_index(sampled_spec_id, k):
    env = gym.make(sampled_spec_id)
    task = env.unwrapped.task
    obs, info = env.reset(seed=9, options={"trial_index": k})
    assert info["trial_index"] == k
    np.testing.assert_array_equal(obs, task.sample(9, [k]).ob[0, 0])
    obs, info = env.reset()
    assert info["trial_index"] == k + 1
    np.testing.assert_array_equal(obs, task.sample(9, [k + 1]).ob[0, 0])


# ------------------------------------------------------------------------------ pickle, json
def test_pickle_round_trip(sampled_spec_id):
    env = gym.make(sampled_spec_id)
    env.reset(seed=5)
    for _ in range(3):
        env.step(0)
    copy = pickle.loads(pickle.dumps(env))
    env.action_space.seed(3)
    copy.action_space.seed(3)
    for _ in range(60):
        a = int(env.action_space.sample())
        assert a == int(copy.action_space.sample())
        out_1, out_2 = env.step(a), copy.step(a)
        np.testing.assert_array_equal(out_1[0], out_2[0])
        assert out_1[1:4] == out_2[1:4]
        assert out_1[4]["gt"] == out_2[4]["gt"]
        if out_1[2]:
            np.testing.assert_array_equal(env.reset()[0], copy.reset()[0])


def test_spec_to_json(spec_id):
    spec = gym.spec(spec_id)
    json.dumps(spec.kwargs)  # JSON-friendly kwargs (the short name, not a Task object)
    if not hasattr(spec, "to_json"):
        pytest.skip("this gymnasium has no EnvSpec.to_json")
    restored = gym.envs.registration.EnvSpec.from_json(spec.to_json())
    assert restored == spec
    made = gym.make(spec_id, convention="reference", dt=20, timing={"decision": 400})
    assert json.loads(made.spec.to_json())["kwargs"]["convention"] == "reference"


# ------------------------------------------------------------------------------ step protocol
def test_step_before_reset_raises():
    env = gym.make("ModCog-DelayGo-v0")
    with pytest.raises(gym.error.ResetNeeded):
        env.step(0)
    with pytest.raises(gym.error.ResetNeeded):
        env.unwrapped.step(0)


@pytest.mark.parametrize("wrapped", [True, False], ids=["make", "unwrapped"])
def test_step_after_terminated_raises(wrapped):
    env = gym.make("ModCog-DMS-v0")
    env = env if wrapped else env.unwrapped
    env.reset(seed=0)
    _, _, n = play_trial(env, fixate_action)
    assert n == env.unwrapped.trial.length
    with pytest.raises(gym.error.ResetNeeded):
        env.step(0)
    env.reset()
    env.step(0)  # playable again after reset


@pytest.mark.parametrize("action", [17, -1])
def test_action_outside_space_raises(action):
    env = gym.make("ModCog-DelayGo-v0")
    env.reset(seed=0)
    with pytest.raises(ValueError, match=re.escape(f"action={action}")) as err:
        env.step(action)
    assert "0..16" in str(err.value)


# ------------------------------------------------------------------------------ continuous
def test_continuous_chains_trials(sampled_spec_id):
    env = gym.make(sampled_spec_id, continuous=True)
    seed = 31
    env.reset(seed=seed)
    task, seq = env.unwrapped.task, _is_seq(sampled_spec_id)
    k, t, trial = 0, 0, task.sample(seed, [0]).trial(0)
    ends = 0
    for _ in range(500):
        obs, reward, terminated, truncated, info = env.step(oracle_action(env))
        assert not terminated and not truncated
        ended = t == _oracle_end_step(trial, seq)
        assert info["new_trial"] is ended
        assert ("performance" in info) is ended
        if ended:
            assert info["performance"] == 1.0
            assert info["trial_index"] == k
            k, t, trial = k + 1, 0, task.sample(seed, [k + 1]).trial(0)
            ends += 1
            assert env.unwrapped.trial_index == k
            np.testing.assert_array_equal(obs, trial.ob[0])
        else:
            t += 1
            np.testing.assert_array_equal(obs, trial.ob[t])
    assert ends >= 500 // 40


def test_continuous_random_actions_report_each_trial_end(sampled_spec_id):
    env = gym.make(sampled_spec_id, continuous=True, convention="reference")
    env.reset(seed=4)
    env.action_space.seed(4)
    expected_index = 0
    for _ in range(300):
        _, _, terminated, _, info = env.step(int(env.action_space.sample()))
        assert not terminated
        assert ("performance" in info) is info["new_trial"]
        if info["new_trial"]:
            assert info["trial_index"] == expected_index
            assert info["performance"] in (0.0, 1.0)
            expected_index += 1
    assert expected_index >= 300 // 40


# ------------------------------------------------------------------------------ rewards
def test_oracle_reward_is_one_on_every_trial(task_name, run_all):
    """TASKS.md §7.2: the oracle earns exactly +1 and performance 1 on every trial."""
    env = gym.make(id_of(task_name))
    n_trials = 200 if run_all else 12
    go_seen = nogo_seen = 0
    env.reset(seed=77)
    for k in range(n_trials):
        if k:
            env.reset()
        go = is_go_trial(env.unwrapped.trial)
        rewards, info, _ = play_trial(env, oracle_action)
        assert sum(rewards) == REWARD_CORRECT, (k, rewards)
        assert info["performance"] == 1.0
        go_seen += go
        nogo_seen += not go
    assert go_seen > 0
    if family_of(task_name) == "match":
        assert nogo_seen > 0  # half the match trials are no-go (TASKS.md §3.3)
    else:
        assert nogo_seen == 0


def test_always_fixate(task_name):
    """TASKS.md §7.2: always fixating scores 0 on go trials and 1 (+1 reward) on no-go trials."""
    env = gym.make(id_of(task_name))
    env.reset(seed=8)
    for k in range(10):
        if k:
            env.reset()
        go = is_go_trial(env.unwrapped.trial)
        trial = env.unwrapped.trial
        rewards, info, n = play_trial(env, fixate_action)
        # a seq go trial fails at its first decision step (action 0 is an error there); otherwise
        # withholding runs to the last step
        seq_go = go and "seq" in split_name(task_name)[1]
        assert n == (_decision_start(trial) + 1 if seq_go else trial.length)
        assert info["performance"] == (0.0 if go else 1.0)
        assert sum(rewards) == (REWARD_FAIL if go else REWARD_CORRECT)


def _early_then_oracle(step_of_response: int):
    def policy(env):
        if env.unwrapped.t == step_of_response:
            return 1
        return oracle_action(env)

    return policy


def test_early_response_modcog(sampled_task_name):
    """TASKS.md §7.2: a pre-decision response costs `abort` (-0.1), the trial goes on, and
    performance is 0 even if the rest is correct; this holds in every pre-decision period."""
    env = gym.make(id_of(sampled_task_name))
    env.reset(seed=12)
    for k in range(6):
        if k:
            env.reset()
        trial = env.unwrapped.trial
        step = k % _decision_start(trial)  # step 0, 1, ...: fixation and later periods
        rewards, info, _ = play_trial(env, _early_then_oracle(step))
        assert rewards[step] == REWARD_ABORT
        assert rewards[:step] == [0.0] * step
        assert info["outcome"] == "correct"
        assert info["performance"] == 0.0
        assert sum(rewards) == pytest.approx(REWARD_ABORT + REWARD_CORRECT, abs=1e-12)


def test_early_response_reference(sampled_task_name):
    """TASKS.md §7.3: under reference, abort only in the period named fixation; performance is
    whatever the decision earns (an early response is not remembered)."""
    env = gym.make(id_of(sampled_task_name), convention="reference")
    ref = gym.make(id_of(sampled_task_name), convention="reference")
    env.reset(seed=13)
    ref.reset(seed=13)
    checked_outside_fixation = False
    for k in range(8):
        if k:
            env.reset()
            ref.reset()
        trial = env.unwrapped.trial
        # a fixation step, then the last pre-decision step
        step = 0 if k % 2 == 0 else _decision_start(trial) - 1
        in_fixation = trial.start["fixation"] <= step < trial.stop["fixation"]
        checked_outside_fixation |= not in_fixation
        rewards, info, _ = play_trial(env, _early_then_oracle(step))
        clean_rewards, clean_info, _ = play_trial(ref, oracle_action)
        assert rewards[step] == (REWARD_ABORT if in_fixation else 0.0)
        assert info["performance"] == clean_info["performance"]
        assert rewards[step + 1:] == clean_rewards[step + 1:]
    if len(env.unwrapped.trial.period_names) > 2:  # rtgo/rtanti: fixation >> decision only
        assert checked_outside_fixation


def test_reward_overrides():
    env = gym.make("ModCog-DelayGo-v0", rewards={"correct": 2.0, "abort": -0.5, "fail": -1.0})
    env.reset(seed=0)
    rewards, info, _ = play_trial(env, oracle_action)
    assert sum(rewards) == 2.0 and info["performance"] == 1.0
    env.reset()
    rewards, info, _ = play_trial(env, _early_then_oracle(0))
    assert rewards[0] == -0.5 and rewards[-1] == 2.0
    env.reset()
    trial = env.unwrapped.trial
    wrong = 1 + (int(trial.label[_decision_start(trial)]) % N_RING)  # another response class
    rewards, info, _ = play_trial(
        env, lambda e: wrong if e.unwrapped.t >= _decision_start(trial) else 0
    )
    assert rewards[-1] == -1.0 and info["outcome"] == "fail" and info["performance"] == 0.0


# ------------------------------------------------------------------------------ render
def _period_at(trial, t: int) -> str:
    return next(p for p in trial.start if trial.start[p] <= t < trial.stop[p])


def test_render_ansi(sampled_spec_id):
    env = gym.make(sampled_spec_id, render_mode="ansi")
    env.reset(seed=3)
    text = env.render()
    assert isinstance(text, str)
    for _ in range(40):
        trial, t = env.unwrapped.trial, env.unwrapped.t
        _, _, terminated, _, _ = env.step(0)
        text = env.render()
        assert isinstance(text, str)
        assert _period_at(trial, t) in text
        if terminated:
            env.reset()
