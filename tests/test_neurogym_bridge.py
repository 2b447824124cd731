"""Our tasks inside NeuroGym's own code (modcog_env.neurogym_bridge, docs/neurogym.md).

Checks that ``ngym.Dataset``, ``ScheduleEnvs``/``RandomSchedule``, ``plot_env`` and ``Monitor`` run
on bridged tasks; that they see exactly our trials (bit for bit) under the documented seed mapping;
and, at the end, re-checks on bridged tasks the properties NeuroGym's own test suite checks on its
envs (tests/test_envs.py, tests/test_data.py of neurogym). Skipped where neurogym is missing.
"""

from __future__ import annotations

import re
import subprocess
import sys
import warnings

import numpy as np
import pytest

ngym = pytest.importorskip("neurogym")

import gymnasium as gym  # noqa: E402
from neurogym.core import TrialWrapper  # noqa: E402
from neurogym.envs.collections import get_collection  # noqa: E402
from neurogym.utils.scheduler import RandomSchedule  # noqa: E402
from neurogym.wrappers import (  # noqa: E402
    Noise,
    PassAction,
    PassReward,
    RandomGroundTruth,
    ReactionTime,
    SideBias,
    TrialHistoryV2,
)
from neurogym.wrappers.block import ScheduleEnvs  # noqa: E402

from modcog_env import (  # noqa: E402
    COLLECTIONS,
    Batches,
    Schedule,
    TaskEnv,
    TaskStreams,
    make_task,
    stream_seed,
)
from modcog_env.neurogym_bridge import (  # noqa: E402
    NeuroGymTaskEnv,
    neurogym_collection_id,
    neurogym_envs,
    neurogym_id,
    schedule_envs,
)
from modcog_env.streams import stream_seeds  # noqa: E402
from modcog_env.tasks.catalog import gym_id  # noqa: E402

N = 16
SINGLE_OB = 1 + 2 * N  # TASKS.md §1
MULTI_OB = SINGLE_OB + 20  # TASKS.md §6, 20-cog
# one task per family and modifier kind (TASKS.md §3-4)
SAMPLE_TASKS = ["go", "rtanti", "dm1", "multidlydm", "dms", "dnmc", "dlygointr", "dmcseql",
                "ctxdlydm2intlseqr"]  # fmt: skip

pytestmark = pytest.mark.filterwarnings(
    "ignore:.*get variables from other wrappers is deprecated",
    "ignore:.*environment creator metadata",
)


def _replay_schedule(n: int, table: dict[int, list[int]]) -> Schedule:
    """A Schedule that plays, per stream seed, a recorded task sequence (then cycles on)."""

    class Replay(Schedule):
        name = "replay"

        def _assign(self, seeds, start, count, prev):
            out = []
            for s, a, c in zip(seeds, start, count, strict=True):
                seq = table[int(s)]
                out += [seq[p] if p < len(seq) else (seq[-1] + 1 + p) % n for p in range(a, a + c)]
            return np.array(out, dtype=np.int64)

    return Replay(n)


