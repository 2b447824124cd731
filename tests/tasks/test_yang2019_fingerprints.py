"""Acceptance test of ``convention="yang2019"``: our trials match Yang's own generator.

``tests/data/yang2019_fingerprints.json`` holds statistics of gyyang/multitask ``task.py``
(mode 'random', dt 20, noise on; its ``meta`` names the commit and the command that made it; Yang's
code is not in this repository). For each of the 20 tasks we sample 2000 trials and compute the
same statistics with the same formulas (:func:`fingerprint`), then compare.

Tolerances (sampling noise only; no slack for a systematic difference):

- Means, stds, target means, cost-mask totals and the final-fixation fraction are compared as
  |ours - Yang| <= Z * sqrt(se_ours**2 + se_yang**2). Each se is a delta-method standard error of
  a ratio estimator over independent units: our trials, and Yang's *batches* (Yang draws timing
  per batch, so the trials of a batch are not independent; the driver used 2000 batches of 2).
  With about 4,400 comparisons, Z = 5 gives a chance of a spurious failure of
  4400 * 5.7e-7 < 0.3% for a correct generator, while a real difference of a few standard errors
  in any channel (e.g. the wrong noise std, a missing rule unit, a stimulus that stops too early)
  fails.
- Trial lengths: two-sample Kolmogorov-Smirnov distance between the length distributions below
  c(alpha) sqrt((n + m) / (n m)) with alpha = 1e-3 (c = 1.95), m = Yang's number of batches (his
  effective sample size, as all trials of a batch share one length); every length Yang produced
  must lie inside our ``length_bounds()``.
- Final response angles: the fraction of go trials in each of 16 bins of [0, 2 pi), Z = 5 with
  binomial standard errors of both samples.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from modcog_env import make_task
from modcog_env.tasks.yang2019 import YANG_ALIASES, YANG_RULES

DATA = Path(__file__).resolve().parents[1] / "data" / "yang2019_fingerprints.json"
N_TRIALS, CHUNK, SEED = 2000, 500, 0
Z = 5.0
KS_C = 1.95  # c(alpha) = sqrt(-ln(alpha / 2) / 2) at alpha = 1e-3
FLOOR = 1e-9  # absolute slack for statistics that are exact (se 0 on both sides)


def ratio_se(a: np.ndarray, n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """sum(a) / sum(n) over independent units (a [m, C], n [m]) and its delta-method SE."""
    a, n = np.asarray(a, np.float64), np.asarray(n, np.float64)
    r = a.sum(0) / n.sum()
    resid = a - r[None] * n[:, None]
    return r, np.sqrt((resid**2).sum(0) / (n.size - 1) / n.size) / n.mean()


def std_se(a1: np.ndarray, a2: np.ndarray, n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pooled std sqrt(E[x^2] - E[x]^2) from per-unit sums a1, a2 and counts n, and its SE."""
    a1, a2, n = (np.asarray(v, np.float64) for v in (a1, a2, n))
    r1, r2 = a1.sum(0) / n.sum(), a2.sum(0) / n.sum()
    std = np.sqrt(np.maximum(r2 - r1**2, 0))
    infl = (a2 - r2[None] * n[:, None]) - 2 * r1[None] * (a1 - r1[None] * n[:, None])
    var_se = np.sqrt((infl**2).sum(0) / (n.size - 1) / n.size) / n.mean()
    return std, var_se / (2 * np.maximum(std, 1e-12))


def fingerprint(task, n_trials: int = N_TRIALS, seed: int = SEED, bins: int = 16) -> dict:
    """The statistics of the fingerprint file for ``n_trials`` of our trials (units: trials)."""
    n, s1, s2, ys, cm, lengths, final = [], [], [], [], [], [], []
    for lo in range(0, n_trials, CHUNK):
        b = task.sample(seed, range(lo, min(lo + CHUNK, n_trials)))
        v = b.valid[:, :, None]
        x = b.ob.astype(np.float64) * v
        n.append(b.length)
        s1.append(x.sum(1))
        s2.append((x * x).sum(1))
        ys.append((b.y.astype(np.float64) * v).sum(1))
        cm.append(b.c_mask.sum((1, 2), dtype=np.float64))
        lengths.append(b.length)
        final.append(b.y_loc[np.arange(b.batch_size), b.length - 1])
    n, s1, s2, ys = (np.concatenate(a) for a in (n, s1, s2, ys))
    cm, lengths, final = (np.concatenate(a) for a in (cm, lengths, final))
    xm, xm_se = ratio_se(s1, n)
    xs, xs_se = std_se(s1, s2, n)
    ym, ym_se = ratio_se(ys, n)
    fix = final < 0
    vals, counts = np.unique(lengths, return_counts=True)
    return {
        "n_trials": int(n.size),
        "n_units": int(n.size),
        "length_hist": {str(int(k)): int(c) for k, c in zip(vals, counts, strict=True)},
        "input_mean": xm,
        "input_mean_se": xm_se,
        "input_std": xs,
        "input_std_se": xs_se,
        "target_mean": ym,
        "target_mean_se": ym_se,
        "cmask_total_mean": float(cm.mean()),
        "cmask_total_se": float(cm.std(ddof=1) / math.sqrt(cm.size)),
        "final_fix_frac": float(fix.mean()),
        "final_fix_se": float(fix.std(ddof=1) / math.sqrt(fix.size)),
        "angle_hist": np.histogram(final[~fix], bins=bins, range=(0, 2 * np.pi))[0],
    }


