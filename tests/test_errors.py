"""Every bad input raises a clear error that names the argument and what is allowed.

Each case is matched with ``re.escape`` on its first fragment; further fragments (allowed values,
suggestions) must also appear in the message. Valid values come from TASKS.md (§1 dt and
dim_ring, §2.1 conventions, §3 periods, §4.2 int bases, §7.2 reward names).
"""

from __future__ import annotations

import math
import re

import gymnasium as gym
import numpy as np
import pytest

import modcog_env
from modcog_env import make_task

INT_BASES = (  # TASKS.md §4.2
    "dlygo", "dlyanti", "dlydm1", "dlydm2", "ctxdlydm1", "ctxdlydm2", "multidlydm",
    "dms", "dnms", "dmc", "dnmc",
)  # fmt: skip
DLYGO_PERIODS = ["fixation", "stimulus", "delay", "decision"]  # TASKS.md §3.1
MATCH_PERIODS = ["fixation", "sample", "delay", "test", "decision"]  # TASKS.md §3.3


def assert_raises(fn, exc, *fragments: str) -> None:
    with pytest.raises(exc, match=re.escape(fragments[0])) as err:
        fn()
    for fragment in fragments[1:]:
        assert fragment in str(err.value), (fragment, str(err.value))


def _builders(task: str, **kwargs):
    """The three public ways to build an env or task with the same settings."""
    return {
        "make_task": lambda: make_task(task, **kwargs),
        "gym.make": lambda: gym.make(modcog_env.gym_id(modcog_env.canonical_name(task)), **kwargs),
        "modcog_env.make": lambda: modcog_env.make(task, **kwargs),
    }


BUILDERS = ["make_task", "gym.make", "modcog_env.make"]


# ------------------------------------------------------------------------------ task names
@pytest.mark.parametrize(
    ("name", "fragments"),
    [
        ("dlgo", ["task='dlgo' is not a task name", "did you mean", "'dlygo'"]),
        ("dmsseqx", ["task='dmsseqx' is not a task name", "did you mean", "'dmsseqr'"]),
        ("dlygoseqrintr", ["task='dlygoseqrintr' is not a task name"]),  # int must come first
        ("ModCog-DelayGoo-v0", ["task='ModCog-DelayGoo-v0'", "did you", "'ModCog-DelayGo-v0'"]),
        ("qqqqqqqq", ["task='qqqqqqqq' is not a task name"]),
        ("", ["task='' is not a task name"]),
    ],
)
def test_unknown_task_names(name, fragments):
    assert_raises(lambda: make_task(name), ValueError, *fragments)
    assert_raises(lambda: modcog_env.make(name), ValueError, *fragments)
    assert_raises(lambda: gym.make("ModCog-DelayGo-v0", task=name), ValueError, *fragments)


@pytest.mark.parametrize("name", [None, 3, ["dlygo"]])
def test_non_string_task_names(name):
    assert_raises(lambda: make_task(name), ValueError, f"task={name!r}")


@pytest.mark.parametrize("name", ["gointr", "rtgointl", "antiintrseqr", "dm1intl", "multidmintr"])
def test_int_on_a_base_without_delay(name):
    fragments = [f"task={name!r}", "int cannot modify", *INT_BASES]
    assert_raises(lambda: make_task(name), ValueError, *fragments)
    assert_raises(lambda: gym.make("ModCog-DelayGo-v0", task=name), ValueError, *fragments)


def test_int_alias_only_for_delay_bases():
    assert_raises(lambda: make_task("gointseq"), ValueError, "task='gointseq'")


@pytest.mark.parametrize(
    ("kwargs", "fragments"),
    [
        ({"int_sign": 2}, ["int_sign=2", "-1 (l), 0 (absent) or +1 (r)"]),
        ({"seq_sign": "r"}, ["seq_sign='r'", "-1 (l), 0 (absent) or +1 (r)"]),
        ({"int_sign": True}, ["int_sign=True"]),
        ({}, ["ModifiedTask needs int_sign or seq_sign non-zero"]),
    ],
)
def test_modified_task_signs(kwargs, fragments):
    base = make_task("dlygo")
    assert_raises(lambda: modcog_env.ModifiedTask(base, **kwargs), ValueError, *fragments)


