"""The RL contract of the step API (TASKS.md §7.2, §7.3; docs/rl.md) and stable-baselines3.

Every expected reward here comes from :func:`score_trial`, a transcription of TASKS.md §7 that
reads only the trial's labels, its period bounds and the actions taken, never the env's scorer.
Policies: the oracle (label of the coming step), always-fixate, uniform random, a "sticky"
random policy (mostly fixates, so trials reach the decision period) and a noisy oracle (so seq
trials sometimes succeed and sometimes fail mid-way).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from utils import family_of, id_of, representative_ids, short_name, split_name

import modcog_env

REWARDS = {"correct": 1.0, "fail": 0.0, "abort": -0.1}  # TASKS.md §7.2
N_RING = 16
MULTITASK_IDS = ("ModCog-20Cog-v0", "ModCog-ModCog82-v0", "ModCog-ModCog126-v0")
SAMPLE_IDS = tuple(representative_ids()) + MULTITASK_IDS
# one id per family x modifier kind that matters for scoring (plain, int, seq, int x seq)
FAMILY_IDS = (
    "ModCog-ReactGo-v0",
    "ModCog-DelayGoIntLSeqR-v0",
    "ModCog-MultiDM-v0",
    "ModCog-DelayDM1IntR-v0",
    "ModCog-DMSSeqL-v0",
    "ModCog-DNMCIntRSeqL-v0",
    "ModCog-20Cog-v0",
)
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


# ------------------------------------------------------------------------------ §7 transcribed
def score_trial(
    trial, actions: list[int], convention: str = "modcog", abort_ends_trial: bool = False
) -> tuple[list[float], str, float]:
    """Rewards per step, outcome and performance of ``actions`` on ``trial`` per TASKS.md §7.

    ``actions`` may run past the trial's end; the unused tail is ignored. The outcome is
    ``"correct"``, ``"fail"``, ``"none"`` (§7.3: no response) or ``"abort"`` (the
    ``abort_ends_trial`` option).
    """
    labels = np.asarray(trial.label)
    dec = trial.start["decision"]
    last = trial.length - 1
    go = bool(np.any(labels[dec:] != 0))  # TASKS.md §1: a go trial has a non-zero label
    seq = "seq" in split_name(trial.task_name)[1]
    in_fixation_period = range(trial.start.get("fixation", 0), trial.stop.get("fixation", 0))
    rewards: list[float] = []
    broke = False
    for t, a in enumerate(actions[: trial.length]):
        if t < dec:  # pre-decision
            abort = a != 0 and (convention == "modcog" or t in in_fixation_period)
            rewards.append(REWARDS["abort"] if abort else 0.0)
            broke |= abort and convention == "modcog"
            if abort and abort_ends_trial:
                return rewards, "abort", 0.0
            continue
        if convention == "reference":  # §7.3: first response decides; silence earns nothing
            if a != 0:
                outcome = "correct" if a == labels[t] else "fail"
            elif t == last:
                outcome = "none"
            else:
                rewards.append(0.0)
                continue
        elif go and seq:  # §7.2: every decision step must equal the moving label
            if a != labels[t]:
                outcome = "fail"
            elif t == last:
                outcome = "correct"
            else:
                rewards.append(0.0)
                continue
        elif a != 0:  # go without seq, or no-go: the first response ends the trial
            outcome = "correct" if a == labels[t] else "fail"
        elif t == last:  # withheld to the end
            outcome = "fail" if go else "correct"
        else:
            rewards.append(0.0)
            continue
        rewards.append(REWARDS["correct"] if outcome == "correct" else REWARDS["fail"])
        return rewards, outcome, float(outcome == "correct" and not broke)
    raise AssertionError("actions end before the trial does")


def _policies(rng: np.random.Generator):
    """name -> function(trial, t) -> action."""
    n = N_RING + 1
    return {
        "oracle": lambda trial, t: int(trial.label[t]),
        "fixate": lambda trial, t: 0,
        "random": lambda trial, t: int(rng.integers(n)),
        "sticky": lambda trial, t: int(rng.integers(n)) if rng.random() < 0.15 else 0,
        "noisy_oracle": lambda trial, t: (
            int(trial.label[t]) if rng.random() < 0.9 else int(rng.integers(n))
        ),
    }


def _play(env: gym.Env, act) -> tuple[list[int], list[float], dict, int]:
    """Play the current trial of ``env`` to its end; actions, rewards, last info, step count."""
    trial = env.unwrapped.trial
    actions, rewards = [], []
    for n in range(1, trial.length + 1):
        assert env.unwrapped.trial is trial
        a = act(trial, env.unwrapped.t)
        _, reward, terminated, truncated, info = env.step(a)
        actions.append(a)
        rewards.append(reward)
        assert not truncated
        if env.unwrapped.continuous:
            assert not terminated
        else:
            assert info["new_trial"] is terminated
        if info["new_trial"]:
            return actions, rewards, info, n
        assert not terminated
    raise AssertionError(f"trial {trial.index} did not end within its {trial.length} steps")


# ------------------------------------------------------------------------------ rewards
@pytest.mark.parametrize("abort_ends_trial", [False, True], ids=["abort-goes-on", "abort-ends"])
@pytest.mark.parametrize("convention", ["modcog", "reference"])
@pytest.mark.parametrize("env_id", SAMPLE_IDS)
def test_rewards_follow_tasks_md_section_7(env_id, convention, abort_ends_trial):
    """Step by step, every policy's rewards, outcome and performance equal the §7 rules."""
    kwargs = {"convention": convention}
    if abort_ends_trial:
        kwargs["abort_ends_trial"] = True
    env = gym.make(env_id, **kwargs)
    rng = np.random.default_rng(5)
    policies = _policies(rng)
    names = list(policies)
    env.reset(seed=31)
    for k in range(2 * len(names)):
        if k:
            env.reset()
        trial = env.unwrapped.trial
        name = names[k % len(names)]
        actions, rewards, info, n = _play(env, policies[name])
        want_rewards, want_outcome, want_perf = score_trial(
            trial, actions, convention, abort_ends_trial
        )
        assert rewards == pytest.approx(want_rewards, abs=1e-12), (name, k, actions)
        assert n == len(want_rewards)
        assert info["outcome"] == want_outcome, (name, k, actions)
        assert info["performance"] == want_perf, (name, k, actions)


