"""The Mod-Cog modifiers ``seq`` and ``int`` (TASKS.md §4) checked against §8.1 and §8.2.

Expected labels, shifts, lengths and fractions are derived here from the specification: the
response index comes from the base latents (go target, DM chosen index, match test index) and
the §4 formulas, never from the task's own ``response`` output. Sampling is vectorized; the
``dt = 100`` samples are cached (labels and periods only) and shared between tests.
"""

from __future__ import annotations

import functools
import re
from fractions import Fraction
from types import SimpleNamespace

import numpy as np
import pytest

from modcog_env import ModifiedTask, make_task
from modcog_env.env import TaskEnv
from modcog_env.tasks.decision import DecisionTask
from modcog_env.tasks.match import MatchTask
from modcog_env.tasks.reach import ReachTask

N = 16
SEED = 20231101
CONVENTIONS = ("modcog", "reference")
SIGN = {"": 0, "r": 1, "l": -1}

# ---------------------------------------------------------------------------------- TASKS.md
GO_BASES = ["go", "rtgo", "dlygo", "anti", "rtanti", "dlyanti"]
DM_BASES = ["dm1", "dm2", "ctxdm1", "ctxdm2", "multidm"]
DLYDM_BASES = ["dlydm1", "dlydm2", "ctxdlydm1", "ctxdlydm2", "multidlydm"]
MATCH_BASES = ["dms", "dnms", "dmc", "dnmc"]
BASES = GO_BASES + DM_BASES + DLYDM_BASES + MATCH_BASES
INT_BASES = ["dlygo", "dlyanti", *DLYDM_BASES, *MATCH_BASES]
FAMILY = {
    **dict.fromkeys(GO_BASES, "go"),
    **dict.fromkeys(DM_BASES + DLYDM_BASES, "dm"),
    **dict.fromkeys(MATCH_BASES, "match"),
}
SEQ_TASKS = [b + "seq" + s for s in "rl" for b in BASES]
INT_TASKS = [b + "int" + s for b in INT_BASES for s in "rl"]
INT_SEQ_TASKS = [b + "int" + i + "seq" + s for b in INT_BASES for i in "rl" for s in "rl"]
MODIFIED = SEQ_TASKS + INT_TASKS + INT_SEQ_TASKS
ALL = BASES + MODIFIED
INT_DELAYS_MS = list(range(0, 1200, 100))  # U{0, 100, ..., 1100}
BASE_DECISION_MS = {"go": 500, "dm": 200, "match": 900}

# TASKS.md §8.1 at dt = 100: (decision steps, modcog (min, max), reference (min, max))
LENGTH_TABLE = {
    "go,anti": (5, (15, 15), (20, 20)),
    "rt": (5, (10, 10), (10, 10)),
    "dlygo": (5, (20, 20), (20, 20)),
    "go,anti seq": (10, (20, 20), (25, 25)),
    "rt seq": (5, (10, 10), (10, 10)),
    "dlygo seq": (10, (25, 25), (25, 25)),
    "dlygo int": (5, (15, 26), (15, 26)),
    "dlygo int seq": (10, (20, 31), (20, 31)),
    "dm": (2, (9, 11), (9, 11)),
    "dm seq": (10, (17, 19), (17, 19)),
    "dlydm": (2, (19, 21), (19, 21)),  # incl. int
    "dlydm seq": (10, (27, 29), (27, 29)),  # incl. int seq
    "match": (9, (24, 33), (24, 33)),
    "match seq": (10, (25, 34), (25, 34)),
    "match int": (9, (22, 33), (22, 33)),
    "match int seq": (10, (23, 34), (23, 34)),
}


def split(name: str) -> tuple[str, int, int]:
    """(base, int sign, seq sign) of a short name, parsed here by the §5 grammar."""
    m = re.fullmatch(r"([a-z0-9]+?)(?:int([rl]))?(?:seq([rl]))?", name)
    assert m and m[1] in FAMILY, name
    return m[1], SIGN[m[2] or ""], SIGN[m[3] or ""]


def table_row(name: str) -> tuple[int, tuple[int, int], tuple[int, int]]:
    base, i, s = split(name)
    seq = " seq" if s else ""
    if base in ("go", "anti"):
        key = "go,anti" + seq
    elif base in ("rtgo", "rtanti"):
        key = "rt" + seq
    elif base in ("dlygo", "dlyanti"):
        key = "dlygo" + (" int" if i else "") + seq
    elif base in DM_BASES:
        key = "dm" + seq
    elif base in DLYDM_BASES:
        key = "dlydm" + seq
    else:
        key = "match" + (" int" if i else "") + seq
    return LENGTH_TABLE[key]