# ------------------------------------------------------------------------------------ import
def test_import_modcog_env_does_not_import_neurogym():
    code = (
        "import sys, modcog_env; "
        "bad = [m for m in ('neurogym', 'modcog_env.neurogym_bridge') if m in sys.modules]; "
        "sys.exit(repr(bad) if bad else 0)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


# ------------------------------------------------------------------------------------ the env
def test_new_trial_exposes_trial_the_neurogym_way():
    env = NeuroGymTaskEnv("dlygo")
    env.seed(7)
    info = env.new_trial()
    assert isinstance(info, dict) and env.trial is info
    expected = make_task("dlygo").sample(stream_seed(0, 7), [0]).trial(0)
    np.testing.assert_array_equal(env.ob, expected.ob)
    np.testing.assert_array_equal(env.gt, expected.label)
    assert env.ob.dtype == np.float32 and env.gt.dtype == np.int64
    assert env.start_ind == expected.start and env.end_ind == expected.stop
    assert env.start_t == {p: s * env.dt for p, s in expected.start.items()}
    assert env.end_t == {p: s * env.dt for p, s in expected.stop.items()}
    assert env.tmax == expected.length * env.dt
    # NeuroGym's own period helpers read those dicts
    env.t = env.start_t["decision"]
    assert env.in_period("decision") and not env.in_period("fixation")
    np.testing.assert_array_equal(
        env.view_groundtruth("decision"), expected.label[expected.decision]
    )
    # NeuroGym's ground truth: the ring index of the response (label 1 + ground truth)
    assert 1 + info["ground_truth"] == expected.label[expected.start["decision"]]
    assert info["ground_truth"] == expected.params["response"]
    assert info["ground_truth"] in env.choices


def test_spaces_are_named_as_in_neurogym_yang19():
    ours = NeuroGymTaskEnv("dm1")
    theirs = ngym.make("yang19.dm1-v0").unwrapped
    assert ours.observation_space.shape == theirs.observation_space.shape == (SINGLE_OB,)
    assert ours.observation_space.dtype == theirs.observation_space.dtype
    assert ours.action_space.n == theirs.action_space.n == 1 + N
    for mine, ref in ((ours.observation_space.name, theirs.observation_space.name),
                      (ours.action_space.name, theirs.action_space.name)):  # fmt: skip
        assert set(mine) == set(ref)
        for key in ref:
            assert list(np.atleast_1d(mine[key])) == list(np.atleast_1d(ref[key]))


def test_timing_is_read_by_neurogyms_sampler():
    env = NeuroGymTaskEnv("dm1")  # fixation U[200, 500) ms, stimulus 500, decision 200 (§3.2)
    env.seed(0)
    assert env.timing["stimulus"] == 500 and env.timing["decision"] == 200
    draws = {env.sample_time("fixation") for _ in range(200)}
    assert draws == {200, 300, 400}  # NeuroGym floors to dt: U[200, 500) -> 3 values (§1 dt)


def test_seed_plays_stream_number_of_base_seed():
    for base, x in ((0, 0), (0, 5), (123, 2)):
        env = NeuroGymTaskEnv("dms", base_seed=base)
        core = TaskEnv("dms", continuous=False)
        env.seed(x)
        core.reset(seed=stream_seed(base, x))
        for k in range(4):
            env.new_trial()
            if k:
                core.reset()
            np.testing.assert_array_equal(env.ob, core.trial.ob)
            np.testing.assert_array_equal(env.gt, core.trial.label)
            assert env.trial_index == core.trial_index == k


def test_bad_arguments_raise():
    env = NeuroGymTaskEnv("go")
    with pytest.raises(ValueError, match=re.escape("seed=-1 must be None or an int >= 0")):
        env.seed(-1)
    with pytest.raises(ValueError, match=re.escape("condition 'colour' is not a parameter of")):
        env.new_trial(colour=3)
    with pytest.raises(ValueError, match=re.escape("new_trial(ground_truth=16) is not a choice")):
        env.new_trial(ground_truth=16)
    with pytest.raises(ValueError, match=re.escape("no trial of 'go' satisfies")):
        env.new_trial(target=3, ground_truth=4)  # go: the response is the target
    with pytest.raises(ValueError, match=re.escape("not in the action space")):
        env.reset(seed=0)
        env.step(1 + N)
    with pytest.raises(ValueError, match=re.escape("reset options ['bogus']")):
        env.reset(options={"bogus": 1})
    with pytest.raises(ValueError, match=re.escape("rewards key 'win'")):
        NeuroGymTaskEnv("go", rewards={"win": 1.0})


@pytest.mark.parametrize("convention", ["modcog", "reference"])
@pytest.mark.parametrize("task", ["dlygo", "dmcseql", "multidm"])
def test_step_mode_matches_taskenv(task, convention):
    """NeuroGym's step loop on the bridge = our continuous TaskEnv: obs, rewards, trial ends."""
    env = NeuroGymTaskEnv(task, convention=convention)
    core = TaskEnv(task, convention=convention, continuous=True)
    ob, _ = env.reset(seed=3)
    core_ob, _ = core.reset(seed=stream_seed(0, 3))
    np.testing.assert_array_equal(ob, core_ob)
    actions = np.random.default_rng(0)
    ended = 0
    for _ in range(400):
        # mostly fixate, sometimes the label, sometimes a random class: every outcome occurs
        u = actions.random()
        gt = int(env.gt_now)
        a = 0 if u < 0.6 else (gt if u < 0.85 else int(actions.integers(1 + N)))
        ob, r, term, trunc, info = env.step(a)
        core_ob, core_r, core_term, _, core_info = core.step(a)
        np.testing.assert_array_equal(ob, core_ob)
        assert (r, info["new_trial"], info["gt"]) == (core_r, core_info["new_trial"], gt)
        assert not term and not trunc and not core_term
        if info["new_trial"]:
            ended += 1
            assert info["performance"] == core_info["performance"]
            assert info["outcome"] == core_info["outcome"]
    assert ended >= 10


def test_oracle_gets_performance_one_under_modcog():
    """TASKS.md §7.2: action = label on every step scores every trial, no-go and seq included."""
    for task in ("dnms", "goseqr", "ctxdm1"):
        env = NeuroGymTaskEnv(task)
        env.reset(seed=1)
        perf = []
        while len(perf) < 30:
            _, _, _, _, info = env.step(int(env.gt_now))
            if info["new_trial"]:
                perf.append(info["performance"])
        assert perf == [1.0] * 30, task


# ------------------------------------------------------------------------------------ Dataset
@pytest.mark.parametrize(("task", "convention"), [("dm1", "modcog"), ("dnmcintrseql", "modcog"),
                                                  ("dms", "reference")])  # fmt: skip
def test_dataset_rows_are_our_stream_rows(task, convention):
    base = 11
    env = NeuroGymTaskEnv(task, convention=convention, base_seed=base)
    ds = ngym.Dataset(env, batch_size=16, seq_len=300)
    # precondition: at 16 x 300 x 33 NeuroGym's cache is one window, so every call refills it
    assert ds._cache_len == 300
    for s in (0, 4):
        ds.seed(s)  # row i: env.seed(s + i) -> stream s + i of base_seed
        x, y = ds()
        ours = Batches(task, convention=convention, batch_size=16, seq_len=300, seed=base,
                       streams=range(s, s + 16), loss_weights="all")  # fmt: skip
        xb, yb = next(ours)
        np.testing.assert_array_equal(x, xb)
        np.testing.assert_array_equal(y, yb)
    # NeuroGym refills from a fresh trial: the second window drops the rest of the cut trial
    x2, y2 = ds()
    tk = make_task(task, convention=convention)
    for r in range(16):
        trials = tk.sample(stream_seed(base, 4 + r), range(80))
        ends = np.cumsum(trials.length)
        m = int(np.searchsorted(ends, 300))  # trials touched by the first window: 0..m
        rest = np.concatenate([trials.trial(k).ob for k in range(m + 1, 80)])[:300]
        labels = np.concatenate([trials.trial(k).label for k in range(m + 1, 80)])[:300]
        np.testing.assert_array_equal(x2[:, r], rest)
        np.testing.assert_array_equal(y2[:, r], labels)


def test_dataset_over_20_task_schedule_matches_given_the_task_sequence():
    """RandomSchedule draws the task order from its own RandomState; given that order, every
    trial of every row equals ours (stream mode with the same order replayed), bit for bit."""
    env = schedule_envs("20-cog")
    ds = ngym.Dataset(env, batch_size=16, seq_len=300)
    ds.seed(5)
    x, y = ds()
    assert x.shape == (300, 16, MULTI_OB)
    table = {}
    for r, seed in enumerate(stream_seeds(0, range(5, 21))):
        rule = x[:, r, SINGLE_OB:].argmax(-1)  # no task twice in a row: one run = one trial
        table[int(seed)] = list(rule[np.r_[0, np.flatnonzero(np.diff(rule)) + 1]])
        assert len(table[int(seed)]) > 5
    streams = TaskStreams("20-cog", schedule=_replay_schedule(20, table))
    ours = Batches(streams, batch_size=16, seq_len=300, seed=0, streams=range(5, 21))
    xb, yb = next(ours)
    np.testing.assert_array_equal(x, xb)
    np.testing.assert_array_equal(y, yb)


# ------------------------------------------------------------------------------------ ScheduleEnvs
def test_schedule_envs_step_mode_is_always_53_wide_and_names_the_task():
    env = ScheduleEnvs(neurogym_envs("20-cog"), RandomSchedule(20), env_input=True)
    env.seed(0)
    ob, _ = env.reset()
    seen = set()
    for _ in range(1500):
        assert ob.shape == (MULTI_OB,)
        rule = ob[SINGLE_OB:]
        assert sorted(rule) == [0.0] * 19 + [1.0]
        i = int(rule.argmax())
        assert i == env.i_env
        current = env.unwrapped
        assert COLLECTIONS["20-cog"][i] == current.task.name == current.modcog_trial.task_name
        # the observation is the current step of the current trial (also right after a switch)
        np.testing.assert_array_equal(ob, current.ob[current.t_ind])
        seen.add(i)
        ob, _, _, _, _ = env.step(env.action_space.sample())
    assert seen == set(range(20))


def test_neurogyms_own_yang19_schedule_returns_33_wide_observations():
    """NeuroGym 2.3.1's yang19 multitask (its recipe) mixes 33- and 53-wide observations in step
    mode: go/anti/match tasks are ScheduleEnvs over two modality copies, and the outer
    ScheduleEnvs' set_top reaches only the copy current at construction; the other copy starts
    its next trial through the inner ScheduleEnvs, which appends no task inputs."""
    envs = [ngym.make(name) for name in get_collection("yang19")]
    env = ScheduleEnvs(envs, RandomSchedule(len(envs)), env_input=True)
    env.seed(0)
    env.reset()
    widths = {env.step(env.action_space.sample())[0].shape[0] for _ in range(1500)}
    assert widths == {SINGLE_OB, MULTI_OB}


# ------------------------------------------------------------------------------------ tools
def test_plot_env_writes_a_figure(tmp_path):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    from neurogym.utils.plotting import plot_env

    assert ngym.utils.plot_env is plot_env
    for name, env in (("dms", NeuroGymTaskEnv("dms")), ("multi", schedule_envs("20-cog"))):
        path = tmp_path / f"{name}.png"
        plot_env(env, num_trials=2 if name == "dms" else None, num_steps=60, def_act=0,
                 fname=str(path))  # fmt: skip
        assert path.stat().st_size > 10_000
    matplotlib.pyplot.close("all")


def test_monitor_records_trials(tmp_path):
    from neurogym.wrappers.monitor import Monitor

    env = Monitor(NeuroGymTaskEnv("dlyanti"), trigger="trial", interval=5, verbose=False,
                  save_dir=tmp_path)  # fmt: skip
    trials = 0
    for _ in range(300):
        _, _, _, _, info = env.step(int(env.unwrapped.gt_now))  # oracle
        trials += info["new_trial"]
    assert trials == env.num_tr >= 12  # dlyanti: 20 steps per trial (§8.1)
    saved = sorted(p.name for p in tmp_path.glob("trial_*.npz"))
    assert saved == sorted(f"trial_{n}.npz" for n in range(5, trials + 1, 5))
    data = np.load(tmp_path / "trial_5.npz", allow_pickle=True)
    assert list(data["performance"]) == [1.0] * 5 and list(data["reward"]) == [1.0] * 5


# ------------------------------------------------------------------------------------ NeuroGym's
# own test suite (neurogym tests/test_envs.py, tests/test_data.py), re-run on bridged tasks
@pytest.mark.parametrize("task", SAMPLE_TASKS)
def test_ngym_suite_run_reset_and_random_steps(task):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the bridge itself must not warn
        env = NeuroGymTaskEnv(task)
        ob, _ = env.reset()
        assert env.observation_space.contains(ob)
        for _ in range(100):
            ob, _, terminated, _, info = env.step(env.action_space.sample())
            assert env.observation_space.contains(ob) and "gt" in info
            if terminated:
                env.reset()
    assert str(env).startswith("<NeuroGymTaskEnv")


@pytest.mark.parametrize("task", SAMPLE_TASKS)
def test_ngym_suite_new_trial_returns_a_dict(task):
    trial = NeuroGymTaskEnv(task).new_trial()
    assert isinstance(trial, dict) and trial["task"] == task


def _seeded_rollout(env, seed):
    env.seed(seed)
    env.reset()
    obs, rews, acts = [], [], []
    for _ in range(100):
        action = env.action_space.sample()
        ob, rew, terminated, _, _ = env.step(action)
        obs.append(ob)
        rews.append(rew)
        acts.append(action)
        if terminated:
            env.reset()
    return np.array(obs), np.array(rews), np.array(acts)


@pytest.mark.parametrize("task", SAMPLE_TASKS)
def test_ngym_suite_seeding_gives_identical_rollouts(task):
    first = _seeded_rollout(NeuroGymTaskEnv(task, dt=20), 0)
    again = _seeded_rollout(NeuroGymTaskEnv(task, dt=20), 0)
    other = _seeded_rollout(NeuroGymTaskEnv(task, dt=20), 1)
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[0], other[0])