@pytest.mark.parametrize("env_id", SAMPLE_IDS)
def test_policy_reward_totals(env_id):
    """TASKS.md §7.2 totals: oracle +1 on every trial; always-fixate 0 on go and +1 on no-go
    trials; uniform random: -0.1 per pre-decision response plus 0 or +1 from the decision."""
    env = gym.make(env_id)
    rng = np.random.default_rng(0)
    policies = _policies(rng)
    env.reset(seed=4)
    for k in range(12):
        if k:
            env.reset()
        trial = env.unwrapped.trial
        dec = trial.start["decision"]
        go = bool(np.any(trial.label[dec:] != 0))
        name = ("oracle", "fixate", "random")[k % 3]
        actions, rewards, info, _ = _play(env, policies[name])
        total = sum(rewards)
        if name == "oracle":
            assert total == REWARDS["correct"] and info["performance"] == 1.0
        elif name == "fixate":
            assert total == (REWARDS["fail"] if go else REWARDS["correct"])
            assert info["performance"] == (0.0 if go else 1.0)
        else:
            aborts = sum(a != 0 for a in actions[:dec])
            end = REWARDS["correct"] if info["outcome"] == "correct" else REWARDS["fail"]
            assert total == pytest.approx(REWARDS["abort"] * aborts + end, abs=1e-12)
            assert info["performance"] == float(info["outcome"] == "correct" and aborts == 0)


def test_random_policy_abort_cost_statistics():
    """Uniform random actions over 1+N classes respond on a pre-decision step with probability
    N/(N+1), so the mean abort cost of a trial is -0.1 * N/(N+1) * (pre-decision steps)
    (TASKS.md §7.2), here on 2000 go trials of dlygo (15 pre-decision steps, TASKS.md §3.1)."""
    env = gym.make("ModCog-DelayGo-v0")
    rng = np.random.default_rng(11)
    n_trials, n_pre = 2000, 15
    costs = []
    env.reset(seed=2)
    for k in range(n_trials):
        if k:
            env.reset()
        assert env.unwrapped.trial.start["decision"] == n_pre
        cost = 0.0
        for _ in range(n_pre):
            _, reward, terminated, _, _ = env.step(int(rng.integers(N_RING + 1)))
            cost += reward
            assert not terminated
        costs.append(cost)
    p = N_RING / (N_RING + 1)
    mean = REWARDS["abort"] * n_pre * p
    se = abs(REWARDS["abort"]) * np.sqrt(n_pre * p * (1 - p) / n_trials)
    assert abs(np.mean(costs) - mean) < 5 * se


