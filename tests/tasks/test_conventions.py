"""One test per row of TASKS.md §2.2: the defect is gone under ``modcog`` and the documented
quirk is present under ``reference``; plus convention selection (§2.1) and the scoring of §7
(oracle, always-fixate, early response) through the step API of ``TaskEnv``.

Rows a, b, c, e, f, h1 change trial distributions and are checked on ``Task.sample``; rows g, h2,
h3 are scoring rules and are checked by playing trials with ``TaskEnv.step``.
"""

from __future__ import annotations

import re
from functools import cache

import numpy as np
import pytest
import utils
from utils import assert_modality_use, assert_rate

import modcog_env
from modcog_env.env import TaskEnv

N = 16
N_TRIALS = 2000
SEED = 99
BASES = tuple(modcog_env.BASES)
GO_FAMILY = ("go", "rtgo", "dlygo", "anti", "rtanti", "dlyanti")
MATCH = ("dms", "dnms", "dmc", "dnmc")
GO_DM = tuple(b for b in BASES if b not in MATCH)
# TASKS.md §7.3: oracle performance under reference (no modifiers)
REFERENCE_ORACLE = {**{b: 15 / 16 for b in GO_DM}, "dms": 15 / 32, "dnms": 15 / 32,
                    "dmc": 121 / 256, "dnmc": 119 / 256}


@cache
def batch(task: str, convention: str, n: int = N_TRIALS, seed: int = SEED):
    return modcog_env.make_task(task, convention=convention, sigma=0.0).sample(seed, range(n))


def first_decision_label(tb) -> np.ndarray:
    return tb.label[np.arange(tb.batch_size), tb.start["decision"]]


# ------------------------------------------------------------------------------ §2.1 selection
def test_default_convention_is_modcog():
    assert modcog_env.make_task("go").convention == "modcog"
    assert modcog_env.get_convention("modcog").name == "modcog"
    assert modcog_env.get_convention("reference").name == "reference"
    assert TaskEnv("go").task.convention == "modcog"


def test_yang2019_implemented():  # details: tests/tasks/test_yang2019.py
    assert modcog_env.get_convention("yang2019").name == "yang2019"
    assert modcog_env.make_task("dms", convention="yang2019").dt == 20
    assert TaskEnv("go", convention="yang2019").observation_space.shape == (85,)


def test_unknown_convention_suggests():
    with pytest.raises(ValueError, match=re.escape("did you mean 'modcog'?")):
        modcog_env.get_convention("modcgo")
    with pytest.raises(ValueError, match=re.escape("did you mean 'reference'?")):
        modcog_env.make_task("go", convention="refrence")
    with pytest.raises(ValueError, match=re.escape("convention='xyz' is not one of")):
        modcog_env.get_convention("xyz")


# ------------------------------------------------------------------------------ (a) label wrap
@pytest.mark.parametrize("task", BASES)
def test_a_label_wrap(task):
    """reference: go decisions with r = N-1 carry label 0 and label N never occurs; modcog: label
    N occurs exactly for r = N-1 and a go decision is never 0. Other labels identical (1 + r)."""
    for convention in ("modcog", "reference"):
        tb = batch(task, convention)
        go, r = tb.params["go"], tb.params["response"]
        dec = tb.decision & go[:, None]
        last = (r == N - 1)[:, None] & dec
        assert last.any()
        if convention == "reference":
            assert np.all(tb.label[last] == 0)
            assert not np.any(tb.label == N)
        else:
            assert np.all(tb.label[last] == N)
            assert np.all(tb.label[dec] != 0)
        rest = dec & ~last
        want = np.broadcast_to(1 + r[:, None], dec.shape)
        np.testing.assert_array_equal(tb.label[rest], want[rest])


# ------------------------------------------------------------------------------ (b) go delay
@pytest.mark.parametrize("task", ["go", "anti", "goseqr", "antiseql"])
def test_b_go_anti_delay(task):
    """reference: go/anti (and goseq/antiseq) get a 500 ms delay; modcog: none (§2.2 b, §8.1)."""
    mod, ref = batch(task, "modcog", 200), batch(task, "reference", 200)
    seq = "seq" in task
    np.testing.assert_array_equal(ref.stop["delay"] - ref.start["delay"], 5)
    assert "delay" not in mod.start or np.all(mod.stop["delay"] == mod.start["delay"])
    np.testing.assert_array_equal(mod.length, 20 if seq else 15)
    np.testing.assert_array_equal(ref.length, 25 if seq else 20)
    np.testing.assert_array_equal(mod.params["delay_ms"], 0)
    np.testing.assert_array_equal(ref.params["delay_ms"], 500)