@pytest.mark.parametrize("task", SAMPLE_TASKS[:4])
def test_ngym_suite_dataset_shapes_and_batch_diversity(task):
    env = NeuroGymTaskEnv(task)
    ds = ngym.Dataset(env, batch_size=32, seq_len=40)
    for _ in range(2):
        inputs, target = ds()
        assert inputs.shape == (40, 32, SINGLE_OB) and target.shape == (40, 32)
        assert inputs.dtype == np.float32 and target.dtype == np.int64
    inputs, target = ngym.Dataset(env, batch_size=32, seq_len=1000)()
    assert np.sum((inputs - inputs.mean(axis=1, keepdims=True)) ** 2) > 0
    assert np.sum((target - target.mean(axis=1, keepdims=True)) ** 2) > 0


def test_ngym_suite_schedule_one_hot_argmax_in_dataset():
    env = schedule_envs(["dm1", "dlygo", "dms"])
    inputs, _ = ngym.Dataset(env, batch_size=8, seq_len=200)()
    assert inputs.shape == (200, 8, SINGLE_OB + 3)
    rule = inputs[..., SINGLE_OB:]
    assert np.array_equal(np.sort(rule, axis=-1)[..., -1], np.ones((200, 8)))
    assert rule.sum(-1).max() == 1.0
    # the argmax names the task: each complete run (one trial; no task twice in a row) has a
    # length that task can have (TASKS.md §8.1: dm1 9-11, dlygo 20, dms 24-33 steps)
    allowed = {0: range(9, 12), 1: range(20, 21), 2: range(24, 34)}
    runs = 0
    for r in range(8):
        which = rule[:, r].argmax(-1)
        cuts = np.r_[0, np.flatnonzero(np.diff(which)) + 1, 200]
        for a, b in zip(cuts[1:-2], cuts[2:-1], strict=True):  # skip the cut first/last runs
            assert b - a in allowed[int(which[a])]
            runs += 1
    assert runs >= 24