# ------------------------------------------------------------------------------ abort option
@pytest.mark.parametrize("continuous", [False, True])
@pytest.mark.parametrize("env_id", FAMILY_IDS)
def test_abort_ends_trial(env_id, continuous):
    """``abort_ends_trial=True``: a pre-decision response earns `abort` (-0.1) and ends the
    trial at once, with outcome "abort" and performance 0; the next trial follows."""
    env = gym.make(env_id, abort_ends_trial=True, continuous=continuous)
    env.reset(seed=9)
    for k in range(6):
        trial = env.unwrapped.trial
        assert trial.index == k
        step = k % trial.start["decision"]
        for t in range(step):
            _, reward, terminated, _, info = env.step(int(trial.label[t]))
            assert (reward, terminated, info["new_trial"]) == (0.0, False, False)
        ob, reward, terminated, truncated, info = env.step(1 + k % N_RING)
        assert reward == REWARDS["abort"]
        assert terminated is not continuous and truncated is False
        assert info["new_trial"] is True
        assert info["outcome"] == "abort" and info["performance"] == 0.0
        assert info["trial_index"] == k
        if continuous:
            np.testing.assert_array_equal(ob, env.unwrapped.trial.ob[0])
            assert env.unwrapped.trial.index == k + 1
        else:
            env.reset()


def test_abort_ends_trial_reference_only_in_fixation():
    """Under `reference` abort exists only in the period named fixation (§7.3), so only there
    can it end the trial; a response in the stimulus period is free and the trial goes on."""
    env = gym.make("ModCog-DelayGo-v0", convention="reference", abort_ends_trial=True)
    env.reset(seed=0)
    trial = env.unwrapped.trial
    t_stim = trial.start["stimulus"]
    for _ in range(t_stim):
        env.step(0)
    _, reward, terminated, _, info = env.step(3)
    assert (reward, terminated, info["new_trial"]) == (0.0, False, False)
    env.reset()
    _, reward, terminated, _, info = env.step(3)
    assert (reward, terminated, info["outcome"]) == (REWARDS["abort"], True, "abort")


def test_abort_ends_trial_rejects_non_bool():
    with pytest.raises(ValueError, match="abort_ends_trial=1 must be True or False"):
        gym.make("ModCog-Go-v0", abort_ends_trial=1)


# ------------------------------------------------------------------------------ episodes, info
@pytest.mark.parametrize("env_id", FAMILY_IDS)
def test_episode_is_one_trial_and_info_keys(env_id):
    """One trial per episode: ``terminated`` exactly at the trial's end, ``reset()`` plays the
    next trial of the stream. ``gt`` is the label of the step just judged; the trial-end step
    alone carries performance, outcome, trial_index and the trial parameters."""
    env = gym.make(env_id)
    rng = np.random.default_rng(1)
    policies = _policies(rng)
    ob, info = env.reset(seed=21)
    assert info["trial_index"] == 0 and info["new_trial"] is True
    for k in range(8):
        if k:
            ob, info = env.reset()
            assert info["trial_index"] == k
        trial = env.unwrapped.trial
        np.testing.assert_array_equal(ob, trial.ob[0])
        act = policies[("sticky", "noisy_oracle")[k % 2]]
        for t in range(trial.length):
            ob, reward, terminated, truncated, info = env.step(act(trial, t))
            assert isinstance(reward, float) and truncated is False
            assert info["gt"] == trial.label[t]
            assert info["new_trial"] is terminated
            end_keys = {"performance", "outcome", "trial_index", "trial"}
            if not terminated:
                assert not end_keys & info.keys()
                np.testing.assert_array_equal(ob, trial.ob[t + 1])
                continue
            assert end_keys <= info.keys()
            assert info["trial_index"] == k
            assert info["performance"] in (0.0, 1.0)
            params = info["trial"]
            for key in ("go", "response", "delay_ms", "int_sign", "seq_sign"):  # TASKS.md §1
                assert key in params
            assert bool(params["go"]) == bool(np.any(trial.label != 0))
            break
        with pytest.raises(gym.error.ResetNeeded):
            env.unwrapped.step(0)