@pytest.mark.parametrize("task", ["dlygo", "dlyanti", "dlygoseqr"])
def test_b_delayed_tasks_keep_delay(task):
    for convention in ("modcog", "reference"):
        tb = batch(task, convention, 200)
        np.testing.assert_array_equal(tb.stop["delay"] - tb.start["delay"], 5)


# ------------------------------------------------------------------------------ (c) match delay
@pytest.mark.parametrize("task", MATCH + ("dmsseqr",))
def test_c_match_delay(task):
    """modcog: delays vary within a stream and modality (U{2..11} steps, 1/10 each); reference:
    one delay per modality for the whole stream."""
    for convention in ("modcog", "reference"):
        tb = batch(task, convention)
        dur = tb.stop["delay"] - tb.start["delay"]
        m = tb.params["modality"]
        for k in (1, 2):
            values = np.unique(dur[m == k])
            if convention == "reference":
                assert values.size == 1
            else:
                assert set(values) == set(range(2, 12))
        if convention == "modcog":
            counts = np.bincount(dur, minlength=12)
            for k in range(2, 12):
                assert_rate(counts[k], N_TRIALS, 1 / 10)


# ------------------------------------------------------------------------------ (e) ties
@pytest.mark.parametrize("task,tie_rate", [("multidm", 1 / 8), ("multidlydm", 1 / 6)])
def test_e_ties(task, tie_rate):
    """reference: |E1 - E2| < 1e-9 in 1/8 (multidm) and 1/6 (multidlydm) of trials, chosen by a
    fair coin; modcog: never, and |E1 - E2| >= 0.08 / 0.1."""
    n = 4000
    for convention in ("modcog", "reference"):
        tb = batch(task, convention, n)
        gap = np.abs(tb.params["evidence1"] - tb.params["evidence2"])
        tied = gap < 1e-9
        np.testing.assert_array_equal(tb.params["tie"], tied)
        if convention == "modcog":
            assert not tied.any()
            assert gap.min() >= (0.08 if task == "multidm" else 0.1) - 1e-9
        else:
            assert_rate(int(tied.sum()), n, tie_rate)
            chose_first = tb.params["chosen"][tied] == tb.params["theta1_idx"][tied]
            chose_second = tb.params["chosen"][tied] == tb.params["theta2_idx"][tied]
            assert np.all(chose_first | chose_second)
            assert_rate(int(chose_first.sum()), int(tied.sum()), 0.5)


@pytest.mark.parametrize("task", ["dm1", "ctxdm1", "ctxdm2", "dlydm2", "ctxdlydm1"])
def test_e_no_ties_elsewhere(task):
    """§3.2 table: tie probability 0 for every DM task but the multi ones, in both conventions."""
    for convention in ("modcog", "reference"):
        tb = batch(task, convention)
        assert np.abs(tb.params["evidence1"] - tb.params["evidence2"]).min() > 1e-9