def decision_ms(name: str) -> int:
    base, _, s = split(name)
    if s and base not in ("rtgo", "rtanti"):
        return 1000
    return BASE_DECISION_MS[FAMILY[base]]


def se(p: float, n: int) -> float:
    return float(np.sqrt(p * (1 - p) / n))


def spec_bump(angle: np.ndarray) -> np.ndarray:
    """TASKS.md §1 bump of strength 1: 0.8 exp(-d^2/2), d = circular distance / (pi/8); [B, N]."""
    theta = 2 * np.pi * np.arange(N) / N
    delta = np.abs(np.asarray(angle, dtype=np.float64)[:, None] - theta[None, :]) % (2 * np.pi)
    d = np.minimum(delta, 2 * np.pi - delta) / (np.pi / 8)
    return 0.8 * np.exp(-0.5 * d * d)


def circ_diff(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    delta = np.abs(np.asarray(a) - np.asarray(b)) % (2 * np.pi)
    return np.minimum(delta, 2 * np.pi - delta)


# ---------------------------------------------------------------------------------- sampling
@functools.cache
def light(name: str, convention: str = "modcog", dt: int = 100, n: int = 2000, seed: int = SEED):
    """Labels, periods and params of ``n`` trials (sigma 0, observations dropped), cached."""
    b = make_task(name, convention=convention, dt=dt, sigma=0.0).sample(seed, range(n))
    assert b.task_names == (name,)
    return SimpleNamespace(
        label=b.label.astype(np.int16),
        length=b.length,
        start=b.start,
        stop=b.stop,
        params=b.params,
        dt=dt,
    )


def realized_delay_ms(b) -> np.ndarray:
    return (b.stop["delay"] - b.start["delay"]) * b.dt


def go_trials(name: str, b) -> np.ndarray:
    """Go trials from the base latents: always for go/DM; by match and rule for match tasks."""
    base = split(name)[0]
    if FAMILY[base] != "match":
        return np.ones(b.length.size, dtype=bool)
    match = b.params["match"].astype(bool)
    return match if base in ("dms", "dmc") else ~match


def expected_response(name: str, b) -> np.ndarray:
    """Response index r from the base latents and TASKS.md §4.2 (int), before any seq shift."""
    base, s_int, _ = split(name)
    fam, p = FAMILY[base], b.params
    if fam == "go":
        return p["target"]
    if fam == "dm":
        return (p["chosen"] + 5 * s_int) % N
    hundreds = realized_delay_ms(b) // 100
    return np.where(go_trials(name, b), (p["test_idx"] + s_int * hundreds) % N, p["test_idx"])


def expected_labels(name: str, b, convention: str) -> np.ndarray:
    """[B, T] labels of TASKS.md §4: 0 before decision and on no-go trials; moving under seq."""
    _, _, s_seq = split(name)
    t = np.arange(b.label.shape[1])[None, :]
    j = t - b.start["decision"][:, None]
    in_decision = (j >= 0) & (t < b.length[:, None])
    shift = s_seq * ((np.maximum(j, 0) * int(b.dt)) // 100)
    moved = expected_response(name, b)[:, None] + shift
    y = (moved + 1) % N if convention == "reference" else 1 + moved % N
    return np.where(in_decision & go_trials(name, b)[:, None], y, 0)


def check_labels(name: str, b, convention: str) -> None:
    """Decision period last and of the §4 length; labels equal the §4 formula on every step."""
    assert (b.stop["decision"] == b.length).all(), "decision must be the last period"
    dec_steps = b.stop["decision"] - b.start["decision"]
    assert (dec_steps == decision_ms(name) // b.dt).all(), np.unique(dec_steps)
    valid = np.arange(b.label.shape[1])[None, :] < b.length[:, None]
    want = expected_labels(name, b, convention)
    bad = np.argwhere(valid & (b.label != want))
    assert bad.size == 0, (
        f"{name} ({convention}, dt={b.dt}): trial {bad[0, 0]} step {bad[0, 1]}: label "
        f"{b.label[tuple(bad[0])]} expected {want[tuple(bad[0])]}"
    )


# ---------------------------------------------------------------------------------- seq
@pytest.mark.parametrize("convention", CONVENTIONS)
@pytest.mark.parametrize("name", SEQ_TASKS)
def test_seq_labels_move_one_position_per_100ms(name, convention):
    b = light(name, convention)
    check_labels(name, b, convention)
    base, _, s = split(name)
    go = go_trials(name, b)
    first = b.start["decision"]
    rows = np.flatnonzero(go)
    # successive decision labels differ by exactly s (mod N) in the label space of the convention
    steps = decision_ms(name) // 100
    labels = b.label[rows[:, None], first[rows][:, None] + np.arange(steps)[None, :]].astype(int)
    if convention == "reference":
        assert ((np.diff(labels, axis=1) - s) % N == 0).all()
    else:
        assert ((np.diff(labels - 1, axis=1) - s) % N == 0).all()
        assert (labels >= 1).all()


@pytest.mark.parametrize("convention", CONVENTIONS)
@pytest.mark.parametrize("dt", [20, 50])
@pytest.mark.parametrize(
    "name",
    ["goseqr", "antiseql", "rtgoseql", "rtantiseqr", "dlyantiseqr", "dm1seql", "ctxdm2seqr",
     "multidlydmseql", "dlydm2seqr", "dmsseqr", "dnmsseql", "dmcseqr", "dnmcseql",
     "dlygointlseqr", "dlydm1intrseql", "dnmcintlseqr"],
)  # fmt: skip
def test_seq_labels_at_finer_dt(name, dt, convention):
    b = light(name, convention, dt=dt)
    check_labels(name, b, convention)
    # the label changes exactly every 100 / dt decision steps (every 5 steps at dt = 20)
    per = 100 // dt
    go = np.flatnonzero(go_trials(name, b))
    n_dec = decision_ms(name) // dt
    cols = b.start["decision"][go][:, None] + np.arange(n_dec)[None, :]
    changes = np.diff(b.label[go[:, None], cols], axis=1) != 0
    j = np.arange(1, n_dec)
    assert (changes == (j % per == 0)[None, :]).all()


def test_seq_keeps_every_other_period():
    # TASKS.md §4.1: only the decision period changes (all bases, both conventions)
    for convention in CONVENTIONS:
        for base in BASES:
            plain = make_task(base, convention=convention)
            for s in "rl":
                task = make_task(base + "seq" + s, convention=convention)
                assert task.periods == plain.periods
                for p in plain.periods:
                    if p != "decision":
                        assert task.timing[p] == plain.timing[p], (base, p)
                lo, hi = task.period_bounds()["decision"]
                assert lo == hi == decision_ms(base + "seq" + s) // 100


@pytest.mark.parametrize("convention", CONVENTIONS)
@pytest.mark.parametrize("name", [n for n in MODIFIED if FAMILY[split(n)[0]] == "match"])
def test_match_nogo_trials_stay_zero(name, convention):
    b = light(name, convention)
    nogo = ~go_trials(name, b)
    assert 0.4 < nogo.mean() < 0.6
    assert (b.label[nogo] == 0).all()
    if convention == "modcog":
        assert (b.label[~nogo].max(axis=1) > 0).all()


# ---------------------------------------------------------------------------------- all labels
@pytest.mark.parametrize("convention", CONVENTIONS)
@pytest.mark.parametrize("name", INT_TASKS + INT_SEQ_TASKS)
def test_int_labels_follow_the_formula(name, convention):
    b = light(name, convention)
    check_labels(name, b, convention)
    go = go_trials(name, b)
    # the recorded response index is the shifted one of §4.2 (go trials)
    assert (b.params["response"][go] == expected_response(name, b)[go]).all()


# ---------------------------------------------------------------------------------- int: go
GO_INT = [
    "dlygointr", "dlygointl", "dlyantiintr", "dlyantiintl", "dlygointrseql", "dlyantiintlseqr",
]  # fmt: skip


@pytest.mark.parametrize("convention", CONVENTIONS)
@pytest.mark.parametrize("dt", [100, 50, 20])
@pytest.mark.parametrize("name", GO_INT)
def test_int_go_family_rotates_the_stimulus(name, dt, convention):
    b = light(name, convention, dt=dt)
    base, s, _ = split(name)
    p = b.params
    d = realized_delay_ms(b)
    assert (p["delay_ms"] == d).all()
    anti = base == "dlyanti"
    theta_g = 2 * np.pi * p["target"] / N
    offset = (p["stim_angle"] - theta_g - anti * np.pi) % (2 * np.pi)
    assert circ_diff(offset, s * 0.01 * d).max() < 1e-9
    assert (p["target"] == p["response"]).all()
    check_labels(name, b, convention)


def test_int_go_offsets_match_the_table():
    # TASKS.md §8.2, s = +1: offsets for D = 0, 100, ..., 1100 ms
    table = [0, 1, 2, 3, 4, 5, 6, 0.7168, 1.7168, 2.7168, 3.7168, 4.7168]
    for name, anti in (("dlygointr", 0), ("dlyantiintrseqr", 1)):
        b = light(name)
        p = b.params
        offset = (p["stim_angle"] - 2 * np.pi * p["target"] / N - anti * np.pi) % (2 * np.pi)
        for k, value in enumerate(table):
            at = realized_delay_ms(b) == 100 * k
            assert at.any()
            assert circ_diff(offset[at], value).max() < 1e-4, (name, k)


@pytest.mark.parametrize("dt", [100, 20])
@pytest.mark.parametrize("name", ["dlygointr", "dlyantiintl", "dlygointlseqr"])
def test_int_go_stimulus_bump_is_off_grid(name, dt):
    # default sigma = 1: the go family has no noise, so the observation is the exact bump
    base, s, _ = split(name)
    batch = make_task(name, dt=dt).sample(SEED + 1, range(300))
    p = batch.params
    d = (batch.stop["delay"] - batch.start["delay"]) * dt
    angle = (2 * np.pi * p["target"] / N + s * 0.01 * d + (base == "dlyanti") * np.pi) % (2 * np.pi)
    want = spec_bump(angle)
    off_grid = circ_diff(angle, 2 * np.pi * np.round(angle / (2 * np.pi / N)) / N) > 1e-3
    assert off_grid.mean() > 0.5
    for i in range(300):
        trial = batch.trial(i)
        m = int(p["modality"][i])
        on = slice(1 + (m - 1) * N, 1 + m * N)
        off = slice(1 + (2 - m) * N, 1 + (3 - m) * N)
        stim = trial.ob[trial.period("stimulus")]
        assert stim.shape[0] == 500 // dt
        np.testing.assert_allclose(stim[:, on], np.broadcast_to(want[i], stim[:, on].shape),
                                   rtol=0, atol=1e-6)  # fmt: skip
        assert (stim[:, off] == 0).all()
        assert (trial.ob[trial.period("delay"), 1:] == 0).all()
        peak = int(np.argmax(stim[0, on]))
        assert circ_diff(2 * np.pi * peak / N, angle[i]) <= np.pi / N + 1e-9


# ---------------------------------------------------------------------------------- int: DM
DM_INT = [b + "int" + s for b in DLYDM_BASES for s in "rl"] + [
    "dlydm1intlseqr",
    "multidlydmintrseql",
]


@pytest.mark.parametrize("convention", CONVENTIONS)
@pytest.mark.parametrize("dt", [100, 20])
@pytest.mark.parametrize("name", DM_INT)
def test_int_dm_shifts_the_response_by_five(name, dt, convention):
    b = light(name, convention, dt=dt)
    _, s, _ = split(name)
    p = b.params
    assert ((p["response"] - p["chosen"]) % N == (5 if s > 0 else 11)).all()
    assert (realized_delay_ms(b) == 500).all()
    assert (p["delay_ms"] == 500).all()
    # the chosen index is the stronger one (ties only under reference, decided by a coin)
    clear = np.abs(p["evidence1"] - p["evidence2"]) > 1e-9
    if convention == "modcog":
        assert clear.all()
    want = np.where(p["evidence1"] > p["evidence2"], p["theta1_idx"], p["theta2_idx"])
    assert (p["chosen"][clear] == want[clear]).all()
    check_labels(name, b, convention)


# ---------------------------------------------------------------------------------- int: match
MATCH_INT = [b + "int" + s for b in MATCH_BASES for s in "rl"] + ["dmsintlseql", "dnmcintrseqr"]


@pytest.mark.parametrize("convention", CONVENTIONS)
@pytest.mark.parametrize("dt", [100, 50, 20])
@pytest.mark.parametrize("name", MATCH_INT)
def test_int_match_shifts_the_go_response(name, dt, convention):
    b = light(name, convention, dt=dt)
    _, s, _ = split(name)
    p = b.params
    d = realized_delay_ms(b)
    assert (p["delay_ms"] == d).all()
    go = go_trials(name, b)
    assert (p["go"].astype(bool) == go).all()
    assert (((p["response"] - p["test_idx"]) % N)[go] == ((s * d // 100) % N)[go]).all()
    assert (b.label[~go] == 0).all()
    check_labels(name, b, convention)


@pytest.mark.parametrize("name", ["dmsintr", "dnmsintl", "dmcintlseqr", "dnmcintr"])
def test_int_match_stimuli_are_not_shifted(name):
    batch = make_task(name, sigma=0.0).sample(SEED + 2, range(200))
    p = batch.params
    for i in range(200):
        trial = batch.trial(i)
        m = int(p["modality"][i])
        on = slice(1 + (m - 1) * N, 1 + m * N)
        for period, key in (("sample", "sample_idx"), ("test", "test_idx")):
            shown = trial.ob[trial.period(period)]
            want = spec_bump(np.array([2 * np.pi * p[key][i] / N]))[0]
            np.testing.assert_allclose(shown[:, on], np.broadcast_to(want, shown[:, on].shape),
                                       rtol=0, atol=1e-6)  # fmt: skip
            assert np.abs(shown[:, 1:]).sum() == pytest.approx(shown[:, on].sum(), abs=1e-4)


# ---------------------------------------------------------------------------------- int: delays
DELAY_INT = ["dlygointr", "dlyantiintl", "dmsintr", "dnmsintl", "dmcintr", "dnmcintl",
             "dlygointlseqr", "dnmsintrseql"]  # fmt: skip


@pytest.mark.parametrize("convention", CONVENTIONS)
@pytest.mark.parametrize("dt", [100, 50, 20])
@pytest.mark.parametrize("name", DELAY_INT)
def test_int_delay_is_uniform_over_twelve_values_per_trial(name, dt, convention):
    n = 2400
    b = light(name, convention, dt=dt, n=n)
    d = realized_delay_ms(b)
    assert (b.params["delay_ms"] == d).all()
    values, counts = np.unique(d, return_counts=True)
    assert values.tolist() == INT_DELAYS_MS
    tol = 5 * se(1 / 12, n)
    assert np.abs(counts / n - 1 / 12).max() < tol, counts
    # drawn per trial in both conventions: one modality's trials see every value
    for m in (1, 2):
        assert np.unique(d[b.params["modality"] == m]).size == 12


# ---------------------------------------------------------------------------------- lengths
@pytest.mark.parametrize("convention", CONVENTIONS)
@pytest.mark.parametrize("name", ALL)
def test_trial_lengths_follow_the_table(name, convention):
    dec, modcog_range, reference_range = table_row(name)
    lo, hi = modcog_range if convention == "modcog" else reference_range
    task = make_task(name, convention=convention)
    assert task.length_bounds() == (lo, hi)
    assert task.period_bounds()["decision"] == (dec, dec)
    b = light(name, convention)
    assert ((b.stop["decision"] - b.start["decision"]) == dec).all()
    n = b.length.size
    base, s_int, _ = split(name)
    per_instance = convention == "reference" and FAMILY[base] == "match" and not s_int
    if per_instance:
        # TASKS.md §2.3: one delay per (seed, task, modality), also for the seq variants
        assert (b.length >= lo).all() and (b.length <= hi).all()
        for m in (1, 2):
            assert np.unique(b.length[b.params["modality"] == m]).size == 1
        return
    values, counts = np.unique(b.length, return_counts=True)
    assert values.tolist() == list(range(lo, hi + 1))
    k = hi - lo + 1
    assert np.abs(counts / n - 1 / k).max() < 5 * se(1 / k, n) + 1e-12, counts


@pytest.mark.parametrize("name", ["dmsseqr", "dnmcseql"])
def test_reference_match_seq_delay_changes_with_the_seed(name):
    lengths = {int(light(name, "reference", n=20, seed=seed).length[0]) for seed in range(40)}
    assert len(lengths) > 3


def test_reference_goseq_and_antiseq_have_the_500ms_delay():
    for name in ("goseqr", "goseql", "antiseqr", "antiseql"):
        assert make_task(name).length_bounds() == (20, 20)
        ref = make_task(name, convention="reference")
        assert ref.length_bounds() == (25, 25)
        assert ref.period_bounds()["delay"] == (5, 5)


# ---------------------------------------------------------------------------------- label 0
def base_response_distribution(base: str) -> np.ndarray:
    """P(base response index = k) on go trials under ``reference`` (TASKS.md §2.3, §3)."""
    if base not in ("dmc", "dnmc"):
        return np.full(N, 1 / N)
    # reference sample category [i_s > N/2]: P(category 1) = (N/2 - 1)/N; dmc go trials are
    # matches (test category = sample category), dnmc go trials non-matches
    p1 = Fraction(N // 2 - 1, N)
    if base == "dnmc":
        p1 = 1 - p1
    half = N // 2
    return np.array([float((1 - p1) / half)] * half + [float(p1 / half)] * half)


def reference_label0_fraction(name: str) -> float:
    """Exact decision-step fraction of label 0 under ``reference`` (wrap at index N - 1)."""
    base, s_int, s_seq = split(name)
    fam = FAMILY[base]
    dist = base_response_distribution(base)
    if s_int and fam == "match":  # r = i_t + s * U{0..11} (mod N)
        dist = sum(np.roll(dist, s_int * k) for k in range(12)) / 12
    elif s_int and fam == "dm":
        dist = np.roll(dist, 5 * s_int)
    steps = decision_ms(name) // 100
    # label (r + 1 + s_seq * j) mod N == 0  <=>  r == (-1 - s_seq * j) mod N
    p_zero = np.mean([dist[(-1 - s_seq * j) % N] for j in range(steps)])
    p_go = 0.5 if fam == "match" else 1.0
    return (1 - p_go) + p_go * p_zero


@pytest.mark.parametrize("convention", CONVENTIONS)
@pytest.mark.parametrize("name", MODIFIED)
def test_decision_label_zero_fraction(name, convention):
    b = light(name, convention)
    base = split(name)[0]
    n = b.length.size
    t = np.arange(b.label.shape[1])[None, :]
    dec = (t >= b.start["decision"][:, None]) & (t < b.length[:, None])
    go = go_trials(name, b)
    zero_frac = (b.label[dec] == 0).mean()
    if convention == "modcog":
        # TASKS.md §8.1: label 0 only on no-go trials; every label 1..N reachable, ~1/N each
        assert (b.label[go[:, None] & dec] != 0).all()
        go_labels = b.label[go[:, None] & dec]
        counts = np.bincount(go_labels, minlength=N + 1)[1:]
        assert (counts > 0).all()
        n_go = go.sum()
        assert np.abs(counts / go_labels.size - 1 / N).max() < 5 * se(1 / N, n_go)
        if FAMILY[base] == "match":
            assert abs(zero_frac - 0.5) < 5 * se(0.5, n)
        else:
            assert zero_frac == 0
    else:
        assert (b.label <= N - 1).all()  # label N never occurs under the wrap
        want = reference_label0_fraction(name)
        assert abs(zero_frac - want) < 5 * se(want, n), (zero_frac, want)


def test_reference_label0_fractions_agree_with_the_spec_numbers():
    # TASKS.md §7.3 / §8.1: 1/16 for go/DM, 17/32 dms/dnms, 135/256 dmc, 137/256 dnmc (no seq)
    assert reference_label0_fraction("dlygointr") == pytest.approx(1 / 16)
    assert reference_label0_fraction("dlydm2intl") == pytest.approx(1 / 16)
    assert reference_label0_fraction("dm1seqr") == pytest.approx(1 / 16)
    assert reference_label0_fraction("dms") == pytest.approx(17 / 32)
    assert reference_label0_fraction("dnms") == pytest.approx(17 / 32)
    assert reference_label0_fraction("dmc") == pytest.approx(135 / 256)
    assert reference_label0_fraction("dnmc") == pytest.approx(137 / 256)
    for name in ("dmcseqr", "dnmcintl", "dnmcintrseql"):
        assert abs(reference_label0_fraction(name) - 0.53) < 0.01


# ---------------------------------------------------------------------------------- errors
NO_DELAY_BASES = [
    (ReachTask, "go"), (ReachTask, "rtgo"), (ReachTask, "anti"), (ReachTask, "rtanti"),
    (DecisionTask, "dm1"), (DecisionTask, "dm2"), (DecisionTask, "ctxdm1"),
    (DecisionTask, "ctxdm2"), (DecisionTask, "multidm"),
]  # fmt: skip


@pytest.mark.parametrize("seq_sign", [0, 1])
@pytest.mark.parametrize("int_sign", [1, -1])
@pytest.mark.parametrize("cls, base", NO_DELAY_BASES)
def test_int_on_a_base_without_delay_lists_the_eleven_bases(cls, base, int_sign, seq_sign):
    with pytest.raises(ValueError, match=re.escape(repr(base))) as err:
        ModifiedTask(cls(base), int_sign=int_sign, seq_sign=seq_sign)
    for valid in INT_BASES:
        assert valid in str(err.value)


@pytest.mark.parametrize("name", ["gointr", "rtgointl", "dm1intr", "multidmintlseqr"])
def test_int_names_on_a_base_without_delay_list_the_eleven_bases(name):
    with pytest.raises(ValueError, match=re.escape(repr(name))) as err:
        make_task(name)
    for valid in INT_BASES:
        assert valid in str(err.value)


@pytest.mark.parametrize(
    "int_sign, seq_sign, fragment",
    [
        (2, 0, "int_sign=2"),
        (0, -2, "seq_sign=-2"),
        (True, 0, "int_sign=True"),
        (0, 0.5, "seq_sign=0.5"),
        ("r", 0, "int_sign='r'"),
        (0, None, "seq_sign=None"),
        (0, 0, "int_sign or seq_sign"),
    ],
)
def test_bad_signs(int_sign, seq_sign, fragment):
    with pytest.raises(ValueError, match=re.escape(fragment)):
        ModifiedTask(ReachTask("dlygo"), int_sign=int_sign, seq_sign=seq_sign)


def test_a_modified_task_cannot_be_wrapped_again():
    inner = ModifiedTask(ReachTask("dlygo"), int_sign=1)
    with pytest.raises(ValueError, match=re.escape("base=")):
        ModifiedTask(inner, seq_sign=1)
    with pytest.raises(ValueError, match=re.escape("base=")):
        ModifiedTask("dlygo", seq_sign=1)


def test_modified_task_equals_make_task():
    a = ModifiedTask(MatchTask("dnms", dt=50), int_sign=-1, seq_sign=1)
    b = make_task("dnmsintlseqr", dt=50)
    assert a.name == "dnmsintlseqr"
    assert (a.int_sign, a.seq_sign, a.family, a.base) == (-1, 1, "match", "dnms")
    x, y = a.sample(3, range(40)), b.sample(3, range(40))
    assert (x.label == y.label).all() and (x.ob == y.ob).all()


# ---------------------------------------------------------------------------------- oracle
@pytest.mark.parametrize("name", ALL)
def test_oracle_scores_one_on_every_trial(name, run_all):
    # 40 trials per task by default (a match task then plays both go and no-go trials with
    # probability 1 - 2**-39); 200 with --all
    env = TaskEnv(name)
    n_trials = 200 if run_all else 40
    env.reset(seed=SEED)
    outcomes = []
    for k in range(n_trials):
        if k:
            env.reset()
        total, terminated, steps = 0.0, False, 0
        while not terminated:
            action = int(env.trial.label[env.t])
            _, reward, terminated, truncated, info = env.step(action)
            assert not truncated
            total += reward
            steps += 1
        go = bool(env.trial.params["go"])
        # §7.2: a plain go trial ends at its first decision step; seq and no-go trials run out
        ends_early = go and not split(name)[2]
        want = env.trial.start["decision"] + 1 if ends_early else env.trial.length
        assert steps == want, (name, k, steps)
        assert info["performance"] == 1.0, (name, k, info)
        assert total == 1.0, (name, k, total)
        outcomes.append(go)
    if FAMILY[split(name)[0]] == "match":
        assert 0 < sum(outcomes) < n_trials  # both go and no-go trials were played


@pytest.mark.parametrize("name", ["goseqr", "rtantiseql", "dm1seql", "dlydm1intrseqr",
                                  "dlygointlseql"])  # fmt: skip
def test_reference_oracle_scores_one_on_go_and_dm_seq(name):
    # TASKS.md §7.3: the wrapped label 0 lasts at most one step of a seq trial
    env = TaskEnv(name, convention="reference")
    env.reset(seed=SEED)
    for k in range(50):
        if k:
            env.reset()
        terminated = False
        while not terminated:
            _, _, terminated, _, info = env.step(int(env.trial.label[env.t]))
        assert info["performance"] == 1.0, (name, k)
