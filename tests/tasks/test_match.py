"""Semantics of the match family (dms, dnms, dmc, dnmc) under both conventions.

Expected values come from TASKS.md §1, §2.2 (c, f, h1), §2.3, §3.3 and §8, at dt=100 and N=16.
"""

from __future__ import annotations

import math
from functools import cache

import numpy as np
import pytest
from utils import assert_modality_use, assert_rate

import modcog_env

N = 16
HALF = N // 2
N_TRIALS = 2000
SEED = 4242
CONVENTIONS = ("modcog", "reference")
# task -> (category rule, go trials are the match trials)
MATCH_TASKS = {
    "dms": (False, True), "dnms": (False, False), "dmc": (True, True), "dnmc": (True, False),
}
# §3.3 timing at dt=100 (delay: None = U[200, 1200) floored, 2..11 steps)
LAYOUT = [("fixation", 3), ("sample", 5), ("delay", None), ("test", 5), ("decision", 9)]
DELAY_STEPS = tuple(range(2, 12))
# §8.1: reference decision-step label-0 fraction
REFERENCE_LABEL0 = {"dms": 17 / 32, "dnms": 17 / 32, "dmc": 135 / 256, "dnmc": 137 / 256}
NOISE_STD_DT100 = 0.1


def bump(phi: np.ndarray, strength: float, n: int) -> np.ndarray:
    """TASKS.md §1: 0.8*s*exp(-d^2/2), d = min(delta, 2pi - delta) / (pi/8); [B, n] float64."""
    theta = 2 * np.pi * np.arange(n) / n
    delta = np.abs(np.asarray(phi, dtype=np.float64)[:, None] - theta[None, :])
    d = np.minimum(delta, 2 * np.pi - delta) / (np.pi / 8)
    return 0.8 * strength * np.exp(-0.5 * d**2)


@cache
def batch(task: str, convention: str, sigma: float = 1.0, seed: int = SEED, n: int = N_TRIALS):
    return modcog_env.make_task(task, convention=convention, sigma=sigma).sample(seed, range(n))


def in_period(tb, p: str) -> np.ndarray:
    t = np.arange(tb.max_length)[None, :]
    return (t >= tb.start[p][:, None]) & (t < tb.stop[p][:, None])


cases = pytest.mark.parametrize(
    "task,convention", [(t, c) for t in MATCH_TASKS for c in CONVENTIONS], ids=lambda v: str(v)
)


@cases
def test_periods_and_lengths(task, convention):
    tb = batch(task, convention)
    assert list(tb.start) == [p for p, _ in LAYOUT]
    t = np.zeros(tb.batch_size, np.int64)
    for p, n_steps in LAYOUT:
        np.testing.assert_array_equal(tb.start[p], t, err_msg=p)
        dur = tb.stop[p] - tb.start[p]
        if n_steps is None:
            assert set(np.unique(dur)) <= set(DELAY_STEPS)
            np.testing.assert_array_equal(tb.params["delay_ms"], 100 * dur)
        else:
            np.testing.assert_array_equal(dur, n_steps, err_msg=p)
        t = tb.stop[p]
    np.testing.assert_array_equal(t, tb.length)
    assert tb.length.min() >= 24 and tb.length.max() <= 33  # §8.1
    assert modcog_env.make_task(task, convention=convention).length_bounds() == (24, 33)


@pytest.mark.parametrize("task", MATCH_TASKS)
def test_modcog_delay_per_trial(task):
    """§2.2 c: per trial, U{200, ..., 1100} ms, each 1/10, within every modality."""
    tb = batch(task, "modcog")
    dur = tb.stop["delay"] - tb.start["delay"]
    counts = np.bincount(dur, minlength=12)
    for k in DELAY_STEPS:
        assert_rate(counts[k], N_TRIALS, 1 / 10)
    for m in (1, 2):
        assert len(np.unique(dur[tb.params["modality"] == m])) == 10