def test_modified_task_int_on_base_without_delay():
    assert_raises(
        lambda: modcog_env.ModifiedTask(make_task("go"), int_sign=1),
        ValueError,
        "int cannot modify 'go'",
        *INT_BASES,
    )


# ------------------------------------------------------------------------------ dt, N, sigma
DT_CASES = [
    (0, ["dt=0", "must be > 0 ms"]),
    (-100, ["dt=-100", "must be > 0 ms"]),
    (math.nan, ["dt=nan"]),
    (math.inf, ["dt=inf"]),
    (30, ["dt=30 must divide 100 ms"]),
    (0.7, ["dt=0.7 must divide 100 ms"]),
    (40, ["dt=40 must divide 100 ms"]),
    ("100", ["dt='100' must be a number of ms"]),
    (True, ["dt=True must be a number of ms"]),
]


@pytest.mark.parametrize("builder", BUILDERS)
@pytest.mark.parametrize(("dt", "fragments"), DT_CASES, ids=[repr(c[0]) for c in DT_CASES])
def test_bad_dt(builder, dt, fragments):
    assert_raises(_builders("dlygo", dt=dt)[builder], ValueError, *fragments)


@pytest.mark.parametrize("dt", [100, 50, 25, 20, 10, 12.5, 1])
def test_dt_dividing_100_is_accepted(dt):
    assert make_task("dms", dt=dt).dt == dt


def test_dt_and_dim_ring_none_take_the_convention_defaults():
    assert (make_task("dms", dt=None, dim_ring=None).dt, make_task("dms").dim_ring) == (100, 16)
    task = make_task("dms", convention="yang2019", dt=None, dim_ring=None)
    assert (task.dt, task.dim_ring) == (20, 32)


DIM_RING_CASES = [
    (1, ["dim_ring=1 must be an int >= 2"]),
    (0, ["dim_ring=0 must be an int >= 2"]),
    (-4, ["dim_ring=-4 must be an int >= 2"]),
    (16.0, ["dim_ring=16.0 must be an int >= 2"]),
    ("16", ["dim_ring='16' must be an int >= 2"]),
    (True, ["dim_ring=True must be an int >= 2"]),
]


@pytest.mark.parametrize("builder", BUILDERS)
@pytest.mark.parametrize(
    ("dim_ring", "fragments"), DIM_RING_CASES, ids=[repr(c[0]) for c in DIM_RING_CASES]
)
def test_bad_dim_ring(builder, dim_ring, fragments):
    assert_raises(_builders("dm1", dim_ring=dim_ring)[builder], ValueError, *fragments)


@pytest.mark.parametrize("builder", BUILDERS)
@pytest.mark.parametrize(
    "task", ["dms", "dnms", "dmc", "dnmc", "dmsseqr", "dmcintl", "dnmcintrseql"]
)
def test_odd_dim_ring_rejected_for_match_family(builder, task):
    assert_raises(_builders(task, dim_ring=15)[builder], ValueError, "dim_ring=15 must be even")


@pytest.mark.parametrize("task", ["go", "rtanti", "dlygointr", "dm1", "multidlydmseql"])
def test_odd_dim_ring_allowed_for_go_and_dm(task):
    env = modcog_env.make(task, dim_ring=15)
    assert env.observation_space.shape == (31,)
    assert env.action_space.n == 16
    obs, _ = env.reset(seed=0)
    assert obs.shape == (31,)


SIGMA_CASES = [
    (-0.1, ["sigma=-0.1 must be a finite number >= 0"]),
    (math.nan, ["sigma=nan must be a finite number >= 0"]),
    (math.inf, ["sigma=inf must be a finite number >= 0"]),
    ("1", ["sigma='1' must be a finite number >= 0"]),
    (None, ["sigma=None must be a finite number >= 0"]),
]


@pytest.mark.parametrize("builder", BUILDERS)
@pytest.mark.parametrize(("sigma", "fragments"), SIGMA_CASES, ids=[repr(c[0]) for c in SIGMA_CASES])
def test_bad_sigma(builder, sigma, fragments):
    assert_raises(_builders("dm1", sigma=sigma)[builder], ValueError, *fragments)


