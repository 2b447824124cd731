"""Semantics of the DM family (dm1 ... multidlydm) under both conventions.

Expected values come from TASKS.md §1 (bump, noise), §2.2 (e), §3.2 (latents, periods, channel
table) and §8 (reference quantities), at dt=100 and N=16 unless stated.
"""

from __future__ import annotations

import math
from functools import cache

import numpy as np
import pytest
from utils import assert_rate

import modcog_env

N = 16
N_TRIALS = 2000
SEED = 777
CONVENTIONS = ("modcog", "reference")
# TASKS.md §3.2: task -> (delay kind, modalities showing stimuli, weights w)
DM_TASKS = {
    "dm1": (False, (True, False), (1.0, 1.0)),
    "dm2": (False, (False, True), (1.0, 1.0)),
    "ctxdm1": (False, (True, True), (1.0, 0.0)),
    "ctxdm2": (False, (True, True), (0.0, 1.0)),
    "multidm": (False, (True, True), (1.0, 1.0)),
    "dlydm1": (True, (True, False), (1.0, 1.0)),
    "dlydm2": (True, (False, True), (1.0, 1.0)),
    "ctxdlydm1": (True, (True, True), (1.0, 0.0)),
    "ctxdlydm2": (True, (True, True), (0.0, 1.0)),
    "multidlydm": (True, (True, True), (1.0, 1.0)),
}
KAPPAS = (0.08, 0.16, 0.32, 0.64)
DELAY_VALUES = (0.3, 0.6, 1.0)
DELAY_PAIRS = [(a, b) for a in DELAY_VALUES for b in DELAY_VALUES if a != b]
NOISE_STD_DT100 = 0.1  # sigma / sqrt(dt) = 1 / sqrt(100)


def bump(phi: np.ndarray, strength: np.ndarray, n: int) -> np.ndarray:
    """TASKS.md §1: 0.8*s*exp(-d^2/2), d = min(delta, 2pi - delta) / (pi/8); [B, n] float64."""
    theta = 2 * np.pi * np.arange(n) / n
    delta = np.abs(np.asarray(phi, dtype=np.float64)[:, None] - theta[None, :])
    d = np.minimum(delta, 2 * np.pi - delta) / (np.pi / 8)
    return 0.8 * np.asarray(strength, dtype=np.float64)[:, None] * np.exp(-0.5 * d**2)


@cache
def batch(task: str, convention: str, sigma: float = 1.0):
    return modcog_env.make_task(task, convention=convention, sigma=sigma).sample(
        SEED, range(N_TRIALS)
    )


def period_layout(task: str) -> list[tuple[str, int | None]]:
    """§3.2 timing at dt=100: (period, steps); fixation is U[200, 500) -> None (2, 3 or 4)."""
    if DM_TASKS[task][0]:
        return [("fixation", None), ("stim1", 5), ("delay", 5), ("stim2", 5), ("decision", 2)]
    return [("fixation", None), ("stimulus", 5), ("decision", 2)]


cases = pytest.mark.parametrize(
    "task,convention", [(t, c) for t in DM_TASKS for c in CONVENTIONS], ids=lambda v: str(v)
)


@cases
def test_periods_and_lengths(task, convention):
    tb = batch(task, convention)
    layout = period_layout(task)
    assert list(tb.start) == [p for p, _ in layout]
    t = np.zeros(tb.batch_size, np.int64)
    for p, n_steps in layout:
        np.testing.assert_array_equal(tb.start[p], t, err_msg=p)
        dur = tb.stop[p] - tb.start[p]
        if n_steps is None:  # fixation U[200, 500) at dt=100: 2, 3, 4 steps, each 1/3
            counts = np.bincount(dur, minlength=6)
            assert counts[[0, 1, 5]].sum() == 0
            for k in (2, 3, 4):
                assert_rate(counts[k], N_TRIALS, 1 / 3)
        else:
            np.testing.assert_array_equal(dur, n_steps, err_msg=p)
        t = tb.stop[p]
    np.testing.assert_array_equal(t, tb.length)
    lo, hi = (19, 21) if DM_TASKS[task][0] else (9, 11)  # §8.1
    assert set(np.unique(tb.length)) == set(range(lo, hi + 1))
    assert modcog_env.make_task(task, convention=convention).length_bounds() == (lo, hi)
    np.testing.assert_array_equal(tb.params["delay_ms"], 500 if DM_TASKS[task][0] else 0)


@cases
def test_locations(task, convention):
    """§3.2: i1 ~ U{0..N-1}, i2 ~ U({0..N-1} minus {i1})."""
    tb = batch(task, convention)
    i1, i2 = tb.params["theta1_idx"], tb.params["theta2_idx"]
    assert np.all(i1 != i2)
    assert np.all((i1 >= 0) & (i1 < N) & (i2 >= 0) & (i2 < N))
    c1 = np.bincount(i1, minlength=N)
    for k in range(N):
        assert_rate(c1[k], N_TRIALS, 1 / N)
    sep = np.bincount((i2 - i1) % N, minlength=N)
    assert sep[0] == 0
    for k in range(1, N):
        assert_rate(sep[k], N_TRIALS, 1 / (N - 1))