@pytest.mark.parametrize("task", MATCH_TASKS)
def test_reference_delay_per_instance(task):
    """§2.3: one delay per (seed, task, modality), the same in every batch composition; over
    seeds each instance delay is U{200..1100} (1/10 each) and seeds differ."""
    tb = batch(task, "reference")
    dur = tb.stop["delay"] - tb.start["delay"]
    m = tb.params["modality"]
    inst = {k: int(dur[m == k][0]) for k in (1, 2)}
    for k in (1, 2):
        assert np.all(dur[m == k] == inst[k])
    other = modcog_env.make_task(task, convention="reference").sample(SEED, [5000, 123457])
    for i in range(2):
        k = int(other.params["modality"][i])
        assert other.stop["delay"][i] - other.start["delay"][i] == inst[k]
    task_obj = modcog_env.make_task(task, convention="reference")
    delays = []
    for seed in range(200):
        small = task_obj.sample(seed, range(2))  # alternation: both modalities
        assert sorted(small.params["modality"]) == [1, 2]
        delays.append(small.stop["delay"] - small.start["delay"])
    delays = np.concatenate(delays)
    counts = np.bincount(delays, minlength=12)
    assert counts[[0, 1]].sum() == 0 and delays.max() <= 11
    for k in DELAY_STEPS:
        assert_rate(counts[k], delays.size, 1 / 10)
    pairs = delays.reshape(-1, 2)
    assert len({tuple(p) for p in pairs}) > 20
    assert_rate(int(np.sum(pairs[:, 0] == pairs[:, 1])), len(pairs), 1 / 10)


@cases
def test_match_coin_and_go(task, convention):
    """§3.3: match ~ coin; go trials are the match trials (dms, dmc) or non-match (dnms, dnmc)."""
    tb = batch(task, convention)
    match, go = tb.params["match"], tb.params["go"]
    assert_rate(int(match.sum()), N_TRIALS, 0.5)
    np.testing.assert_array_equal(go, match if MATCH_TASKS[task][1] else ~match)


@cases
def test_labels(task, convention):
    """Go trials: label 1 + i_t in the decision (reference: (i_t + 1) mod N); no-go: 0 on every
    step; 0 before the decision. modcog: half the decision steps have label 0 and each label
    1..16 has probability 1/32; reference: label-0 fraction of §8.1, label 16 never."""
    tb = batch(task, convention)
    go, i_t = tb.params["go"], tb.params["test_idx"]
    np.testing.assert_array_equal(tb.label[~tb.decision], 0)
    np.testing.assert_array_equal(tb.label[~go], 0)
    want = (i_t + 1) % N if convention == "reference" else 1 + i_t
    for i in np.flatnonzero(go):
        np.testing.assert_array_equal(tb.label[i, tb.start["decision"][i] : tb.length[i]], want[i])
    np.testing.assert_array_equal(tb.params["response"], i_t)
    first = tb.label[np.arange(N_TRIALS), tb.start["decision"]]
    counts = np.bincount(first, minlength=N + 1)
    if convention == "modcog":
        assert_rate(counts[0], N_TRIALS, 0.5)
        for k in range(1, N + 1):
            assert_rate(counts[k], N_TRIALS, 1 / 32)
    else:
        assert counts[N] == 0
        assert_rate(counts[0], N_TRIALS, REFERENCE_LABEL0[task])


@pytest.mark.parametrize("task", ["dms", "dnms"])
@pytest.mark.parametrize("convention", CONVENTIONS)
def test_match_to_sample_rule(task, convention):
    """§3.3: i_t = i_s on match and i_s + N/2 (mod N) on non-match; i_s ~ U{0..N-1}."""
    tb = batch(task, convention)
    i_s, i_t, match = tb.params["sample_idx"], tb.params["test_idx"], tb.params["match"]
    np.testing.assert_array_equal(i_t[match], i_s[match])
    np.testing.assert_array_equal(i_t[~match], (i_s[~match] + HALF) % N)
    counts = np.bincount(i_s, minlength=N)
    for k in range(N):
        assert_rate(counts[k], N_TRIALS, 1 / N)