# ------------------------------------------------------------------------------ convention
@pytest.mark.parametrize("builder", BUILDERS)
@pytest.mark.parametrize(
    ("convention", "fragments"),
    [
        ("foo", ["convention='foo' is not one of ['modcog', 'reference', 'yang2019']"]),
        ("modcg", ["convention='modcg'", "did you mean 'modcog'"]),
        ("Reference", ["convention='Reference'", "['modcog', 'reference', 'yang2019']"]),
        (None, ["convention=None"]),
    ],
)
def test_unknown_convention(builder, convention, fragments):
    assert_raises(_builders("dms", convention=convention)[builder], ValueError, *fragments)


@pytest.mark.parametrize("builder", BUILDERS)
def test_yang2019_rejects_modifiers(builder):
    assert_raises(
        _builders("dmsseqr", convention="yang2019")[builder],
        ValueError,
        "task='dmsseqr'",
        "not defined under convention='yang2019'",
    )


# ------------------------------------------------------------------------------ timing
@pytest.mark.parametrize(
    ("task", "timing", "fragments"),
    [
        ("dlygo", {"stim": 5}, ["timing key 'stim' is not a period of", str(DLYGO_PERIODS)]),
        ("dms", {"stimulus": 5}, ["timing key 'stimulus' is not a period of", str(MATCH_PERIODS)]),
        ("dmsseqr", {"go": 5}, ["timing key 'go' is not a period of", str(MATCH_PERIODS)]),
        ("dlygointr", {"Delay": 500}, ["timing key 'Delay'", str(DLYGO_PERIODS)]),
    ],
)
def test_unknown_timing_keys(task, timing, fragments):
    assert_raises(lambda: make_task(task, timing=timing), ValueError, *fragments)
    assert_raises(lambda: modcog_env.make(task, timing=timing), ValueError, *fragments)


SPEC_HELP = (
    "allowed: a number of ms, ('constant', ms), ('uniform', low, high), ('uniform', (low, high)), "
    "('choice', [ms, ...]), a list of ms, or ('truncated_exponential', [mean, min, max])"
)
TIMING_VALUE_CASES = [
    (-100, ["timing['delay']", ">= 0 ms"]),
    (math.nan, ["timing['delay']", ">= 0 ms"]),
    (math.inf, ["timing['delay']", ">= 0 ms"]),
    ("long", ["timing['delay']='long' is not a timing spec", SPEC_HELP]),
    (None, ["timing['delay']=None is not a timing spec", SPEC_HELP]),
    (("uniform", 500, 200), ["timing['delay']: uniform needs low < high"]),
    (("uniform", 500, 500), ["timing['delay']: uniform needs low < high"]),
    (("uniform", 200), ["timing['delay']=('uniform', 200) is not a timing spec", SPEC_HELP]),
    (("gauss", 1, 2), ["timing['delay']=('gauss', 1, 2) is not a timing spec", SPEC_HELP]),
    (("choice", []), ["timing['delay']=('choice', []) is not a timing spec", SPEC_HELP]),
    (("choice", [100, -1]), ["timing['delay']", ">= 0 ms"]),
    (("constant", "x"), ["timing['delay']", "must be a duration in ms"]),
    (("uniform", (200,)), ["timing['delay']=('uniform', (200,)) is not a timing spec", SPEC_HELP]),
    (("uniform", [500, 200]), ["timing['delay']: uniform needs low < high"]),
    ([100, "x"], ["timing['delay']=[100, 'x'] is not a timing spec", SPEC_HELP]),
    (("until", 900), ["timing['delay']=('until', 900)", "'until'", "not supported", SPEC_HELP]),
    (
        ("truncated_exponential", [300, 100]),
        ["timing['delay']=('truncated_exponential', [300, 100])", "needs a finite max"],
    ),
    (("truncated_exponential", [0, 100, 500]), ["timing['delay']", "needs mean > 0 ms"]),
    (("truncated_exponential", [300, -1, 500]), ["timing['delay']", ">= 0 ms"]),
    (len, ["timing['delay']=<built-in function len>", "callables are not accepted", SPEC_HELP]),
]


@pytest.mark.parametrize(
    ("value", "fragments"), TIMING_VALUE_CASES, ids=[repr(c[0]) for c in TIMING_VALUE_CASES]
)
def test_malformed_timing_values(value, fragments):
    assert_raises(lambda: make_task("dlygo", timing={"delay": value}), ValueError, *fragments)


@pytest.mark.parametrize("timing", [[("delay", 100)], "delay=100", 500])
def test_timing_must_be_a_mapping(timing):
    assert_raises(
        lambda: make_task("dlygo", timing=timing), ValueError, f"timing={timing!r} must be a dict"
    )


