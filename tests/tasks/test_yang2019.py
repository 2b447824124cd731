"""``convention="yang2019"``: layout, targets, masks, modes, reproducibility and every path.

The statistical comparison with Yang's random generator is in test_yang2019_fingerprints.py;
here Yang's deterministic 'test' grids (noise off) are compared exactly with the same file.
"""

from __future__ import annotations

import dataclasses
import json
import re
import warnings
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from utils import unexpected_warnings

import modcog_env
from modcog_env import Batches, TaskStreams, TrialBatch, make_task
from modcog_env.tasks.yang2019 import YANG_ALIASES, YANG_BASES, YANG_RULES, yang_noise_std
from modcog_env.tasks.yang2019_modes import PSYCHOMETRIC_KEYS, psychometric_key

DATA = Path(__file__).resolve().parents[1] / "data" / "yang2019_fingerprints.json"
N = 32
RT_OR_MATCH = ("rtgo", "rtanti", "dms", "dnms", "dmc", "dnmc")


def yang(name: str, **kw) -> modcog_env.Task:
    return make_task(name, convention="yang2019", **kw)


@pytest.fixture(scope="module")
def test_mode_reference() -> dict:
    return json.loads(DATA.read_text())["test_mode"]


# ------------------------------------------------------------------------------ layout
@pytest.mark.parametrize("name", YANG_BASES)
def test_layout_rule_unit_and_fixation_input(name):
    task = yang(name, sigma=0.0)
    assert (task.dt, task.dim_ring, task.ob_size, task.n_actions) == (20, 32, 85, 33)
    b = task.sample(3, range(64))
    assert b.ob.dtype == b.y.dtype == b.y_loc.dtype == b.c_mask.dtype == np.float32
    assert b.y.shape == b.c_mask.shape == b.label.shape + (33,)
    valid = b.valid
    rules = b.ob[:, :, 65:]
    k = YANG_BASES.index(name)
    np.testing.assert_array_equal(rules[..., k], valid)  # the task's rule unit, whole trial
    assert not np.delete(rules, k, axis=2).any()  # the 19 others stay 0
    t = np.arange(b.max_length)[None, :]
    fix_until = b.length if name in RT_OR_MATCH else b.start["decision"]
    np.testing.assert_array_equal(b.ob[:, :, 0], t < fix_until[:, None])
    # ring inputs are Yang's bumps 0.8 * strength * exp(-d^2/2), so at most 0.8 * 2 strengths
    assert b.ob[:, :, 1:65].min() >= 0 and b.ob[:, :, 1:65].max() <= 0.8 * 2.6


@pytest.mark.parametrize("name", ["go", "dm1", "dms"])
def test_noise_on_every_channel_with_yang_std(name):
    b = yang(name).sample(0, range(200))
    clean = yang(name, sigma=0.0).sample(0, range(200))
    eps = (b.ob - clean.ob)[b.valid]  # [steps, 85]
    assert eps.shape[1] == 85
    np.testing.assert_allclose(eps.std(axis=0), 0.01 * np.sqrt(10), rtol=0.05)
    assert yang_noise_std(20) == pytest.approx(0.0316227766)
    assert not (b.ob - clean.ob)[~b.valid].any()  # padding stays 0