# ------------------------------------------------------------------------------------ issue 14
# Each test below failed on the bridge before issue 14 (docs/neurogym.md, "NeuroGym wrappers").
class _ConstantOb(TrialWrapper):
    """A TrialWrapper that rewrites ``ob`` in ``new_trial`` (as NeuroGym's test_reset_step)."""

    def __init__(self, env, value: np.ndarray) -> None:
        super().__init__(env)
        self.value = value

    def new_trial(self, **kwargs):
        trial = self.env.new_trial(**kwargs)
        self.ob = np.repeat(self.value[None], self.unwrapped.ob.shape[0], axis=0)
        return trial

    def step(self, action):
        _, reward, terminated, truncated, info = self.env.step(action)
        return self.ob[self.unwrapped.t_ind], reward, terminated, truncated, info


def test_reset_runs_the_first_observation_through_step_fn():
    """Item 1: PassAction, PassReward, Noise and ob-rewriting TrialWrappers shape reset's ob."""
    env = PassAction(NeuroGymTaskEnv("dm1"))
    ob, info = env.reset(seed=2)
    inner = env.unwrapped
    assert ob.shape == env.observation_space.shape == (SINGLE_OB + 1,)
    np.testing.assert_array_equal(ob[:-1], inner.ob[0])  # step 0 of the trial ...
    assert ob[-1] == 0 and inner.t_ind == 0  # ... peeked with action 0: time did not advance
    ob1, *_ = env.step(5)
    np.testing.assert_array_equal(ob1, np.r_[inner.ob[1], 5])
    ob, _ = PassReward(NeuroGymTaskEnv("dm1")).reset(seed=2)
    assert ob.shape == (SINGLE_OB + 1,) and ob[-1] == 0
    env = Noise(NeuroGymTaskEnv("go", sigma=0.0), std_noise=0.5)  # go: no noise of its own
    env.unwrapped.seed(2)
    ob, _ = env.reset()  # NeuroGym's Noise.reset takes no seed
    assert 0.3 < np.std(ob - env.unwrapped.ob[0]) < 0.7
    value = np.arange(10.0)
    env = _ConstantOb(NeuroGymTaskEnv("dms"), value)
    ob, _ = env.reset()
    np.testing.assert_array_equal(ob, value)
    ob, _ = NeuroGymTaskEnv("dms").reset(seed=2, options={"no_step": True})
    assert ob.shape == (SINGLE_OB,)