@pytest.mark.parametrize(
    ("task", "timing", "dt", "fragments"),
    [
        ("dlygo", {"decision": 50}, 100, ["timing['decision']=50 ms", "0 steps at dt=100"]),
        ("dms", {"decision": 0}, 100, ["timing['decision']=0 ms", "0 steps at dt=100"]),
        ("dm1", {"decision": ("uniform", 0, 150)}, 100, ["timing['decision']", "0 steps at dt"]),
        ("dlygoseqr", {"decision": 40}, 50, ["timing['decision']=40 ms", "0 steps at dt=50"]),
    ],
)
def test_decision_period_of_zero_steps(task, timing, dt, fragments):
    assert_raises(lambda: make_task(task, timing=timing, dt=dt), ValueError, *fragments)


def test_decision_period_of_one_step_is_fine():
    assert make_task("dlygo", timing={"decision": 100}).period_bounds()["decision"] == (1, 1)


# ------------------------------------------------------------------------------ sample()
@pytest.mark.parametrize(
    ("indices", "fragments"),
    [
        ([-1], ["indices must be >= 0", "-1"]),
        ([3, -7, 2], ["indices must be >= 0", "-7"]),
        (-2, ["indices must be >= 0"]),
        ([0.5], ["indices must be integers"]),
        (np.array([1.0, 2.0]), ["indices must be integers"]),
        (["a"], ["indices must be integers"]),
    ],
)
def test_bad_sample_indices(indices, fragments):
    task = make_task("dms")
    assert_raises(lambda: task.sample(0, indices), ValueError, *fragments)


# ------------------------------------------------------------------------------ env arguments
@pytest.mark.parametrize("k", [-1, 1.5, "3", True, None, [2]])
def test_bad_trial_index_option(k):
    env = gym.make("ModCog-DelayGo-v0")
    assert_raises(
        lambda: env.reset(seed=0, options={"trial_index": k}),
        ValueError,
        f"options['trial_index']={k!r} must be an int >= 0",
    )


@pytest.mark.parametrize("action", [17, -1, 1.5, "1", None, np.int64(17), np.array([1, 2])])
def test_action_out_of_space(action):
    env = gym.make("ModCog-DelayGo-v0")
    env.reset(seed=0)
    assert_raises(lambda: env.step(action), ValueError, f"action={action!r}", "0..16")


def test_action_out_of_space_follows_dim_ring():
    env = modcog_env.make("dm1", dim_ring=8)
    env.reset(seed=0)
    assert_raises(lambda: env.step(9), ValueError, "action=9", "0..8")


# gym.make itself warns first that the mode is not in metadata["render_modes"]
@pytest.mark.filterwarnings("ignore:.*not in the possible render_modes")
@pytest.mark.parametrize("render_mode", ["human", "", "ANSI", "text"])
def test_bad_render_mode(render_mode):
    builds = [lambda: modcog_env.TaskEnv("dlygo", render_mode=render_mode)]
    if render_mode != "human":  # gym.make turns "human" into rgb_array + HumanRendering
        builds.append(lambda: gym.make("ModCog-DelayGo-v0", render_mode=render_mode))
    for build in builds:
        assert_raises(build, ValueError, f"render_mode={render_mode!r} is not supported", "'ansi'")


@pytest.mark.parametrize("continuous", [1, 0, "yes", None, np.bool_(True)])
def test_continuous_must_be_bool(continuous):
    assert_raises(
        lambda: gym.make("ModCog-DelayGo-v0", continuous=continuous),
        ValueError,
        f"continuous={continuous!r} must be True or False",
    )


@pytest.mark.parametrize(
    ("rewards", "fragments"),
    [
        ({"corect": 2.0}, ["rewards key 'corect'", "['abort', 'correct', 'fail']"]),
        ({"miss": 0.0}, ["rewards key 'miss'", "['abort', 'correct', 'fail']"]),
        ({"correct": math.nan}, ["rewards['correct']=nan must be a finite number"]),
        ({"abort": "-1"}, ["rewards['abort']='-1' must be a finite number"]),
        ({"fail": None}, ["rewards['fail']=None must be a finite number"]),
    ],
)
def test_bad_rewards(rewards, fragments):
    assert_raises(lambda: gym.make("ModCog-DelayGo-v0", rewards=rewards), ValueError, *fragments)
