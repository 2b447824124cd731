"""Semantics of the go family (go, rtgo, dlygo, anti, rtanti, dlyanti) under both conventions.

Every expected value comes from TASKS.md §1 (bump, channels, label), §2.2/§2.3 (conventions),
§3.1 (periods, channels) and §8 (reference quantities), at dt=100 and N=16 unless stated.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest
from utils import assert_modality_use, assert_rate

import modcog_env

N = 16
N_TRIALS = 2000
SEED = 20240611
CONVENTIONS = ("modcog", "reference")
GO_TASKS = ("go", "rtgo", "dlygo", "anti", "rtanti", "dlyanti")
ANTI = {"go": False, "rtgo": False, "dlygo": False, "anti": True, "rtanti": True, "dlyanti": True}
RT = {"rtgo", "rtanti"}
# TASKS.md §8.1 trial steps (modcog, reference)
TRIAL_STEPS = {
    "go": (15, 20), "anti": (15, 20), "rtgo": (10, 10), "rtanti": (10, 10),
    "dlygo": (20, 20), "dlyanti": (20, 20),
}

# TASKS.md §3.1: period steps at dt=100, per convention (go/anti get the 500 ms delay under
# reference, defect b). Order is the task-fixed period order.
_FULL_ORDER = ("fixation", "stimulus", "delay", "decision")
_RT_ORDER = ("fixation", "decision")


def expected_periods(task: str, convention: str, dt: float = 100) -> dict[str, int]:
    """Ordered period -> steps, from the §3.1 tables (ms floored to dt)."""
    if task in RT:
        ms = {"fixation": 500, "decision": 500}
    else:
        delay = 500 if (task.startswith("dly") or convention == "reference") else 0
        ms = {"fixation": 500, "stimulus": 500, "delay": delay, "decision": 500}
    return {p: int(v // dt) for p, v in ms.items()}


def bump(phi: np.ndarray, strength: float | np.ndarray, n: int) -> np.ndarray:
    """TASKS.md §1: 0.8*s*exp(-d^2/2), d = min(delta, 2pi - delta) / (pi/8); [B, n] float64."""
    theta = 2 * np.pi * np.arange(n) / n
    delta = np.abs(np.asarray(phi, dtype=np.float64)[:, None] - theta[None, :])
    d = np.minimum(delta, 2 * np.pi - delta) / (np.pi / 8)
    s = np.asarray(strength, dtype=np.float64)
    s = s[:, None] if s.ndim == 1 else s
    return 0.8 * s * np.exp(-0.5 * d**2)


@cache
def batch(task: str, convention: str, sigma: float = 1.0, dt: float = 100):
    return modcog_env.make_task(task, convention=convention, sigma=sigma, dt=dt).sample(
        SEED, range(N_TRIALS)
    )


def decision_labels(tb) -> np.ndarray:
    """[B] label at decision onset (go-family labels are constant over the decision)."""
    rows = np.arange(tb.batch_size)
    return tb.label[rows, tb.start["decision"]]


cases = pytest.mark.parametrize(
    "task,convention", [(t, c) for t in GO_TASKS for c in CONVENTIONS], ids=lambda v: str(v)
)


@cases
def test_periods_order_contiguity_and_lengths(task, convention):
    tb = batch(task, convention)
    periods = expected_periods(task, convention)
    # every present period is a known one, in the task-fixed order
    order = _RT_ORDER if task in RT else _FULL_ORDER
    present = list(tb.start)
    assert present == [p for p in order if p in present]
    t = np.zeros(tb.batch_size, np.int64)
    for p, n_steps in periods.items():
        if p not in tb.start:  # a 0-step period may be absent (TASKS.md §1 "dt")
            assert n_steps == 0, f"period {p!r} of {n_steps} steps is missing"
            continue
        np.testing.assert_array_equal(tb.start[p], t, err_msg=p)
        np.testing.assert_array_equal(tb.stop[p] - tb.start[p], n_steps, err_msg=p)
        t = tb.stop[p]
    total = sum(periods.values())
    np.testing.assert_array_equal(tb.length, total)
    np.testing.assert_array_equal(t, tb.length)
    # §8.1: decision steps 5; trial steps modcog / reference
    assert periods["decision"] == 5
    assert total == TRIAL_STEPS[task][CONVENTIONS.index(convention)]
    assert modcog_env.make_task(task, convention=convention).length_bounds() == (total, total)


@cases
def test_decision_mask_and_label_zero_outside_decision(task, convention):
    tb = batch(task, convention)
    t = np.arange(tb.max_length)[None, :]
    in_decision = (t >= tb.start["decision"][:, None]) & (t < tb.length[:, None])
    np.testing.assert_array_equal(tb.decision, in_decision)
    assert np.all(tb.label[~in_decision] == 0)
    # TASKS.md §1: fixation input exactly 0 on decision steps, non-zero on all other real steps
    fix = tb.ob[:, :, 0]
    assert np.all(fix[in_decision] == 0)
    assert np.all(fix[tb.valid & ~in_decision] == 1)


@cases
def test_decision_label_is_target(task, convention):
    """§3.1: label 1 + g in the decision (reference: (g + 1) mod N, defect a), constant over it."""
    tb = batch(task, convention)
    g = tb.params["target"]
    want = (g + 1) % N if convention == "reference" else 1 + g
    for i in range(tb.batch_size):
        d = tb.label[i, tb.start["decision"][i] : tb.length[i]]
        assert np.all(d == want[i]), (i, d, want[i])
    np.testing.assert_array_equal(tb.params["response"], g)
    assert np.all(tb.params["go"])


@cases
def test_label_distribution(task, convention):
    """§8.1: modcog each label 1..16 has probability 1/16; reference label 0 w.p. 1/16, 16 never."""
    labels = decision_labels(batch(task, convention))
    counts = np.bincount(labels, minlength=N + 1)
    if convention == "modcog":
        assert counts[0] == 0
        for k in range(1, N + 1):
            assert_rate(counts[k], N_TRIALS, 1 / N)
    else:
        assert counts[N] == 0
        for k in range(N):
            assert_rate(counts[k], N_TRIALS, 1 / N)


@cases
def test_observation_equals_spec_table(task, convention):
    """§3.1 channel table, exactly: fixation 1 before the decision and 0 in it; B(phi, 1) on the
    ring of modality m during the stimulus (rt: the decision) and 0 everywhere else; no noise
    although sigma=1 (the default)."""
    tb = batch(task, convention)
    assert modcog_env.make_task(task, convention=convention).sigma == 1.0
    periods = expected_periods(task, convention)
    shown = "decision" if task in RT else "stimulus"
    g, m = tb.params["target"], tb.params["modality"]
    phi = (2 * np.pi * g / N + np.pi * ANTI[task]) % (2 * np.pi)
    pattern = bump(phi, 1.0, N)
    want = np.zeros(tb.ob.shape, np.float64)
    t0 = 0
    for p, n_steps in periods.items():
        if p != "decision":
            want[:, t0 : t0 + n_steps, 0] = 1.0
        if p == shown:
            for k in (1, 2):
                rows = m == k
                want[rows, t0 : t0 + n_steps, 1 + (k - 1) * N : 1 + k * N] = pattern[rows, None, :]
        t0 += n_steps
    np.testing.assert_allclose(tb.ob, want, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(tb.params["stim_angle"], phi, atol=1e-12)


@cases
def test_stimulus_peak_at_target_or_opposite(task, convention):
    tb = batch(task, convention)
    shown = "decision" if task in RT else "stimulus"
    g, m = tb.params["target"], tb.params["modality"]
    rows = np.arange(tb.batch_size)
    ob = tb.ob[rows, tb.start[shown]]  # first step of the shown period
    ring = np.where((m == 1)[:, None], ob[:, 1 : 1 + N], ob[:, 1 + N :])
    other = np.where((m == 1)[:, None], ob[:, 1 + N :], ob[:, 1 : 1 + N])
    peak = (g + (N // 2) * ANTI[task]) % N
    np.testing.assert_array_equal(np.argmax(ring, axis=1), peak)
    np.testing.assert_allclose(ring.max(axis=1), 0.8, rtol=1e-6)
    assert np.all(other == 0)


@cases
def test_no_noise_with_any_sigma(task, convention):
    """§3.1: no noise anywhere in the go family (sigma is ignored)."""
    clean = batch(task, convention, sigma=0.0)
    noisy = batch(task, convention, sigma=1.0)
    loud = modcog_env.make_task(task, convention=convention, sigma=5.0).sample(SEED, range(200))
    np.testing.assert_array_equal(clean.ob, noisy.ob)
    np.testing.assert_array_equal(clean.ob[:200], loud.ob)


@cases
def test_target_uniform(task, convention):
    counts = np.bincount(batch(task, convention).params["target"], minlength=N)
    assert counts.size == N
    for k in range(N):
        assert_rate(counts[k], N_TRIALS, 1 / N)


@cases
def test_modality(task, convention):
    """§8.2: P(m=1) = 1/2; P(same as the previous trial) 1/2 (modcog) or 0 (reference: strict
    alternation over consecutive trial indices, defect h1)."""
    assert_modality_use(batch(task, convention).params["modality"], convention)


@pytest.mark.parametrize("convention", CONVENTIONS)
def test_periods_at_dt20(convention):
    """§1: durations are in ms, floored to dt: go at dt=20 has 25+25+(0|25)+25 steps."""
    tb = modcog_env.make_task("go", convention=convention, dt=20).sample(1, range(50))
    want = expected_periods("go", convention, dt=20)
    assert want["decision"] == 25
    np.testing.assert_array_equal(tb.length, sum(want.values()))
    np.testing.assert_array_equal(tb.stop["decision"] - tb.start["decision"], 25)