# ------------------------------------------------------------------------------ targets
@pytest.mark.parametrize("name", YANG_BASES)
def test_targets_mask_and_label(name):
    b = yang(name, sigma=0.0).sample(5, range(64))
    rows = np.arange(b.batch_size)
    go_on, length = b.start["decision"], b.length
    go = b.params["go"]
    t = np.arange(b.max_length)[None, :]
    after = (t >= go_on[:, None]) & b.valid
    # y_loc: response angle after the go cue of go trials, -1 otherwise (and on padding)
    expect_loc = np.where(after & go[:, None], b.params["response_angle"][:, None], -1)
    np.testing.assert_allclose(b.y_loc, expect_loc, atol=1e-6)
    # fixation output 0.8 while fixating, 0.05 after the go cue of go trials
    np.testing.assert_allclose(b.y[:, :, 0][b.valid], np.where((after & go[:, None]),
                               0.05, 0.8)[b.valid])  # fmt: skip
    # ring target: baseline 0.05 + bump peaking at the unit nearest to the response
    last = b.y[rows, length - 1, 1:]
    assert np.all(last[~go] == np.float32(0.05))
    assert np.all(last[go].argmax(axis=1) == b.params["response"][go])
    # cost mask: 0 for 100 ms, 1 until the go cue, 0 for 100 ms, then 5; fixation x 2
    w = b.c_mask[:, :, 1]
    assert np.all(w[:, :5] == 0)
    pre = (t >= 5) & (t < go_on[:, None])
    grace = (t >= go_on[:, None]) & (t < go_on[:, None] + 5)
    post = (t >= go_on[:, None] + 5) & b.valid
    assert np.all(w[pre] == 1) and np.all(w[grace] == 0) and np.all(w[post] == 5)
    assert not w[~b.valid].any()
    np.testing.assert_array_equal(b.c_mask[:, :, 0], 2 * w)
    assert np.all(b.c_mask[:, :, 1:] == w[:, :, None])
    # class label: 0 while fixating, 1 + nearest unit after the go cue of go trials
    expect = np.where(after & go[:, None], 1 + b.params["response"][:, None], 0)
    np.testing.assert_array_equal(b.label, expect)


def test_persistence_and_match_rules():
    fd = yang("go", sigma=0.0).sample(1, range(50))
    dec = fd.start["decision"]
    ring = fd.ob[np.arange(50), fd.length - 1, 1:65]
    assert (ring.max(axis=1) > 0.7).all()  # the fd stimulus stays on through the response
    dly = yang("dlygo", sigma=0.0).sample(1, range(50))
    assert not dly.ob[np.arange(50), dly.length - 1, 1:65].any()  # delay tasks: gone
    assert (dec > 0).all()
    dms = yang("dms", sigma=0.0).sample(2, range(4000))
    p = dms.params
    assert abs(p["match"].mean() - 0.5) < 0.03
    d = np.abs(p["stim1_loc"] - p["stim2_loc"]) % (2 * np.pi)
    d = np.minimum(d, 2 * np.pi - d)
    assert np.all(d[p["match"]] < 1e-9) and np.all(d[~p["match"]] >= np.pi / 9 - 1e-9)
    assert np.mean(p["modality1"] == p["modality2"]) == pytest.approx(0.5, abs=0.03)
    dmc = yang("dnmc", sigma=0.0).sample(2, range(2000)).params
    locs = np.unique(np.round(np.concatenate([dmc["stim1_loc"], dmc["stim2_loc"]]) / np.pi, 6))
    np.testing.assert_allclose(locs, np.arange(0.1, 2.0, 0.2))
    np.testing.assert_array_equal(
        dmc["go"], (dmc["stim1_loc"] < np.pi) != (dmc["stim2_loc"] < np.pi)
    )


# ------------------------------------------------------------------------------ modes
@pytest.mark.parametrize("rule", YANG_RULES)
def test_test_mode_equals_yang_grid(rule, test_mode_reference):
    ref = test_mode_reference[rule]
    b = yang(rule, sigma=0.0).test_trials(seed=0)
    assert b.batch_size == ref["n_trials"] and (b.length == ref["length"]).all()
    np.testing.assert_allclose(
        b.ob.sum((0, 1), dtype=np.float64), ref["input_channel_sum"], rtol=1e-5, atol=1e-3
    )
    np.testing.assert_allclose(
        b.ob.sum((1, 2), dtype=np.float64), ref["input_trial_sum"], rtol=1e-5, atol=1e-3
    )
    np.testing.assert_allclose(
        b.y.sum((0, 1), dtype=np.float64), ref["target_channel_sum"], rtol=1e-5, atol=1e-3
    )
    np.testing.assert_allclose(
        b.c_mask.sum((0, 1), dtype=np.float64), ref["cmask_channel_sum"], rtol=1e-6
    )
    np.testing.assert_allclose(b.y_loc[:, -1], ref["final_y_loc"], atol=1e-5)
    noisy = yang(rule).test_trials(seed=4)
    assert not np.array_equal(noisy.ob, b.ob) and np.array_equal(noisy.y, b.y)