# ------------------------------------------------------------------------------ (f) DMC boundary
@pytest.mark.parametrize("task", ["dmc", "dnmc"])
def test_f_dmc_boundary(task):
    """reference: P(sample category 1) = 7/16, i_s = N/2 is category 0 as a sample but 1 as a test,
    so 1/128 of non-match trials repeat the sample location (1/8 of those with i_s = N/2);
    modcog: 1/2 and never."""
    n = 8000
    for convention in ("modcog", "reference"):
        tb = batch(task, convention, n)
        i_s, i_t = tb.params["sample_idx"], tb.params["test_idx"]
        match, c_s = tb.params["match"], tb.params["sample_cat"]
        repeats = ~match & (i_t == i_s)
        theta_rule = (i_s >= N // 2).astype(np.int64)
        if convention == "modcog":
            assert_rate(int(c_s.sum()), n, 1 / 2)
            assert not repeats.any()
            np.testing.assert_array_equal(c_s, theta_rule)
        else:
            assert_rate(int(c_s.sum()), n, 7 / 16)
            assert_rate(int(repeats.sum()), int((~match).sum()), 1 / 128)
            assert np.all(i_s[repeats] == N // 2)
            at_half = ~match & (i_s == N // 2)
            assert_rate(int(repeats.sum()), int(at_half.sum()), 1 / 8)
            inconsistent = c_s != theta_rule
            np.testing.assert_array_equal(inconsistent, i_s == N // 2)
            assert_rate(int(inconsistent.sum()), n, 1 / 16)


# ------------------------------------------------------------------------------ (h1) modality
@pytest.mark.parametrize("task", GO_FAMILY + MATCH)
def test_h1_modality(task):
    """modcog: modality a fair coin per trial (P(same as previous) 1/2); reference: strict
    alternation 1, 2, 1, 2 over consecutive trial indices (P(same) 0). P(m=1) = 1/2 in both."""
    for convention in ("modcog", "reference"):
        assert_modality_use(batch(task, convention).params["modality"], convention)


def test_h1_reference_alternation_follows_occurrence():
    """§2.3: in a multitask stream j counts the task's own trials; sample(..., occurrence=j)."""
    task = modcog_env.make_task("dms", convention="reference")
    idx = np.array([3, 10, 11, 40, 41, 42])
    occ = np.arange(6)
    m = task.sample(7, idx, occurrence=occ).params["modality"]
    assert np.all(m[1:] != m[:-1])


# ------------------------------------------------------------------------------ step API helpers
def make_env(task: str, convention: str, **kw) -> TaskEnv:
    return TaskEnv(task, convention=convention, sigma=0.0, **kw)


def play(env: TaskEnv, n: int, policy, seed: int = SEED):
    """Play ``n`` trials of stream ``seed``: [(performance, rewards, outcome, trial)]."""
    out = []
    for k in range(n):
        if k == 0:
            env.reset(seed=seed)
        else:
            env.reset()
        trial = env.trial
        rewards, info, _ = utils.play_trial(env, policy)
        out.append((info["performance"], rewards, info["outcome"], trial))
    return out


def oracle(env) -> int:
    return utils.oracle_action(env)


def fixate(env) -> int:
    return 0


# ------------------------------------------------------------------------------ §7.2 oracle modcog
@pytest.mark.parametrize("task", BASES)
def test_oracle_modcog_perfect(task):
    """§7.2: the oracle gets performance 1 and a trial reward of exactly +1 on every trial."""
    for perf, rewards, outcome, _ in play(make_env(task, "modcog"), 200, oracle):
        assert perf == 1.0
        assert outcome == "correct"
        assert sum(rewards) == 1.0
        assert all(r == 0.0 for r in rewards[:-1])


@pytest.mark.parametrize("task", BASES)
def test_oracle_reference(task):
    """§7.3: a trial scores iff the oracle responds, i.e. it is a go trial whose label is not the
    wrapped 0; rates 15/16 (go/DM), 15/32 (dms, dnms), 121/256 (dmc), 119/256 (dnmc)."""
    results = play(make_env(task, "reference"), 100, oracle)
    hits = 0
    for perf, rewards, _, trial in results:
        scores = bool(np.any(trial.label[trial.decision] != 0))
        assert perf == float(scores)
        assert sum(rewards) == float(scores)
        hits += scores
    assert_rate(hits, len(results), REFERENCE_ORACLE[task])
    # the rate itself, on many trials of the same distribution
    tb = batch(task, "reference")
    first = first_decision_label(tb)
    assert_rate(int(np.sum(first != 0)), N_TRIALS, REFERENCE_ORACLE[task])


# ------------------------------------------------------------------------------ always fixate
@pytest.mark.parametrize("task", BASES)
def test_always_fixate(task):
    """§7.2: performance 0 on every go trial and 1 on every no-go trial (modcog); §7.3: never
    scores under reference."""
    n_go = 0
    results = play(make_env(task, "modcog"), 60, fixate)
    for perf, rewards, outcome, trial in results:
        go = bool(trial.params["go"])
        n_go += go
        assert perf == (0.0 if go else 1.0)
        assert outcome == ("fail" if go else "correct")
        assert sum(rewards) == (0.0 if go else 1.0)
        assert len(rewards) == trial.length
    if task in MATCH:
        assert_rate(n_go, len(results), 0.5)
    else:
        assert n_go == len(results)
    for perf, rewards, _, _ in play(make_env(task, "reference"), 20, fixate):
        assert perf == 0.0
        assert sum(rewards) == 0.0


# ------------------------------------------------------------------------------ (g) no-go scoring
def test_g_no_go_scored():
    """Oracle on dms: modcog 1.0 (no-go withheld = correct); reference ~15/32 (no-go never
    scores, the wrapped label 0 makes the oracle withhold on 1/16 of go trials)."""
    mod = play(make_env("dms", "modcog"), 200, oracle)
    assert all(perf == 1.0 for perf, *_ in mod)
    assert any(not trial.params["go"] for *_, trial in mod)
    ref = play(make_env("dms", "reference"), 200, oracle)
    perf = [p for p, *_ in ref]
    assert_rate(int(sum(perf)), len(perf), 15 / 32)
    for p, rewards, outcome, trial in ref:
        if not trial.params["go"]:
            assert p == 0.0 and sum(rewards) == 0.0 and outcome != "correct"


# ------------------------------------------------------------------------------ (h2) seq scoring
def first_right_then_wrong(env) -> int:
    """Oracle until a response has been given in the decision period, then a wrong response."""
    inner = env.unwrapped
    trial, t = inner.trial, inner.t
    d0 = trial.start["decision"]
    gt = int(trial.label[t])
    if t > d0 and np.any(trial.label[d0:t] != 0):
        return gt % N + 1 if gt != 0 else 1  # a non-zero class other than gt
    return gt


@pytest.mark.parametrize("task", ["goseqr", "dm1seql"])
def test_h2_seq_judged_on_every_step(task):
    """modcog: every decision step must follow the moving label (oracle 1.0, a later mistake
    fails); reference: only the first response counts (the same policy scores 1)."""
    for perf, rewards, _, _ in play(make_env(task, "modcog"), 40, oracle):
        assert perf == 1.0 and sum(rewards) == 1.0
    for perf, _, outcome, _ in play(make_env(task, "modcog"), 40, first_right_then_wrong):
        assert perf == 0.0 and outcome == "fail"
    for perf, _, outcome, _ in play(make_env(task, "reference"), 40, first_right_then_wrong):
        assert perf == 1.0 and outcome == "correct"
    for perf, *_ in play(make_env(task, "reference"), 40, oracle):
        assert perf == 1.0  # §7.3: 1.0 on go/DM seq tasks


# ------------------------------------------------------------------------------ (h3) abort
def respond_in(period: str):
    """Respond (action 1) on the first step of ``period``, oracle elsewhere."""

    def policy(env) -> int:
        inner = env.unwrapped
        if inner.t == inner.trial.start[period]:
            return 1
        return utils.oracle_action(env)

    return policy


@pytest.mark.parametrize(
    "task,period", [("dlygo", "delay"), ("dms", "sample"), ("dm1", "stimulus")]
)
def test_h3_abort_on_every_pre_decision_step(task, period):
    """modcog: a response in any pre-decision period costs `abort` (-0.1), the trial goes on and
    its performance is 0; reference: free outside the period named `fixation`."""
    for perf, rewards, outcome, trial in play(make_env(task, "modcog"), 40, respond_in(period)):
        assert rewards[trial.start[period]] == pytest.approx(-0.1)
        assert len(rewards) > trial.start[period] + 1  # not ended by the early response
        assert perf == 0.0
        assert outcome == "correct"
    for perf, rewards, _, trial in play(make_env(task, "reference"), 40, respond_in(period)):
        assert rewards[trial.start[period]] == 0.0
        assert perf == float(np.any(trial.label[trial.decision] != 0))


def test_h3_reference_abort_in_fixation():
    for convention in ("modcog", "reference"):
        env = make_env("dlygo", convention)
        for perf, rewards, _, _ in play(env, 20, respond_in("fixation")):
            assert rewards[0] == pytest.approx(-0.1)
            if convention == "modcog":
                assert perf == 0.0