@pytest.mark.parametrize("env_id", FAMILY_IDS)
def test_continuous_mode_chains_trials_with_the_same_rewards(env_id):
    """``continuous=True``: never terminated; ``new_trial`` marks each trial's last step, the
    next observation is step 0 of the next trial, and rewards follow §7 trial by trial."""
    env = gym.make(env_id, continuous=True)
    rng = np.random.default_rng(3)
    policies = _policies(rng)
    names = list(policies)
    env.reset(seed=8)
    for k in range(10):
        trial = env.unwrapped.trial
        assert trial.index == k
        actions, rewards, info, _ = _play(env, policies[names[k % len(names)]])
        want, outcome, perf = score_trial(trial, actions)
        assert rewards == pytest.approx(want, abs=1e-12)
        assert (info["outcome"], info["performance"], info["trial_index"]) == (outcome, perf, k)


# ------------------------------------------------------------------------------ vector env
def _vector_policy_run(vec, steps: int, policy: str, rng: np.random.Generator):
    """Step ``vec`` with ``policy``; returns per-row lists of (trial return, performance, gt at
    the trial's last step) for every finished trial."""
    n = vec.num_envs
    ends: list[list[tuple[float, float, int]]] = [[] for _ in range(n)]
    returns = np.zeros(n)
    for _ in range(steps):
        if policy == "oracle":
            actions = vec.current_labels()
        elif policy == "fixate":
            actions = np.zeros(n, np.int64)
        else:
            actions = rng.integers(N_RING + 1, size=n)
        _, reward, terminated, truncated, info = vec.step(actions)
        returns += reward
        assert not truncated.any()
        np.testing.assert_array_equal(terminated, info["new_trial"])
        np.testing.assert_array_equal(info["_performance"], info["new_trial"])
        for i in np.flatnonzero(terminated):
            ends[i].append((returns[i], info["performance"][i], int(info["gt"][i])))
            returns[i] = 0.0
    return ends


@pytest.mark.parametrize("env_id", FAMILY_IDS)
def test_vector_env_policy_totals(env_id):
    """The native vector env under the §7 totals: oracle (``current_labels()``) +1 and
    performance 1 per trial; always-fixate 0 on go and +1 on no-go trials (a no-go trial ends
    on a step whose label is 0, a go trial on a step whose label is not)."""
    vec = modcog_env.make_vec(env_id, num_envs=4)
    vec.reset(seed=0)
    for row in _vector_policy_run(vec, 120, "oracle", None):
        assert row and all(r == REWARDS["correct"] and p == 1.0 for r, p, _ in row)
    vec.reset(seed=1)
    nogo_seen = 0
    for row in _vector_policy_run(vec, 120, "fixate", None):
        assert row
        for r, p, gt in row:
            go = gt != 0
            nogo_seen += not go
            assert r == (REWARDS["fail"] if go else REWARDS["correct"])
            assert p == (0.0 if go else 1.0)
    if env_id not in MULTITASK_IDS and family_of(short_name(env_id)) == "match":
        assert nogo_seen > 0  # half the match trials are no-go (TASKS.md §3.3)


@pytest.mark.parametrize("abort_ends_trial", [False, True], ids=["abort-goes-on", "abort-ends"])
@pytest.mark.parametrize("env_id", FAMILY_IDS)
def test_vector_env_rows_score_like_single_envs(env_id, abort_ends_trial):
    """Row i of the vector env after ``reset(seed=s)`` is the single env after
    ``reset(seed=s + i)``; under random actions both give the same rewards, flags and
    performance, including the abort option. The vector env's step after a trial end is its
    autoreset step (reward 0, flags False, action ignored)."""
    n = 3
    kw = {"abort_ends_trial": True} if abort_ends_trial else {}
    vec = modcog_env.make_vec(env_id, num_envs=n, **kw)
    singles = [gym.make(env_id, **kw) for _ in range(n)]
    obs, _ = vec.reset(seed=40)
    for i, env in enumerate(singles):
        ob, _ = env.reset(seed=40 + i)
        np.testing.assert_array_equal(obs[i], ob)
    rng = np.random.default_rng(2)
    pending = np.zeros(n, bool)  # rows whose next vector step is the autoreset step
    for _ in range(150):
        actions = rng.integers(N_RING + 1, size=n)
        actions[rng.random(n) < 0.6] = 0
        obs, reward, terminated, truncated, info = vec.step(actions)
        for i, env in enumerate(singles):
            if pending[i]:
                ob, _ = env.reset()
                assert (reward[i], terminated[i], truncated[i]) == (0.0, False, False)
            else:
                ob, r, te, tr, inf = env.step(int(actions[i]))
                assert (reward[i], terminated[i], truncated[i]) == (r, te, tr)
                assert info["gt"][i] == inf["gt"]
                if te:
                    assert info["_performance"][i]
                    assert info["performance"][i] == inf["performance"]
            np.testing.assert_array_equal(obs[i], ob)
        pending = terminated | truncated