def _psychometric_params(task, b: int = 6) -> dict:
    out = {}
    for k in PSYCHOMETRIC_KEYS[psychometric_key(task)]:
        if "locs" in k:
            out[k] = np.linspace(0, 2 * np.pi, b, endpoint=False)
        elif "strength" in k:
            out[k] = np.linspace(0.8, 1.2, b) if k.startswith("stim1") else 1.0
        else:
            out[k] = {"stim_ons": 200, "stim_offs": 600, "stim1_ons": 200, "stim1_offs": 400,
                      "stim2_ons": 800, "stim2_offs": 1000}.get(k, 400)  # fmt: skip
    return out


@pytest.mark.parametrize("name", YANG_BASES)
def test_psychometric_sweep(name):
    task = yang(name, sigma=0.0)
    params = _psychometric_params(task)
    b = task.psychometric_trials(params)
    assert b.batch_size == 6 and b.has_targets
    if task.family == "dm":
        # stim1 stronger exactly when its strength exceeds 1.0 on the attended/summed ring
        expect = np.where(np.linspace(0.8, 1.2, 6) > 1.0, b.params["stim1_loc"],
                          b.params["stim2_loc"])  # fmt: skip
        np.testing.assert_allclose(b.params["response_angle"], expect)
    if task.family == "match":  # identical locations: a match
        assert b.params["match"].all() and (b.params["go"] == task.detail).all()
    with pytest.raises(ValueError, match=re.escape(f"{task.name!r} takes exactly the keys")):
        task.psychometric_trials({"stim_locs": [0.0], "bogus": 1})


# ------------------------------------------------------------------------------ reproducibility
@pytest.mark.parametrize("name", ["rtanti", "multidm", "ctxdlydm2", "dnmc"])
def test_trial_is_a_pure_function_of_seed_and_index(name):
    task = yang(name)
    big = task.sample(11, range(40))
    alone = task.sample(11, [17])
    n = int(alone.length[0])
    np.testing.assert_array_equal(big.ob[17, :n], alone.ob[0, :n])
    np.testing.assert_array_equal(big.y[17, :n], alone.y[0])
    np.testing.assert_array_equal(big.c_mask[17, :n], alone.c_mask[0])
    assert not np.array_equal(task.sample(12, [17]).ob[0, :5], alone.ob[0, :5])
    assert np.unique(big.length).size > 1  # timing drawn per trial, not per batch


def test_yang_rule_names_are_aliases():
    for rule, base in YANG_ALIASES.items():
        assert modcog_env.canonical_name(rule) == base
    env = modcog_env.make("contextdelaydm1", convention="yang2019")
    assert env.unwrapped.task.name == "ctxdlydm1"
    with pytest.raises(ValueError, match=re.escape("not defined under convention='yang2019'")):
        yang("dlygointr")


# ------------------------------------------------------------------------------ data paths
def test_take_trial_and_concatenate_carry_targets():
    a = yang("dlygo").sample(0, range(5))
    b = yang("dm2").sample(0, range(3))
    both = TrialBatch.concatenate([a, b])
    assert both.y.shape == (8, both.max_length, 33)
    np.testing.assert_array_equal(both.y[:5, : a.max_length], a.y)
    assert (both.y_loc[5:, b.max_length :] == -1).all() and not both.c_mask[
        5:, b.max_length :
    ].any()
    sub = both.take([6, 1])
    np.testing.assert_array_equal(sub.c_mask[1, : a.length[1]], a.c_mask[1, : a.length[1]])
    trial = both.trial(1)
    assert trial.y.shape == (a.length[1], 33) and trial.y_loc.shape == (a.length[1],)
    assert all(t.c_mask.shape[0] == t.length for t in both.trials())
    with pytest.raises(ValueError, match="mixed conventions"):
        TrialBatch.concatenate([a, dataclasses.replace(b, y=None, y_loc=None, c_mask=None)])


