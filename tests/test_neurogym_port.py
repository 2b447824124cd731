"""NeuroGym's own test functions, re-run on bridged tasks (``ModCogNgym-*`` ids).

Ported from neurogym/neurogym ``tests/`` (NeuroGym 2.3.1 installed; the functions of
``test_envs.py``, ``test_data.py``, ``test_reset_step.py``, ``test_core.py``,
``wrappers/test_wrappers.py``, ``wrappers/test_sidebias.py``, ``wrappers/test_monitor.py``),
written anew with NeuroGym's assertions. Tasks: ``sampled_task_name`` from ``conftest.py``, i.e.
the 20 bases of 20-Cog plus one Mod-Cog task per (family, modifier kind), all 126 with ``--all``.
Skipped where neurogym is missing.

Adaptations (how envs are built, and only that):

1. Envs come from ``ngym.make(neurogym_id(task), ...)`` (or the registered id string) instead of
   NeuroGym's ``all_envs()`` loop; one test per task instead of one loop over every env.
2. ``test_dataset``: ``cache_len=int(1e4)``; NeuroGym's float ``1e4`` makes NeuroGym 2.3.1's own
   ``Dataset`` raise, which its ``test_dataset_all`` swallows with ``except BaseException``.
3. ``test_plot_envs``: errors are not caught (NeuroGym logs and continues); run on one task per
   family by default, on every sampled task with ``--all`` (a figure costs ~1 s).
4. ``test_reset_step``: ``_setup_env`` wraps a bridged task instead of ``all_envs()[0]``;
   ``test_reset_with_scheduler``/``test_schedule_envs`` schedule the 20 bridged tasks instead of
   NeuroGym's 20 ``yang19`` envs.
5. ``test_trial_length_stats``: NeuroGym's ``DummyEnv(timing)`` is ``dm1`` (periods fixation,
   stimulus, decision) with that ``timing``; the empty-timing case cannot apply (a task always
   has periods).
6. ``test_string_methods``: the class name in ``<OrderEnforcing<...>>`` is ``NeuroGymTaskEnv``.
7. ``test_reactiontime`` (NeuroGym: ``PerceptualDecisionMaking`` with ``abort=True``): tasks
   with a ``stimulus`` period and no ``seq`` modifier (ReactionTime needs ``stimulus``; under
   ``seq`` a correct response does not end the trial, TASKS.md §7.2), built with
   ``abort_ends_trial=True`` (NeuroGym's ``abort``) and NeuroGym's ``timing`` for the periods the
   task has; ``test_noise`` likewise takes NeuroGym's ``timing`` where the task has those periods.
   The per-step random numbers come from a seeded generator.
8. ``wrappers/test_sidebias.py`` (NeuroGym: a 2-choice ``MockTrialEnv``): the match family,
   whose ``choices`` are ``["match", "non-match"]``; the test mutates ``env.choices`` as
   NeuroGym's does.
9. ``wrappers/test_monitor.py`` (NeuroGym: a ``DummyEnv`` that ends a trial on every step and
   rewards action 1): the "rewarding action" is the oracle's (``gt_now``); step counts become
   "until N trials ended"; the env is built with ``rewards={"abort": 0.0}`` so a random policy's
   cumulative trial reward lies in [0, 1] as NeuroGym's assertion expects of its DummyEnv; files
   go to ``tmp_path``; the training-history figure is looked for where NeuroGym 2.3.1 writes it
   (``save_dir / "training_history.pdf"``). The Monitor's per-step figures
   (``config.monitor.plot``, one figure every 3-10 steps) are turned off: with one-step trials
   NeuroGym's tests draw at most a few, with our 10-40-step trials they would draw dozens, and no
   assertion reads them (``test_plot`` covers plotting).
10. The three ``Dataset``-heavy tests (``test_dataset``, ``test_examples_different_*``: 16-32
   rows of 1e4 steps each) run by default on ``DATASET_DEFAULT``, which covers every family and
   every modifier kind; on every sampled task with ``--all``.
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest

ngym = pytest.importorskip("neurogym")

from neurogym.config.config import Config  # noqa: E402
from neurogym.core import TrialWrapper, env_string  # noqa: E402
from neurogym.envs.registration import all_tags  # noqa: E402
from neurogym.utils.data import Dataset  # noqa: E402
from neurogym.utils.scheduler import RandomSchedule  # noqa: E402
from neurogym.wrappers import Monitor, Noise, PassAction, PassReward, ReactionTime  # noqa: E402
from neurogym.wrappers.block import ScheduleEnvs  # noqa: E402
from neurogym.wrappers.side_bias import SideBias  # noqa: E402

from modcog_env import COLLECTIONS  # noqa: E402
from modcog_env.neurogym_bridge import neurogym_id  # noqa: E402

pytestmark = pytest.mark.filterwarnings(
    "ignore:.*get variables from other wrappers is deprecated",
    "ignore:.*environment creator metadata",
)
SEED = 0
PLOT_DEFAULT = ("dms", "dm1", "dlygo")  # one per family, without --all
# every family and every modifier kind (adaptation 10), without --all
DATASET_DEFAULT = (
    "go", "dm1", "dms", "antiseql", "ctxdm1seqr", "dmcintr", "ctxdlydm1intl", "dlyantiintrseqr",
    "dmcintrseql", "ctxdlydm1intlseqr", "dlyantiintlseql",
)  # fmt: skip


def make_env(task: str, **kwargs):
    return ngym.make(neurogym_id(task), **kwargs)


def _has(task: str, *periods: str) -> bool:
    return all(p in make_env(task).unwrapped.task.periods for p in periods)


# ------------------------------------------------------------------------------------ test_envs.py
def _test_run(env, num_steps=100):
    env.reset()
    for _ in range(num_steps):
        action = env.action_space.sample()
        _state, _rew, terminated, _truncated, _info = env.step(action)
        if terminated:
            env.reset()
    tags = env.metadata.get("tags", [])
    assert all(t in all_tags() for t in tags)
    return env


def test_run(sampled_task_name):
    _test_run(make_env(sampled_task_name))


def _dataset_heavy(task: str, run_all: bool) -> None:
    if not run_all and task not in DATASET_DEFAULT:
        pytest.skip("Dataset-heavy: DATASET_DEFAULT without --all (adaptation 10)")


def test_dataset(sampled_task_name, run_all):
    _dataset_heavy(sampled_task_name, run_all)
    kwargs = {"dt": 20}
    dataset = Dataset(neurogym_id(sampled_task_name), env_kwargs=kwargs, batch_size=16,
                      seq_len=300, cache_len=int(1e4))  # fmt: skip
    for _ in range(10):
        inputs, target = dataset()
        assert inputs.shape[0] == target.shape[0]


def test_trialenv(sampled_task_name):
    env = make_env(sampled_task_name)
    trial = env.new_trial()
    assert isinstance(trial, dict)


def _test_seeding(task):
    env = make_env(task, dt=20)
    env.seed(SEED)
    env.reset()
    ob_mat, rew_mat, act_mat = [], [], []
    for _ in range(100):
        action = env.action_space.sample()
        ob, rew, terminated, _truncated, _info = env.step(action)
        ob_mat.append(ob)
        rew_mat.append(rew)
        act_mat.append(action)
        if terminated:
            env.reset()
    return np.array(ob_mat), np.array(rew_mat), np.array(act_mat)


def test_seeding(sampled_task_name):
    obs1, rews1, acts1 = _test_seeding(sampled_task_name)
    obs2, rews2, acts2 = _test_seeding(sampled_task_name)
    assert (obs1 == obs2).all(), "obs are not identical"
    assert (rews1 == rews2).all(), "rewards are not identical"
    assert (acts1 == acts2).all(), "actions are not identical"


def test_plot(sampled_task_name, run_all):
    if not run_all and sampled_task_name not in PLOT_DEFAULT:
        pytest.skip("plots one task per family without --all")
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    env = make_env(sampled_task_name, dt=20)
    action = np.zeros_like(env.action_space.sample())
    ngym.utils.plot_env(env, num_trials=2, def_act=action)
    plt.close("all")


# ------------------------------------------------------------------------------------ test_data.py
def test_registered_env(sampled_task_name):
    batch_size, seq_len = 32, 40
    dataset = Dataset(neurogym_id(sampled_task_name), env_kwargs={"dt": 100},
                      batch_size=batch_size, seq_len=seq_len)  # fmt: skip
    for _ in range(2):
        inputs, target = dataset()
        assert inputs.shape[0] == seq_len
        assert inputs.shape[1] == batch_size
        assert target.shape[0] == seq_len
        assert target.shape[1] == batch_size


def _test_examples_different(env) -> None:
    dataset = Dataset(env, batch_size=32, seq_len=1000)
    inputs, target = dataset()
    batch_diff_inputs = inputs - np.mean(inputs, axis=1, keepdims=True)
    batch_diff_target = target - np.mean(target, axis=1, keepdims=True)
    assert np.sum(batch_diff_inputs**2) > 0
    assert np.sum(batch_diff_target**2) > 0


def test_examples_different_registered_env(sampled_task_name, run_all):
    _dataset_heavy(sampled_task_name, run_all)
    _test_examples_different(neurogym_id(sampled_task_name))


def test_examples_different_made_env(sampled_task_name, run_all):
    _dataset_heavy(sampled_task_name, run_all)
    _test_examples_different(make_env(sampled_task_name))


# ------------------------------------------------------------------------------ test_reset_step.py
class CstObTrialWrapper(TrialWrapper):
    def __init__(self, env, cst_ob) -> None:
        super().__init__(env)
        self.cst_ob = cst_ob

    def new_trial(self, **kwargs):
        trial = self.env.new_trial(**kwargs)
        self.ob = np.repeat(self.cst_ob[None, :], self.ob.shape[0], axis=0)
        return trial

    def step(self, action):
        _, reward, terminated, truncated, info = self.env.step(action)
        new_ob = self.ob[self.t_ind]
        return new_ob, reward, terminated, truncated, info


def _cst_ob():
    return np.random.default_rng(SEED).random(10)


def test_wrapper_new_trial(sampled_task_name):
    cst_ob = _cst_ob()
    env = CstObTrialWrapper(make_env(sampled_task_name), cst_ob)
    env.new_trial()
    ob = env.ob[0]
    assert ob.shape == cst_ob.shape, f"Got shape {ob.shape} but expected shape {cst_ob.shape}"
    assert np.all(ob == cst_ob)


def test_wrapper_reset(sampled_task_name):
    cst_ob = _cst_ob()
    env = CstObTrialWrapper(make_env(sampled_task_name), cst_ob)
    ob, _ = env.reset()
    assert ob.shape == cst_ob.shape, f"Got shape {ob.shape} but expected shape {cst_ob.shape}"
    assert np.all(ob == cst_ob)


def test_wrapper_step(sampled_task_name):
    cst_ob = _cst_ob()
    env = CstObTrialWrapper(make_env(sampled_task_name), cst_ob)
    env.reset()
    ob, _, _, _, _ = env.step(env.action_space.sample())
    assert ob.shape == cst_ob.shape, f"Got shape {ob.shape} but expected shape {cst_ob.shape}"
    assert np.all(ob == cst_ob)


def test_reset_with_scheduler():
    envs = [make_env(task) for task in COLLECTIONS["20-cog"]]
    env = ScheduleEnvs(envs, schedule=RandomSchedule(len(envs)), env_input=True)
    env.reset()
    env.step(env.action_space.sample())


def test_schedule_envs():
    envs = [make_env(task) for task in COLLECTIONS["20-cog"]]
    for i, env in enumerate(envs):
        envs[i] = CstObTrialWrapper(env, np.array([i]))
    env = ScheduleEnvs(envs, schedule=RandomSchedule(len(envs)), env_input=True)
    env.reset()
    for _ in range(5):
        env.new_trial()
        assert np.all([ob == env.i_env for ob in env.ob])
        assert env.i_env == np.argmax(env.unwrapped.ob[0, -len(envs) :])


# ------------------------------------------------------------------------------------ test_core.py
TRIAL_LENGTH_CASES = [
    ({"fixation": 300, "stimulus": 500, "decision": 200},
     {"mean": 10, "std": 0, "percentile_95": 10, "max": 10}),
    ({"fixation": 300, "stimulus": ["uniform", [400, 600]], "decision": 200},
     {"mean": 10, "std": 0, "percentile_95": 10, "max": 10}),
    ({"fixation": 300, "stimulus": ["truncated_exponential", [400, 100, 500]], "decision": 200},
     {"mean": 8, "std": 1, "percentile_95": 8, "max": 8}),
    ({"fixation": 300, "stimulus": ["choice", [300, 400, 500]], "decision": 200},
     {"mean": 9, "std": 0, "percentile_95": 9, "max": 9}),
]  # fmt: skip


@pytest.mark.parametrize(("timing", "expected_stats"), TRIAL_LENGTH_CASES)
def test_trial_length_stats(timing, expected_stats):
    dt = 100
    env = make_env("dm1", dt=dt, timing=timing).unwrapped
    env.seed(42)
    stats = env.trial_length_stats(num_trials=1000)
    for key, expected in expected_stats.items():
        assert np.isclose(stats[key], expected, atol=1), (
            f"{key} = {stats[key]} not close to {expected}"
        )


def test_string_methods():
    env = make_env("dlyanti")
    print(env)  # noqa: T201
    print(env_string(env))  # noqa: T201
    assert str(env) == "<OrderEnforcing<NeuroGymTaskEnv>>"


# ----------------------------------------------------------------------- wrappers/test_wrappers.py
def test_passaction(sampled_task_name):
    env = PassAction(make_env(sampled_task_name))
    env.reset()
    for _ in range(100):
        action = env.action_space.sample()
        obs, _rew, terminated, _truncated, _info = env.step(action)
        assert obs[-1] == action, "Previous action is not part of observation"
        if terminated:
            env.reset()


def test_passreward(sampled_task_name):
    env = PassReward(make_env(sampled_task_name))
    obs, _ = env.reset()
    for _ in range(100):
        action = env.action_space.sample()
        obs, rew, terminated, _truncated, _info = env.step(action)
        assert obs[-1] == rew, "Previous reward is not part of observation"
        if terminated:
            env.reset()


def _timing_for(task: str, timing: dict) -> dict:
    periods = make_env(task).unwrapped.task.periods
    return {p: v for p, v in timing.items() if p in periods}


def test_reactiontime(sampled_task_name):
    task = sampled_task_name
    if not _has(task, "stimulus") or "seq" in task:
        pytest.skip("ReactionTime needs a stimulus period and a response that ends the trial")
    timing = _timing_for(task, {"fixation": 100, "stimulus": 2000, "decision": 200})
    env = ReactionTime(make_env(task, timing=timing, abort_ends_trial=True), urgency=-0.1)
    thresholds = [-0.5, 0.5]
    env.reset()
    obs_cum, step, end_of_trial = 0, 0, False
    for i in range(200):
        if obs_cum > thresholds[1]:
            action = 1
        elif obs_cum < thresholds[0]:
            action = 2
        else:
            action = 0
        end_of_trial = env.in_period("decision") and action != 0
        obs, rew, _terminated, _truncated, info = env.step(action)
        if info["new_trial"]:
            step, obs_cum, end_of_trial = 0, 0, False
        else:
            step += 1
            assert not end_of_trial, (
                f"Trial ended after decision ({action}) on iteration {i}, step {step}."
            )
            obs_cum += obs[1] - obs[2]


def test_noise(sampled_task_name):
    timing = _timing_for(sampled_task_name, {"fixation": 100, "stimulus": 200, "decision": 200})
    env = Noise(make_env(sampled_task_name, timing=timing))
    env.reset()
    perf, std_noise = [], 0.2
    rng = np.random.default_rng(SEED)
    for _ in range(200):
        action = env.action_space.sample() if rng.random() < std_noise else env.gt_now
        _obs, _rew, terminated, _truncated, info = env.step(action)
        if "std_noise" in info:
            std_noise = info["std_noise"]
        if info["new_trial"]:
            perf.append(info["performance"])
        if terminated:
            env.reset()
    assert np.mean(perf[-50:]) < 1


# ----------------------------------------------------------------------- wrappers/test_sidebias.py
MATCH_TASKS = ("dms", "dnms", "dmc", "dnmc", "dmsintr", "dnmcseql")


@pytest.mark.parametrize("task", MATCH_TASKS)
def test_probs_validation(task):
    env = make_env(task).unwrapped
    msg = (
        "probs must be a 2D list of lists (matrix) with shape (n_blocks, n_choices),"
        "e.g., probs = [[0.5, 0.5], [0.2, 0.8], [0.8, 0.2]] for n_blocks = 3 and n_choices = 2."
    )
    with pytest.raises(TypeError, match=re.escape(msg)):
        SideBias(env, probs=None)
    with pytest.raises(TypeError, match=re.escape(msg)):
        SideBias(env, probs=0.8)
    with pytest.raises(TypeError, match=re.escape(msg)):
        SideBias(env, probs=[0.8, 0.2])
    with pytest.raises(ValueError):
        SideBias(env, probs=[[0.8, 0.1, 0.1], [0.2, 0.4, 0.4]])
    with pytest.raises(ValueError):
        SideBias(env, probs=[[0.8, 0.1], [0.2, 0.9]])
    env.choices = [0, 1, 2]
    with pytest.raises(ValueError):
        SideBias(env, probs=[[0.8, 0.4, -0.2], [0.2, 0, 0.8]])
    env.choices = [0, 1]
    wrapper = SideBias(env, probs=[[0.8, 0.2], [0.2, 0.8], [0.5, 0.5]])
    assert wrapper.choice_prob.shape == (3, 2)
    assert np.allclose(np.sum(wrapper.choice_prob, axis=1), 1.0)


@pytest.mark.parametrize("task", MATCH_TASKS)
def test_block_dur_validation(task):
    env = make_env(task).unwrapped
    probs = [[0.8, 0.2], [0.2, 0.8]]
    assert SideBias(env, probs=probs, block_dur=200).block_dur == 200
    for bad in (0, -10, 0.0, 1.0, 1.5, (100,), (100, 200, 300), (0, 200), (300, 200)):
        with pytest.raises(ValueError):
            SideBias(env, probs=probs, block_dur=bad)
    assert SideBias(env, probs=probs, block_dur=0.1).block_dur == 0.1
    assert SideBias(env, probs=probs, block_dur=(100, 300)).block_dur == (100, 300)
    for bad in ((100.5, 200), "invalid", [100, 200]):
        with pytest.raises(TypeError):
            SideBias(env, probs=probs, block_dur=bad)


@pytest.mark.parametrize("task", MATCH_TASKS)
def test_block_switching_behavior(task):
    env = make_env(task).unwrapped
    probs = [[0.8, 0.2], [0.2, 0.8], [0.4, 0.6]]
    block_dur = 5
    wrapper = SideBias(env, probs=probs, block_dur=block_dur)
    initial_block = wrapper.curr_block
    for i in range(10):
        wrapper.new_trial()
        if i < block_dur - 1:
            assert wrapper.curr_block == initial_block
        elif i == block_dur - 1:
            assert wrapper.curr_block != initial_block
            break
    env.seed(42)
    wrapper = SideBias(env, probs=probs, block_dur=0.5)
    switches = 0
    for _ in range(100):
        old_block = wrapper.curr_block
        wrapper.new_trial()
        switches += wrapper.curr_block != old_block
    assert 30 <= switches <= 70, f"Expected ~50 switches, got {switches}"
    env.seed(123)
    wrapper = SideBias(env, probs=probs, block_dur=(2, 4))
    block_changes, current_block, trial_count = [], wrapper.curr_block, 0
    for _ in range(50):
        wrapper.new_trial()
        trial_count += 1
        if wrapper.curr_block != current_block:
            block_changes.append(trial_count)
            current_block, trial_count = wrapper.curr_block, 0
    for duration in block_changes:
        assert 2 <= duration <= 4, f"Block duration {duration} not in [2, 4]"


# ------------------------------------------------------------------------ wrappers/test_monitor.py
MONITOR_TASKS = ("dm1", "dlygo", "dms", "ctxdlydm2intlseqr")


def _monitor_env(task):
    return make_env(task, rewards={"abort": 0.0})


def _steps_until_trials(monitor, n_trials, policy):
    trials = 0
    while trials < n_trials:
        _, _, _, _, info = monitor.step(policy())
        trials += info.get("new_trial", False)


@pytest.mark.parametrize("task", MONITOR_TASKS)
def test_monitor_initialization(task, tmp_path):
    config = Config(local_dir=tmp_path)
    config.monitor.plot.step = 10
    config.monitor.trigger = "trial"
    monitor = Monitor(_monitor_env(task), config)
    assert monitor.config.monitor.plot.step == 10
    assert monitor.config.monitor.trigger == "trial"
    assert monitor.config.local_dir == tmp_path
    assert monitor.data == {"action": [], "reward": [], "cum_reward": [], "performance": []}
    assert hasattr(monitor, "data_eval")
    assert isinstance(monitor.data_eval, dict)


@pytest.mark.parametrize("task", MONITOR_TASKS)
def test_monitor_data_collection(task, tmp_path):
    config = Config(local_dir=tmp_path)
    config.monitor.interval = 100
    config.monitor.trigger = "trial"
    config.monitor.verbose = False
    config.monitor.plot.create = False  # adaptation 9
    monitor = Monitor(_monitor_env(task), config)
    monitor.reset()
    ended = 0
    while ended < 5:
        action = int(monitor.unwrapped.gt_now)  # the rewarding action
        _, _, _, _, info = monitor.step(action)
        if info.get("new_trial", False):
            ended += 1
            assert len(monitor.data["action"]) > 0
            assert len(monitor.data["reward"]) > 0
            assert len(monitor.data["cum_reward"]) > 0
            assert len(monitor.data["performance"]) > 0
            assert action in monitor.data["action"]
            assert 1.0 in monitor.data["reward"]


@pytest.mark.parametrize("sv_stp", ["trial", "step"])
@pytest.mark.parametrize("task", MONITOR_TASKS)
def test_monitor_save_data(task, sv_stp, tmp_path):
    config = Config(local_dir=tmp_path)
    config.monitor.trigger = sv_stp
    config.monitor.interval = 10
    config.monitor.verbose = True
    config.monitor.plot.step = 3
    config.monitor.plot.create = False  # adaptation 9: one figure per 3 steps is a toy-env cost
    monitor = Monitor(_monitor_env(task), config)
    monitor.reset()
    _steps_until_trials(monitor, config.monitor.interval, monitor.action_space.sample)
    saved_files = list(monitor.save_dir.glob("*.npz"))
    assert len(saved_files) > 0, "No data files were saved"
    data = np.load(saved_files[0], allow_pickle=True)
    for key in ("action", "reward", "cum_reward", "performance"):
        assert key in data


@pytest.mark.parametrize("task", MONITOR_TASKS)
def test_evaluate_policy(task, tmp_path):
    monitor = Monitor(_monitor_env(task), save_dir=tmp_path)

    class MockModel:
        def __init__(self):
            self.policy = "placeholder_policy"

        def predict(self, observation, state=None, episode_start=None, deterministic=True):
            return int(monitor.unwrapped.gt_now), None  # the rewarding action

    num_trials = 10
    results_model = monitor.evaluate_policy(num_trials=num_trials, model=MockModel(), verbose=False)
    for key in ("rewards", "cum_rewards", "performances", "mean_reward", "mean_cum_reward",
                "mean_performance"):  # fmt: skip
        assert key in results_model
    assert len(results_model["rewards"]) == num_trials
    assert results_model["mean_reward"] == 1.0
    assert len(results_model["cum_rewards"]) == num_trials
    assert 0 <= results_model["mean_cum_reward"] <= 1.0
    assert isinstance(monitor.data_eval, dict)
    assert "action" in monitor.data_eval
    assert "reward" in monitor.data_eval

    results_random = monitor.evaluate_policy(num_trials=num_trials, model=None, verbose=False)
    for key in ("rewards", "cum_rewards", "performances", "mean_reward", "mean_cum_reward",
                "mean_performance"):  # fmt: skip
        assert key in results_random
    assert len(results_random["rewards"]) == num_trials
    assert 0 <= results_random["mean_reward"] <= 1.0
    assert len(results_random["cum_rewards"]) == num_trials
    assert 0 <= results_random["mean_cum_reward"] <= 1.0
    assert isinstance(monitor.data_eval, dict)


def test_plot_training_history(tmp_path):
    pytest.importorskip("matplotlib").use("Agg")
    config = Config(local_dir=tmp_path)
    config.monitor.interval = 10
    config.monitor.verbose = True
    config.monitor.plot.step = 5
    config.monitor.plot.create = False  # adaptation 9
    monitor = Monitor(_monitor_env("dm1"), config)
    monitor.reset()
    _steps_until_trials(monitor, 20, lambda: int(monitor.unwrapped.gt_now))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fig = monitor.plot_training_history(save_fig=True)
    assert fig is not None, "Plot was not created"
    plot_file = monitor.save_dir / "training_history.pdf"
    assert plot_file.exists(), "Plot file was not saved"
