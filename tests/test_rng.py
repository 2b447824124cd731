"""Counter-based randomness (modcog_env.rng) and the reproducibility it gives every task.

DESIGN: every draw is a pure function of (seed, stream, trial index, draw number), so trial k is
bit-identical alone or in any batch; TASKS.md §2.1: never numpy's global RNG.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

import modcog_env
from modcog_env import rng
from modcog_env.env import TaskEnv

IDX = np.arange(20000)


# ------------------------------------------------------------------------------ determinism
@pytest.mark.parametrize("fn", ["uniform", "normal"])
def test_deterministic(fn):
    draw = getattr(rng, fn)
    a = draw(3, "task/x", IDX[:100], 4)
    b = draw(3, "task/x", IDX[:100], 4)
    np.testing.assert_array_equal(a, b)
    assert a.shape == (100, 4)


def test_integers_deterministic():
    a = rng.integers(3, "s", IDX[:50], 7, 3)
    np.testing.assert_array_equal(a, rng.integers(3, "s", IDX[:50], 7, 3))
    assert a.dtype == np.int64 and a.shape == (50, 3)


@pytest.mark.parametrize("fn", ["uniform", "normal"])
def test_draw_j_independent_of_n(fn):
    draw = getattr(rng, fn)
    long = draw(11, "s", IDX[:64], 9)
    for n in (1, 2, 3, 8):
        np.testing.assert_array_equal(draw(11, "s", IDX[:64], n), long[:, :n])


def test_integers_draw_j_independent_of_n():
    long = rng.integers(11, "s", IDX[:64], 16, 6)
    np.testing.assert_array_equal(rng.integers(11, "s", IDX[:64], 16, 2), long[:, :2])


@pytest.mark.parametrize("fn", ["uniform", "normal"])
def test_independent_of_batch_composition(fn):
    """Row k depends on k only: alone, reversed, repeated or within a long batch."""
    draw = getattr(rng, fn)
    full = draw(5, "s", IDX[:1000], 3)
    for k in (0, 1, 499, 999):
        np.testing.assert_array_equal(draw(5, "s", [k], 3)[0], full[k])
    rows = np.array([999, 3, 3, 0, 512])
    np.testing.assert_array_equal(draw(5, "s", rows, 3), full[rows])


def test_seeds_streams_and_indices_differ():
    base = rng.uniform(1, "a", IDX[:500], 2)
    assert not np.any(base == rng.uniform(2, "a", IDX[:500], 2))
    assert not np.any(base == rng.uniform(1, "b", IDX[:500], 2))
    # distinct trials get distinct draws
    assert np.unique(base[:, 0]).size == 500
    # columns are different draws
    assert not np.any(base[:, 0] == base[:, 1])


# ------------------------------------------------------------------------------ distributions
def test_uniform_moments_and_range():
    u = rng.uniform(2024, "moments", IDX, 5).ravel()
    n = u.size
    assert u.dtype == np.float64
    assert u.min() >= 0.0 and u.max() < 1.0
    assert abs(u.mean() - 0.5) < 5 * math.sqrt(1 / 12 / n)
    # var of the sample variance of U(0,1): (1/80 - 1/144) / n
    assert abs(u.var() - 1 / 12) < 5 * math.sqrt((1 / 80 - 1 / 144) / n)
    # flat histogram over 10 bins
    counts = np.bincount((u * 10).astype(int), minlength=10)
    np.testing.assert_allclose(counts / n, 0.1, atol=5 * math.sqrt(0.09 / n))
    # consecutive draws of one trial are uncorrelated
    u2 = rng.uniform(2024, "moments", IDX, 2)
    assert abs(np.corrcoef(u2[:, 0], u2[:, 1])[0, 1]) < 5 / math.sqrt(IDX.size)


def test_normal_moments():
    z = rng.normal(7, "gauss", IDX, 6)
    x = z.ravel()
    n = x.size
    assert np.all(np.isfinite(x))
    assert abs(x.mean()) < 5 / math.sqrt(n)
    assert abs(x.std() - 1) < 5 * math.sqrt(1 / (2 * n))
    # draws from one 64-bit word are uncorrelated; tails as for N(0, 1)
    assert abs(np.corrcoef(z[:, 0], z[:, 1])[0, 1]) < 5 / math.sqrt(IDX.size)
    p_tail = 0.0455  # P(|Z| > 2)
    assert abs(np.mean(np.abs(x) > 2) - p_tail) < 5 * math.sqrt(p_tail * (1 - p_tail) / n)


def test_normal_cdf_matches_gaussian():
    """The empirical CDF of the quantized draws follows Phi at many points, and the four draws
    of a word (columns 0-3) are mutually uncorrelated."""
    z = rng.normal(13, "cdf", IDX, 8)
    x = np.sort(z.ravel())
    n = x.size
    for q in (-3.0, -2.0, -1.0, -0.5, 0.0, 0.3, 1.0, 2.5):
        phi = 0.5 * math.erfc(-q / math.sqrt(2))
        got = np.searchsorted(x, q) / n
        assert abs(got - phi) < 5 * math.sqrt(phi * (1 - phi) / n) + 2**-16, q
    c = np.corrcoef(z[:, :4].T)
    assert np.abs(c[np.triu_indices(4, 1)]).max() < 5 / math.sqrt(IDX.size)


def test_normal_table_quantiles():
    table = rng.normal_table()
    assert table.dtype == np.float32 and table.shape == (65536,) and not table.flags.writeable
    assert np.all(np.diff(table) > 0)
    np.testing.assert_array_equal(table, -table[::-1])  # symmetric
    assert abs(float(np.mean(table.astype(np.float64) ** 2)) - 1) < 1e-6  # unit variance
    # entry i is the quantile at (i + 0.5) / 65536 up to the variance rescaling (< 1e-5)
    import statistics

    for i in (0, 1, 1000, 32767, 40000, 65535):
        q = statistics.NormalDist().inv_cdf((i + 0.5) / 65536)
        assert abs(table[i] - q) < 1e-4 * max(1.0, abs(q)), i


def test_normal_scale_is_a_float32_product():
    keys = rng.Keys(3, np.arange(50))
    for scale in (0.1, 1 / math.sqrt(20), 2.0):
        np.testing.assert_array_equal(
            keys.normal("s", 7, scale), np.float32(scale) * keys.normal("s", 7)
        )


@pytest.mark.parametrize("high", [2, 3, 16, 240])
def test_integers_range_and_uniformity(high):
    x = rng.integers(31, "ints", IDX, high, 2).ravel()
    assert x.min() == 0 and x.max() == high - 1
    counts = np.bincount(x, minlength=high)
    assert counts.size == high
    p = 1 / high
    np.testing.assert_allclose(counts / x.size, p, atol=5 * math.sqrt(p * (1 - p) / x.size))


# ------------------------------------------------------------------------------ seeds
@pytest.mark.parametrize("bad", [1.5, "3", None, True, np.bool_(False), [1]])
def test_normalize_seed_rejects_non_integers(bad):
    with pytest.raises(ValueError, match=re.escape("seed must be an int")):
        rng.normalize_seed(bad)


def test_normalize_seed_reduces_to_64_bits():
    assert rng.normalize_seed(5) == 5
    assert rng.normalize_seed(np.int64(5)) == 5
    assert rng.normalize_seed(-1) == 2**64 - 1
    assert rng.normalize_seed(2**64 + 3) == 3
    np.testing.assert_array_equal(
        rng.uniform(2**64 + 3, "s", IDX[:10], 2), rng.uniform(3, "s", IDX[:10], 2)
    )


def test_task_sample_rejects_bad_seed_and_indices():
    task = modcog_env.make_task("go")
    with pytest.raises(ValueError, match=re.escape("seed must be an int")):
        task.sample(1.0, [0])
    with pytest.raises(ValueError, match=re.escape("indices must be >= 0")):
        task.sample(0, [-1])
    with pytest.raises(ValueError, match=re.escape("indices must be integers")):
        task.sample(0, [0.5])


def test_derive_seed():
    a = rng.derive_seed(1, "sub", 0)
    assert a == rng.derive_seed(1, "sub", 0)
    assert len({a, rng.derive_seed(1, "sub", 1), rng.derive_seed(2, "sub", 0),
                rng.derive_seed(1, "other", 0)}) == 4
    assert 0 <= a < 2**64


# ------------------------------------------------------------------------------ task level
BASES = tuple(modcog_env.BASES)
CONVENTIONS = ("modcog", "reference")


def assert_rows_equal(single, i, full, k):
    """Row i of ``single`` equals row k of ``full`` bit for bit (up to its length)."""
    n = int(full.length[k])
    assert int(single.length[i]) == n
    np.testing.assert_array_equal(single.ob[i, :n], full.ob[k, :n])
    np.testing.assert_array_equal(single.label[i, :n], full.label[k, :n])
    np.testing.assert_array_equal(single.decision[i, :n], full.decision[k, :n])
    assert set(single.start) == set(full.start)
    for p in full.start:
        assert single.start[p][i] == full.start[p][k]
        assert single.stop[p][i] == full.stop[p][k]
    assert set(single.params) == set(full.params)
    for key, value in full.params.items():
        np.testing.assert_array_equal(single.params[key][i], value[k], err_msg=key)
    assert single.index[i] == k


@pytest.mark.parametrize("convention", CONVENTIONS)
@pytest.mark.parametrize("task", BASES)
def test_trial_k_alone_equals_row_k(task, convention):
    """sample(seed, [k]) equals row k of sample(seed, range(N)) bit-exactly, noise included."""
    t = modcog_env.make_task(task, convention=convention)
    full = t.sample(123, range(60))
    for k in (0, 1, 37, 59):
        assert_rows_equal(t.sample(123, [k]), 0, full, k)
    rows = [59, 2, 2, 30]
    mixed = t.sample(123, rows)
    for i, k in enumerate(rows):
        assert_rows_equal(mixed, i, full, k)


@pytest.mark.parametrize("convention", CONVENTIONS)
@pytest.mark.parametrize("task", BASES)
def test_different_seeds_differ(task, convention):
    t = modcog_env.make_task(task, convention=convention)
    a, b = t.sample(1, range(40)), t.sample(2, range(40))
    assert not np.array_equal(a.params["response"], b.params["response"])
    c = t.sample(1, range(40))
    np.testing.assert_array_equal(a.ob, c.ob)


def _state_equal(s1, s2) -> bool:
    pairs = zip(s1, s2, strict=True)
    return all(np.array_equal(x, y) if isinstance(x, np.ndarray) else x == y for x, y in pairs)


@pytest.mark.parametrize("task", ["dlygo", "multidm", "dmc", "dlydm1intrseql", "dmsintl"])
def test_numpy_global_rng_untouched(task):
    """TASKS.md §2.1 (defect d): no draw from numpy's global RNG; its state is unchanged and does
    not influence the trials."""
    np.random.seed(0)
    before = np.random.get_state()
    for convention in CONVENTIONS:
        t = modcog_env.make_task(task, convention=convention)
        first = t.sample(9, range(30))
        env = TaskEnv(task, convention=convention)
        env.reset(seed=9)
        for _ in range(40):
            _, _, term, _, _ = env.step(0)
            if term:
                env.reset()
        assert _state_equal(before, np.random.get_state())
        np.random.seed(12345)
        again = t.sample(9, range(30))
        np.testing.assert_array_equal(first.ob, again.ob)
        np.random.set_state(before)


# ------------------------------------------------------------------------------ Keys
def test_keys_match_module_functions_and_take():
    idx = np.arange(50)
    keys = rng.Keys(8, idx)
    assert len(keys) == 50
    np.testing.assert_array_equal(keys.uniform("s", 3), rng.uniform(8, "s", idx, 3))
    np.testing.assert_array_equal(keys.integers("s", 5, 2), rng.integers(8, "s", idx, 5, 2))
    np.testing.assert_array_equal(keys.normal("s", 4), rng.normal(8, "s", idx, 4))
    rows = np.array([49, 0, 7])
    np.testing.assert_array_equal(keys.take(rows).uniform("t", 2), rng.uniform(8, "t", rows, 2))
    mask = idx % 3 == 0
    sub = keys.take(mask).uniform("t", 2)
    np.testing.assert_array_equal(sub, rng.uniform(8, "t", idx[mask], 2))


def test_keys_instance_is_index_zero():
    keys = rng.Keys(8, np.array([4, 9, 13]))
    inst = keys.instance().uniform("shared", 2)
    np.testing.assert_array_equal(inst, np.repeat(rng.uniform(8, "shared", [0], 2), 3, axis=0))


def test_keys_per_trial_seed_array():
    """A uint64 [B] seed array: row i behaves as Keys(seeds[i], [indices[i]])."""
    seeds = np.array([1, 2, 2**63 + 5], dtype=np.uint64)
    idx = np.array([0, 0, 11])
    got = rng.Keys(seeds, idx).uniform("s", 3)
    for i in range(3):
        np.testing.assert_array_equal(got[i], rng.uniform(int(seeds[i]), "s", [idx[i]], 3)[0])
    with pytest.raises(ValueError, match=re.escape("seed array must be integer with shape (3,)")):
        rng.Keys(np.array([1, 2], dtype=np.uint64), idx)
    with pytest.raises(ValueError, match=re.escape("seed array must be integer")):
        rng.Keys(np.array([1.0, 2.0, 3.0]), idx)