@pytest.mark.parametrize("task", ["dm1", "ctxdm1", "go", "dlyantiintr"])
def test_reaction_time_changes_what_is_scored(task):
    """Item 2: an agent following ReactionTime's ground truth answers one step into the stimulus
    and scores 1.0, as on native yang19 envs (and the trial ends there)."""
    env = ReactionTime(NeuroGymTaskEnv(task))
    env.reset(seed=0)
    inner = env.unwrapped
    perf, steps, n = [], [], 0
    while len(perf) < 25:
        start = inner.start_ind["stimulus"]
        _, _, _, _, info = env.step(int(inner.gt_now))
        n += 1
        if info["new_trial"]:
            perf.append(info["performance"])
            steps.append((n, start))
            n = 0
    assert perf == [1.0] * 25
    assert all(n == start + 2 for n, start in steps)  # response at stimulus step 1


def test_choices_and_conditioned_trials():
    """Item 3: ``choices`` as yang19's; new_trial(ground_truth=...) and parameter conditions are
    honoured, keyed by (seed, k, conditions); unconditioned trials stay those of the stream."""
    go, dms = NeuroGymTaskEnv("go"), NeuroGymTaskEnv("dms")
    np.testing.assert_array_equal(go.choices, np.arange(N))
    assert dms.choices == ["match", "non-match"]
    for g in (0, 7, 15):
        go.new_trial(ground_truth=g)
        assert go.trial["ground_truth"] == g and go.gt[go.start_ind["decision"]] == 1 + g
    for g in ("match", "non-match"):
        info = dms.new_trial(ground_truth=g, modality=2)
        assert info["ground_truth"] == g and bool(info["match"]) == (g == "match")
        assert info["modality"] == 2
    # keyed: same (seed, k, conditions) -> same trial; the plain stream is untouched
    a, b, plain = NeuroGymTaskEnv("dlygo"), NeuroGymTaskEnv("dlygo"), NeuroGymTaskEnv("dlygo")
    for env in (a, b, plain):
        env.seed(3)
    a.new_trial(ground_truth=4, probs=[0.5, 0.5])
    b.new_trial(ground_truth=4)
    plain.new_trial()
    np.testing.assert_array_equal(a.ob, b.ob)
    assert a.trial["probs"] == [0.5, 0.5] and a.trial_index == plain.trial_index == 0
    for env in (a, plain):
        env.new_trial()
    np.testing.assert_array_equal(a.ob, plain.ob)
    assert a.trial_index == 1
    # the wrappers that read ``choices`` build and bias the ground truth
    env = SideBias(NeuroGymTaskEnv("dm1"), probs=[[0.0] * 15 + [1.0]], block_dur=10)
    env.reset(seed=0)
    assert {env.new_trial()["ground_truth"] for _ in range(20)} == {15}
    env = RandomGroundTruth(NeuroGymTaskEnv("dnmc"), p=np.array([0.0, 1.0]))
    assert {env.new_trial()["ground_truth"] for _ in range(20)} == {"non-match"}
    env = TrialHistoryV2(NeuroGymTaskEnv("dms"), probs=np.array([[0.0, 1.0], [1.0, 0.0]]))
    seq = [env.new_trial()["ground_truth"] for _ in range(10)]
    assert all(x != y for x, y in zip(seq, seq[1:], strict=False))