@cases
def test_strength_sets(task, convention):
    """§3.2: per shown modality, non-delay a = 0.5 + c/2, b = 0.5 - c/2 with c = sign * kappa,
    kappa ~ U{0.08, 0.16, 0.32, 0.64}, sign a coin; delay (a, b) uniform over the 6 ordered pairs
    of distinct values of {0.3, 0.6, 1.0}. Not shown: 0/0 and NaN coherence. (Under modcog the
    multi tasks condition on "no tie"; each value still excludes exactly one partner value, so
    the per-modality marginals stay uniform.)"""
    tb = batch(task, convention)
    delayed, shown, _ = DM_TASKS[task]
    a, b, coh = tb.params["strength1"], tb.params["strength2"], tb.params["coherence"]
    assert a.shape == b.shape == coh.shape == (N_TRIALS, 2)
    for m in (0, 1):
        if not shown[m]:
            assert np.all(a[:, m] == 0) and np.all(b[:, m] == 0)
            assert np.all(np.isnan(coh[:, m]))
            continue
        if delayed:
            pair_idx = np.full(N_TRIALS, -1)
            for j, (x, y) in enumerate(DELAY_PAIRS):
                pair_idx[np.isclose(a[:, m], x) & np.isclose(b[:, m], y)] = j
            assert np.all(pair_idx >= 0), "a strength pair outside the 6 ordered pairs"
            counts = np.bincount(pair_idx, minlength=6)
            for j in range(6):
                assert_rate(counts[j], N_TRIALS, 1 / 6)
        else:
            c = a[:, m] - b[:, m]
            np.testing.assert_allclose(a[:, m] + b[:, m], 1.0, atol=1e-12)
            np.testing.assert_allclose(coh[:, m], c, atol=1e-12)
            kappa_idx = np.full(N_TRIALS, -1)
            for j, kappa in enumerate(KAPPAS):
                kappa_idx[np.isclose(np.abs(c), kappa)] = j
            assert np.all(kappa_idx >= 0), "a coherence outside {0.08, 0.16, 0.32, 0.64}"
            counts = np.bincount(kappa_idx, minlength=4)
            for j in range(4):
                assert_rate(counts[j], N_TRIALS, 1 / 4)
            assert_rate(int(np.sum(c > 0)), N_TRIALS, 1 / 2)


@cases
def test_evidence_and_choice(task, convention):
    """§3.2: E1 = sum_m w_m a_m, E2 = sum_m w_m b_m; i* = i1 if E1 > E2, i2 if E2 > E1."""
    tb = batch(task, convention)
    w = np.array(DM_TASKS[task][2])
    a, b = tb.params["strength1"], tb.params["strength2"]
    e1, e2 = a @ w, b @ w
    np.testing.assert_allclose(tb.params["evidence1"], e1, atol=1e-12)
    np.testing.assert_allclose(tb.params["evidence2"], e2, atol=1e-12)
    i1, i2 = tb.params["theta1_idx"], tb.params["theta2_idx"]
    clear = np.abs(e1 - e2) >= 1e-9
    want = np.where(e1 > e2, i1, i2)
    np.testing.assert_array_equal(tb.params["chosen"][clear], want[clear])
    np.testing.assert_array_equal(tb.params["response"], tb.params["chosen"])
    tied = ~clear
    if convention == "modcog" or task not in ("multidm", "multidlydm"):
        assert not tied.any()  # no ties under modcog; only multi tasks can tie at all
    for i in np.flatnonzero(tied):
        assert tb.params["chosen"][i] in (i1[i], i2[i])