def ks_distance(h1: dict[str, int], h2: dict[str, int]) -> float:
    """Kolmogorov-Smirnov distance between two histograms {value: count} of integers."""
    support = sorted({int(k) for k in (*h1, *h2)})
    c1 = np.cumsum([h1.get(str(k), 0) for k in support]) / sum(h1.values())
    c2 = np.cumsum([h2.get(str(k), 0) for k in support]) / sum(h2.values())
    return float(np.abs(c1 - c2).max())


@pytest.fixture(scope="module")
def reference() -> dict:
    return json.loads(DATA.read_text())


def _close(name, ours, ours_se, ref, ref_se) -> list[str]:
    ours, ours_se, ref, ref_se = (np.atleast_1d(np.asarray(a, np.float64)) for a in
                                  (ours, ours_se, ref, ref_se))  # fmt: skip
    tol = Z * np.sqrt(ours_se**2 + ref_se**2) + FLOOR
    bad = np.flatnonzero(np.abs(ours - ref) > tol)
    return [f"{name}[{i}]: ours {ours[i]:.5g} vs Yang {ref[i]:.5g} (tol {tol[i]:.2g})" for i in bad]


def test_fingerprint_file_names_its_source(reference):
    meta = reference["meta"]
    assert len(meta["yang_commit"]) == 40 and "fingerprint_yang.py" in meta["command"]
    assert meta["dt"] == 20 and meta["hp"]["n_input"] == 85 and meta["hp"]["n_output"] == 33
    assert set(reference["tasks"]) == set(YANG_RULES)
    assert all(t["n_trials"] >= 2000 for t in reference["tasks"].values())


@pytest.mark.parametrize("rule", YANG_RULES)
def test_matches_yang_generator(rule, reference):
    ref = reference["tasks"][rule]
    task = make_task(rule, convention="yang2019")
    assert task.name == YANG_ALIASES[rule] and task.dt == 20 and task.ob_size == 85
    ours = fingerprint(task, bins=reference["meta"]["n_angle_bins"])
    errors = []
    for key in ("input_mean", "input_std", "target_mean"):
        errors += _close(key, ours[key], ours[f"{key}_se"], ref[key], ref[f"{key}_se"])
    errors += _close(
        "cmask_total", ours["cmask_total_mean"], ours["cmask_total_se"],
        ref["cmask_total_mean"], ref["cmask_total_se"],
    )  # fmt: skip
    errors += _close(
        "final_fix_frac", ours["final_fix_frac"], ours["final_fix_se"],
        ref["final_fix_frac"], ref["final_fix_se"],
    )  # fmt: skip
    # final response angles: per-bin fractions of go trials, binomial standard errors
    h_o, h_r = np.asarray(ours["angle_hist"], float), np.asarray(ref["angle_hist"], float)
    if h_r.sum() or h_o.sum():
        p_o, p_r = h_o / h_o.sum(), h_r / h_r.sum()
        p = (h_o + h_r) / (h_o.sum() + h_r.sum())
        se_o, se_r = np.sqrt(p * (1 - p) / h_o.sum()), np.sqrt(p * (1 - p) / h_r.sum())
        errors += _close("angle_hist", p_o, se_o, p_r, se_r)
    # trial lengths
    lo, hi = task.length_bounds()
    ref_lengths = [int(k) for k in ref["length_hist"]]
    assert lo <= min(ref_lengths) and max(ref_lengths) <= hi, (lo, hi, ref_lengths)
    n, m = ours["n_trials"], ref["n_units"]
    d = ks_distance(ours["length_hist"], ref["length_hist"])
    if d > KS_C * math.sqrt((n + m) / (n * m)):
        errors.append(f"trial length KS distance {d:.3f}")
    assert not errors, f"{rule}: " + "; ".join(errors[:10])