def test_timing_round_trips_through_env_timing():
    """Item 4: ``env.timing`` (NeuroGym notation) is accepted back by every builder."""
    for task in ("dm1", "dms", "dlygointr", "ctxdlydm2seql"):
        env = NeuroGymTaskEnv(task)
        again = NeuroGymTaskEnv(task, timing=env.timing)
        assert again.task.timing == env.task.timing and again.timing == env.timing
        assert make_task(task, timing=env.timing).timing == env.task.timing
        core = gym.make(gym_id(task), timing=env.timing)
        assert core.unwrapped.streams.tasks[0].timing == env.task.timing
        core.close()
    env = NeuroGymTaskEnv("dm1", timing={"stimulus": ("truncated_exponential", [300, 100, 700])})
    assert env.timing["stimulus"] == ("truncated_exponential", [300.0, 100.0, 700.0])
    assert {env.sample_time("stimulus") for _ in range(300)} <= {100, 200, 300, 400, 500, 600}


def test_trial_length_stats_leaves_the_stream_alone():
    """Item 5: NeuroGym's trial_length_stats does not consume trials; neither does ours."""
    env, fresh = NeuroGymTaskEnv("dms"), NeuroGymTaskEnv("dms")
    env.seed(1)
    fresh.seed(1)
    env.new_trial()
    fresh.new_trial()
    before = env.ob.copy()
    stats = env.trial_length_stats(num_trials=2000)
    np.testing.assert_array_equal(env.ob, before)  # the current trial is untouched
    env.new_trial()
    fresh.new_trial()
    np.testing.assert_array_equal(env.ob, fresh.ob)  # the next trial is the stream's next
    lo, hi = env.task.length_bounds()  # dms: 24..33 steps, delay U[200, 1200) (§3.3)
    assert lo <= stats["max"] <= hi and stats["max"] == hi
    assert abs(stats["mean"] - (lo + hi) / 2) < 0.3