@pytest.mark.parametrize("task", ["dmc", "dnmc"])
@pytest.mark.parametrize("convention", CONVENTIONS)
def test_match_to_category_rule(task, convention):
    """§3.3: c(i) = [i >= N/2] (reference: sample category [i_s > N/2]); test category equals
    the sample's on match, differs on non-match; i_t uniform within its category's half."""
    tb = batch(task, convention)
    i_s, i_t, match = tb.params["sample_idx"], tb.params["test_idx"], tb.params["match"]
    c_s, c_t = tb.params["sample_cat"], tb.params["test_cat"]
    sample_rule = (i_s > HALF) if convention == "reference" else (i_s >= HALF)
    np.testing.assert_array_equal(c_s, sample_rule)
    np.testing.assert_array_equal(c_t, i_t >= HALF)
    np.testing.assert_array_equal(c_t == c_s, match)
    for cat in (0, 1):
        within = i_t[c_t == cat] - HALF * cat
        counts = np.bincount(within, minlength=HALF)
        assert counts.size == HALF
        for k in range(HALF):
            assert_rate(counts[k], within.size, 1 / HALF)


@cases
def test_clean_observation_equals_spec_table(task, convention):
    """sigma=0: §3.3 channel table exactly: B(theta_is, 1) in sample and B(theta_it, 1) in test on
    the ring of modality m; 0 elsewhere; fixation 1 before the decision, 0 in it."""
    tb = batch(task, convention, sigma=0.0)
    m = tb.params["modality"]
    ps = bump(2 * np.pi * tb.params["sample_idx"] / N, 1.0, N)
    pt = bump(2 * np.pi * tb.params["test_idx"] / N, 1.0, N)
    want = np.zeros(tb.ob.shape, np.float64)
    for i in range(tb.batch_size):
        want[i, : 3 + 5 + int(tb.params["delay_ms"][i] // 100) + 5, 0] = 1.0
        ch = slice(1 + (m[i] - 1) * N, 1 + m[i] * N)
        want[i, 3:8, ch] = ps[i]
        t0 = tb.start["test"][i]
        want[i, t0 : t0 + 5, ch] = pt[i]
    np.testing.assert_allclose(tb.ob, want, rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(tb.decision, tb.valid & (tb.ob[:, :, 0] == 0))


@cases
def test_noise_only_on_active_ring_in_sample_and_test(task, convention):
    """§3.3, §8.2: sigma=1, dt=100: N(0, 0.1^2) on the active ring during sample and test only;
    the fixation channel and the other ring are never noisy."""
    clean, noisy = batch(task, convention, sigma=0.0), batch(task, convention, sigma=1.0)
    for key in ("modality", "sample_idx", "test_idx", "match", "delay_ms"):
        np.testing.assert_array_equal(clean.params[key], noisy.params[key])
    diff = noisy.ob.astype(np.float64) - clean.ob.astype(np.float64)
    m = clean.params["modality"]
    shown = in_period(clean, "sample") | in_period(clean, "test")
    active = np.zeros(diff.shape, bool)
    for k in (1, 2):
        active[:, :, 1 + (k - 1) * N : 1 + k * N] = ((m == k)[:, None] & shown)[:, :, None]
    assert np.all(diff[~active] == 0)
    eps = diff[active]
    assert eps.size == N_TRIALS * 10 * N
    assert np.mean(eps != 0) > 0.999
    assert abs(eps.mean()) < 5 * NOISE_STD_DT100 / math.sqrt(eps.size)
    assert abs(eps.std() - NOISE_STD_DT100) < 5 * NOISE_STD_DT100 / math.sqrt(2 * eps.size)
    fix = noisy.ob[:, :, 0]
    np.testing.assert_array_equal(fix[noisy.valid & ~noisy.decision], 1.0)
    np.testing.assert_array_equal(fix[noisy.decision], 0.0)


@cases
def test_modality(task, convention):
    """§8.2: P(m=1) = 1/2; P(same as previous trial) 1/2 (modcog) or 0 (reference, h1)."""
    m = batch(task, convention).params["modality"]
    assert set(np.unique(m)) == {1, 2}
    assert_modality_use(m, convention)


@pytest.mark.parametrize("task", MATCH_TASKS)
def test_odd_dim_ring_rejected(task):
    """§1: dim_ring must be even for the match family."""
    with pytest.raises(ValueError, match="must be even"):
        modcog_env.make_task(task, dim_ring=15)