@pytest.mark.parametrize("batch_first", [True, False])
def test_regression_batches_both_modes(batch_first):
    names = ["go", "dm1", "dnms"]
    kw = dict(convention="yang2019", targets="regression", batch_size=3, batch_first=batch_first)
    x, y, m = next(Batches(names, mode="trial", **kw))
    xs, ys, ms = next(Batches(names, mode="stream", seq_len=400, **kw))
    if not batch_first:
        x, y, m, xs, ys, ms = (np.swapaxes(a, 0, 1) for a in (x, y, m, xs, ys, ms))
    streams = TaskStreams(names, convention="yang2019")
    first, _ = streams.next_trials(streams.start(Batches(names, **kw).state.seeds), 1)
    assert x.shape[-1] == 85 and y.shape[-1] == 33 and m.shape == y.shape
    for r in range(3):
        n = int(first.length[r])
        np.testing.assert_array_equal(y[r, :n], first.y[r, :n])
        np.testing.assert_array_equal(ys[r, :n], first.y[r, :n])  # stream row r starts with it
        np.testing.assert_array_equal(ms[r, :n], first.c_mask[r, :n])
        np.testing.assert_array_equal(xs[r, :n], first.ob[r, :n])
    with pytest.raises(
        ValueError, match=re.escape("targets='regression' needs convention='yang2019'")
    ):
        Batches("go", targets="regression")
    with pytest.raises(ValueError, match=re.escape("targets='logits' is not one of")):
        Batches("go", targets="logits")


# ------------------------------------------------------------------------------ envs
def _check(env) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(env.unwrapped, skip_render_check=True)
    assert not unexpected_warnings(caught), unexpected_warnings(caught)


@pytest.mark.parametrize("name", YANG_BASES)
def test_check_env_every_id(name):
    env = gym.make(modcog_env.gym_id(name), convention="yang2019")
    assert env.observation_space.shape == (85,) and env.action_space.n == 33
    _check(env)
    ob, _ = env.reset(seed=5)
    trial = env.unwrapped.trial
    np.testing.assert_array_equal(ob, trial.ob[0])
    assert trial.y.shape == (trial.length, 33) and trial.c_mask.shape == (trial.length, 33)
    expected = make_task(name, convention="yang2019").sample(5, [0])
    np.testing.assert_array_equal(trial.y_loc, expected.y_loc[0])


def test_check_env_multitask_and_vector():
    env = gym.make("ModCog-20Cog-v0", convention="yang2019")
    assert env.observation_space.shape == (85,)  # rule units are part of Yang's 85 inputs
    _check(env)
    env.reset(seed=1)
    trial = env.unwrapped.trial
    k = YANG_BASES.index(trial.task_name)
    assert (trial.ob[:, 65 + k] != 0).all() and trial.y is not None
    vec = modcog_env.make_vec("ModCog-DMS-v0", num_envs=2, convention="yang2019")
    obs, _ = vec.reset(seed=0)
    assert obs.shape == (2, 85)


@pytest.mark.parametrize(
    ("name", "cohs"),
    [("dm2", (0.01, 0.02, 0.04, 0.08)), ("ctxdm1", (0.01, 0.02, 0.04, 0.08)),
     ("dlydm1", (0.08, 0.16, 0.32)), ("ctxdlydm2", (0.08, 0.16, 0.32))],
)  # fmt: skip
def test_dm_strengths_and_locations(name, cohs):
    p = yang(name, sigma=0.0).sample(8, range(3000)).params
    a, s = p["strength1"], p["strength2"]
    shown = (a != 0).any(axis=0)
    assert list(shown) == ([False, True] if name == "dm2" else [True, True] if "ctx" in name
                           else [True, False])  # fmt: skip
    coh = np.round((a - s)[:, shown] / 2, 9)
    np.testing.assert_array_equal(np.unique(np.abs(coh)), cohs)
    assert abs(np.mean(coh > 0) - 0.5) < 0.03
    mean = (a + s)[:, shown] / 2
    assert mean.min() >= 0.8 and mean.max() < 1.2
    d = np.abs(p["stim1_loc"] - p["stim2_loc"]) % (2 * np.pi)
    d = np.minimum(d, 2 * np.pi - d)
    assert d.min() >= np.pi / 2 - 1e-9


def test_multidm_split():
    p = yang("multidm", sigma=0.0).sample(9, range(3000)).params
    a, s = p["strength1"], p["strength2"]
    for pair in (a, s):
        total = pair.sum(axis=1) / 2  # the pair's strength before the split
        frac = np.abs(pair[:, 0] - pair[:, 1]) / total
        assert frac.min() >= 0.2 - 1e-9 and frac.max() < 0.8
    coh = np.round((a.sum(1) - s.sum(1)) / 4, 9)
    np.testing.assert_array_equal(np.unique(np.abs(coh)), (0.01, 0.02, 0.04, 0.08))