def test_neurogym_ids_work_in_make_and_dataset():
    """Item 6: ``ngym.make``/``ngym.Dataset`` on ``ModCogNgym-*`` ids, every task."""
    for name in COLLECTIONS["mod-cog-126"]:
        env_id = neurogym_id(name)
        assert env_id == "ModCogNgym-" + gym_id(name)[len("ModCog-") :]
        assert gym.spec(env_id).kwargs == {"task": name}
    env = ngym.make("ModCogNgym-DelayGo-v0", dt=20)
    assert env.unwrapped.task.name == "dlygo" and env.unwrapped.dt == 20
    ds = ngym.Dataset("ModCogNgym-DelayGo-v0", env_kwargs={"dt": 20}, batch_size=8, seq_len=100,
                      cache_len=1)  # one window per cache: every batch drawn after seed()
    ds.seed(0)
    x, y = ds()
    assert x.shape == (100, 8, SINGLE_OB) and y.shape == (100, 8)
    xb, yb = next(Batches("dlygo", dt=20, batch_size=8, seq_len=100, seed=0, loss_weights="all"))
    np.testing.assert_array_equal(x, xb)  # rows are our stream rows, as for an env instance
    np.testing.assert_array_equal(y, yb)
    multi = ngym.make(neurogym_collection_id("20-cog"))
    assert multi.observation_space.shape == (MULTI_OB,)
    assert multi.reset()[0].shape == (MULTI_OB,)


def test_tags_are_neurogyms_and_str_is_neurogyms():
    """Item 7: tags from ``all_tags()`` (NeuroGym's test_run asserts it); ``<ClassName>``."""
    from neurogym.envs.registration import all_tags

    vocabulary = set(all_tags())
    for name in COLLECTIONS["mod-cog-126"]:
        tags = NeuroGymTaskEnv(name).metadata["tags"]
        assert set(tags) <= vocabulary and "supervised" in tags, (name, tags)
    assert set(NeuroGymTaskEnv.metadata["tags"]) <= vocabulary
    assert "context dependent" in NeuroGymTaskEnv("ctxdm2").metadata["tags"]
    assert "go-no-go" in NeuroGymTaskEnv("dnms").metadata["tags"]
    env = NeuroGymTaskEnv("dm1")
    assert str(env) == "<NeuroGymTaskEnv>"
    assert repr(env) == "NeuroGymTaskEnv('dm1', convention='modcog', dt=100, dim_ring=16, sigma=1)"
    assert str(ngym.make("ModCogNgym-DM1-v0")) == "<OrderEnforcing<NeuroGymTaskEnv>>"