@cases
def test_labels(task, convention):
    """Label 0 before the decision; 1 + i* in it (reference: (i* + 1) mod N, defect a);
    modcog: each label 1..16 w.p. 1/16 on decision steps (§8.1)."""
    tb = batch(task, convention)
    np.testing.assert_array_equal(tb.label[~tb.decision], 0)
    chosen = tb.params["chosen"]
    want = (chosen + 1) % N if convention == "reference" else 1 + chosen
    for i in range(tb.batch_size):
        np.testing.assert_array_equal(tb.label[i, tb.start["decision"][i] : tb.length[i]], want[i])
    counts = np.bincount(tb.label[tb.decision], minlength=N + 1)
    n_steps = int(tb.decision.sum())
    assert n_steps == 2 * N_TRIALS
    if convention == "modcog":
        assert counts[0] == 0
        for k in range(1, N + 1):  # two identical steps per trial: rate of trials
            assert_rate(counts[k] // 2, N_TRIALS, 1 / N)
    else:  # label N never, label 0 for i* = N-1 (1/16 of trials)
        assert counts[N] == 0
        for k in range(N):
            assert_rate(counts[k] // 2, N_TRIALS, 1 / N)


@cases
def test_clean_observation_equals_spec_table(task, convention):
    """sigma=0: §3.2 channel table exactly, with bumps B(theta, s) of §1."""
    tb = batch(task, convention, sigma=0.0)
    delayed, _, _ = DM_TASKS[task]
    i1, i2 = tb.params["theta1_idx"], tb.params["theta2_idx"]
    a, b = tb.params["strength1"], tb.params["strength2"]
    th1, th2 = 2 * np.pi * i1 / N, 2 * np.pi * i2 / N
    want = np.zeros(tb.ob.shape, np.float64)
    f = tb.stop["fixation"]  # 2..4, checked in test_periods_and_lengths
    for i in range(tb.batch_size):
        want[i, : tb.start["decision"][i], 0] = 1.0
    for m in (0, 1):
        ch = slice(1 + m * N, 1 + (m + 1) * N)
        p1, p2 = bump(th1, a[:, m], N), bump(th2, b[:, m], N)
        for i in range(tb.batch_size):
            s = f[i]
            if delayed:
                want[i, s : s + 5, ch] = p1[i]
                want[i, s + 10 : s + 15, ch] = p2[i]
            else:
                want[i, s : s + 5, ch] = p1[i] + p2[i]
    np.testing.assert_allclose(tb.ob, want, rtol=1e-6, atol=1e-7)


@cases
def test_noise_placement_and_std(task, convention):
    """sigma=1, dt=100: N(0, 0.1^2) on all 1+2N channels (fixation included) in stimulus periods
    and nowhere else; fixation channel exactly 1 in fixation and delay (§3.2, §8.2)."""
    clean, noisy = batch(task, convention, sigma=0.0), batch(task, convention, sigma=1.0)
    for key in ("theta1_idx", "theta2_idx", "chosen"):
        np.testing.assert_array_equal(clean.params[key], noisy.params[key])
    np.testing.assert_array_equal(clean.length, noisy.length)
    diff = noisy.ob.astype(np.float64) - clean.ob.astype(np.float64)
    stim = np.zeros(clean.label.shape, bool)
    t = np.arange(clean.max_length)[None, :]
    for p in ("stim1", "stim2") if DM_TASKS[task][0] else ("stimulus",):
        stim |= (t >= clean.start[p][:, None]) & (t < clean.stop[p][:, None])
    assert np.all(diff[~stim] == 0)
    eps = diff[stim]  # [steps, 33]
    assert eps.shape[1] == 1 + 2 * N
    assert np.mean(eps != 0) > 0.999
    n = eps.size
    assert abs(eps.mean()) < 5 * NOISE_STD_DT100 / math.sqrt(n)
    assert abs(eps.std() - NOISE_STD_DT100) < 5 * NOISE_STD_DT100 / math.sqrt(2 * n)
    # per channel, fixation included
    per_channel = eps.std(axis=0)
    np.testing.assert_allclose(per_channel, NOISE_STD_DT100, rtol=5 / math.sqrt(2 * eps.shape[0]))
    # neighbouring channels and steps are uncorrelated
    r = np.corrcoef(eps[:, 0], eps[:, 1])[0, 1]
    assert abs(r) < 5 / math.sqrt(eps.shape[0])
    fix = noisy.ob[:, :, 0]
    quiet = ["fixation"] + (["delay"] if DM_TASKS[task][0] else [])
    for p in quiet:
        in_p = (t >= noisy.start[p][:, None]) & (t < noisy.stop[p][:, None])
        assert np.all(fix[in_p] == 1.0), p
    assert np.all(noisy.ob[noisy.decision] == 0)


def test_noise_std_at_dt20():
    """§1: std sigma/sqrt(dt) = 1/sqrt(20) = 0.2236 at dt=20."""
    kw = dict(convention="modcog", dt=20)
    clean = modcog_env.make_task("dm1", sigma=0.0, **kw).sample(5, range(300))
    noisy = modcog_env.make_task("dm1", sigma=1.0, **kw).sample(5, range(300))
    t = np.arange(clean.max_length)[None, :]
    stim = (t >= clean.start["stimulus"][:, None]) & (t < clean.stop["stimulus"][:, None])
    np.testing.assert_array_equal(clean.stop["stimulus"] - clean.start["stimulus"], 25)
    eps = (noisy.ob.astype(np.float64) - clean.ob)[stim]
    want = 1 / math.sqrt(20)
    assert abs(eps.std() - want) < 5 * want / math.sqrt(2 * eps.size)
    assert np.all((noisy.ob.astype(np.float64) - clean.ob)[~stim] == 0)


@pytest.mark.parametrize("task", ["multidm", "multidlydm"])
def test_modcog_no_tie_and_smallest_gap(task):
    """§2.2 e: modcog never ties; smallest |E1 - E2| is 0.08 (multidm) / 0.1 (multidlydm)."""
    tb = batch(task, "modcog")
    gap = np.abs(tb.params["evidence1"] - tb.params["evidence2"])
    smallest = 0.08 if task == "multidm" else 0.1
    assert gap.min() >= smallest - 1e-9
    assert not tb.params["tie"].any()
    # the strengths drawn are still legal values (redraws use the same sets)
    if task == "multidm":
        c = tb.params["coherence"]
        assert np.all(np.abs(c[:, 0] + c[:, 1]) > 1e-9)