def test_vector_current_labels_before_reset_raises():
    vec = modcog_env.make_vec("go", num_envs=2)
    with pytest.raises(gym.error.ResetNeeded, match="before reset"):
        vec.current_labels()


# ------------------------------------------------------------------------------ stable-baselines3
@pytest.mark.parametrize("convention", ["modcog", "reference"])
@pytest.mark.parametrize("env_id", SAMPLE_IDS)
def test_sb3_check_env(env_id, convention):
    """stable-baselines3's own checker passes, warnings included, on a sample of every family
    x modifier kind, the 20 bases and the three multitask ids."""
    import warnings

    pytest.importorskip("stable_baselines3")
    from stable_baselines3.common.env_checker import check_env

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(gym.make(env_id, convention=convention), warn=True)
        check_env(gym.make(env_id, convention=convention, continuous=True).unwrapped, warn=True)


@pytest.mark.parametrize("env_id", FAMILY_IDS)
def test_sb3_make_vec_env_monitor_oracle(env_id):
    """``make_vec_env`` (DummyVecEnv + Monitor): SB3 autoresets each env with ``reset()``, which
    plays the next trial of the stream; the Monitor's episode return is +1 for the oracle."""
    pytest.importorskip("stable_baselines3")
    from stable_baselines3.common.env_util import make_vec_env

    venv = make_vec_env(env_id, n_envs=3, seed=5)
    venv.reset()
    episodes = 0
    for _ in range(80):
        actions = np.array([e.unwrapped.trial.label[e.unwrapped.t] for e in venv.envs])
        _, rewards, dones, infos = venv.step(actions)
        for i in np.flatnonzero(dones):
            assert infos[i]["episode"]["r"] == REWARDS["correct"]
            assert infos[i]["performance"] == 1.0
            assert "terminal_observation" in infos[i]
            episodes += 1
    assert episodes >= 3 * 2
    trial_indices = [e.unwrapped.trial_index for e in venv.envs]
    assert all(k >= 2 for k in trial_indices)
    venv.close()


def _load_example(name: str):
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_recurrent_ppo_example_smoke():
    """The RecurrentPPO example's code path with a tiny budget (one rollout, one update)."""
    pytest.importorskip("sb3_contrib")
    example = _load_example("rl_recurrent_ppo")
    out = example.main(
        task="rtgo", timesteps=256, seed=0, eval_trials=4, verbose=False,
        n_envs=2, n_steps=64, batch_size=64, n_epochs=1,
    )
    for key in ("random", "before", "after"):
        assert 0.0 <= out[key]["performance"] <= 1.0
    assert out["task"] == "ModCog-ReactGo-v0" and out["train_seconds"] > 0
    args = example.parse_args(["--task", "go", "--timesteps", "10", "--seed", "3"])
    assert (args.task, args.timesteps, args.seed) == ("go", 10, 3)


def test_rl_loop_example_smoke():
    """The vector-env loop example: the oracle earns +1 per trial and performance 1, the random
    policy pays aborts (TASKS.md §7.2)."""
    example = _load_example("rl_loop")
    out = example.main(task="dms", num_envs=4, steps=200, seed=0, verbose=False)
    assert out["oracle"]["performance"] == 1.0
    assert out["oracle"]["reward_per_trial"] == pytest.approx(REWARDS["correct"])
    assert out["random"]["reward_per_trial"] < 0.0
    assert out["random"]["performance"] < 0.2
    assert id_of("dms") == out["task"]
