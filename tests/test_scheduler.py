"""Schedules: which task makes trial k of a stream (TASKS.md §6; issue "One trial scheduler").

Expectations come from TASKS.md §6 (random-no-repeat: first task uniform, each later one uniform
over the n-1 others, long-run frequency 1/n) and from the definitions of the optional schedules.
Statistical checks use fixed seeds, thousands of draws and ~5 standard-error tolerances.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from modcog_env.scheduler import (
    SCHEDULES,
    Blocks,
    RandomNoRepeat,
    Schedule,
    Sequential,
    Uniform,
    Weighted,
    make_schedule,
    occurrences,
)

N_TASKS = 5


def _seeds(n: int, offset: int = 0) -> np.ndarray:
    return np.arange(offset, offset + n, dtype=np.uint64) * np.uint64(7919) + np.uint64(12345)


def _grid(schedule: Schedule, streams: int, k: int, offset: int = 0) -> np.ndarray:
    """[streams, k] tasks of positions 0..k-1 of ``streams`` streams (one vectorized call)."""
    out = schedule.assign(_seeds(streams, offset), 0, k)
    assert out.dtype == np.int64
    assert out.shape == (streams * k,)
    return out.reshape(streams, k)


def _chi2(counts: np.ndarray, probs: np.ndarray) -> float:
    expected = counts.sum() * probs
    keep = expected > 0
    return float((((counts - expected) ** 2)[keep] / expected[keep]).sum())


def _assert_chi2_ok(counts: np.ndarray, probs: np.ndarray) -> None:
    """Chi-square goodness of fit within df + 5 sd (sd of chi2 = sqrt(2 df)): never flaky, but a
    wrong distribution over thousands of draws exceeds it by far."""
    df = int((probs > 0).sum()) - 1
    stat = _chi2(counts, probs)
    assert stat < df + 5 * np.sqrt(2 * df), (stat, counts, probs)


def _all_schedules(n: int) -> list[Schedule]:
    weights = np.arange(1, n + 1, dtype=float)
    return [
        RandomNoRepeat(n),
        Uniform(n),
        Weighted(n, weights),
        Sequential(n),
        Blocks(n, 3),
        Blocks(n, 4, inner=Uniform(n)),
    ]


ALL = _all_schedules(N_TASKS)
ALL_IDS = [repr(s) for s in ALL]


# ------------------------------------------------------------------------------ random-no-repeat
def test_random_no_repeat_never_repeats():
    tasks = _grid(RandomNoRepeat(N_TASKS), 500, 60)
    assert np.all(tasks[:, 1:] != tasks[:, :-1])
    assert tasks.min() == 0 and tasks.max() == N_TASKS - 1


def test_random_no_repeat_never_repeats_two_tasks():
    # with n=2 the only schedule without repeats is strict alternation
    tasks = _grid(RandomNoRepeat(2), 200, 30)
    assert np.all(tasks[:, 1:] != tasks[:, :-1])
    assert np.all(tasks == (tasks[:, :1] + np.arange(30)) % 2)


def test_random_no_repeat_first_task_uniform():
    # TASKS.md §6: the first task after seeding is uniform over all n (index 0 included; the
    # reference's "never index 0 first" artefact is not reproduced)
    first = _grid(RandomNoRepeat(N_TASKS), 5000, 1)[:, 0]
    counts = np.bincount(first, minlength=N_TASKS)
    assert counts[0] > 0
    _assert_chi2_ok(counts, np.full(N_TASKS, 1 / N_TASKS))


def test_random_no_repeat_long_run_frequency():
    tasks = _grid(RandomNoRepeat(N_TASKS), 100, 400)
    counts = np.bincount(tasks.ravel(), minlength=N_TASKS)
    freq = counts / counts.sum()
    # 40,000 draws: sd of a frequency ~ 0.002 (fewer with negative correlation of no-repeat)
    np.testing.assert_allclose(freq, 1 / N_TASKS, atol=0.01)


def test_random_no_repeat_transitions_uniform_over_others():
    tasks = _grid(RandomNoRepeat(N_TASKS), 200, 200)
    prev, nxt = tasks[:, :-1].ravel(), tasks[:, 1:].ravel()
    mat = np.zeros((N_TASKS, N_TASKS), np.int64)
    np.add.at(mat, (prev, nxt), 1)
    assert np.all(np.diag(mat) == 0)
    expected = np.full(N_TASKS, 1 / (N_TASKS - 1))
    for i in range(N_TASKS):
        probs = expected.copy()
        probs[i] = 0
        _assert_chi2_ok(mat[i], probs)


# ------------------------------------------------------------------------------ other schedules
def test_uniform_allows_repeats_with_frequency_one_over_n():
    tasks = _grid(Uniform(N_TASKS), 200, 200)
    repeats = np.mean(tasks[:, 1:] == tasks[:, :-1])
    # 39,800 pairs, p = 0.2: sd 0.002
    assert abs(repeats - 1 / N_TASKS) < 0.01
    _assert_chi2_ok(np.bincount(tasks.ravel(), minlength=N_TASKS), np.full(N_TASKS, 1 / N_TASKS))
    _assert_chi2_ok(np.bincount(tasks[:, 0], minlength=N_TASKS), np.full(N_TASKS, 1 / N_TASKS))


def test_weighted_respects_weights():
    weights = [1.0, 2.0, 0.0, 3.0, 4.0]
    tasks = _grid(Weighted(N_TASKS, weights), 100, 400)
    counts = np.bincount(tasks.ravel(), minlength=N_TASKS)
    assert counts[2] == 0  # weight 0: never drawn
    probs = np.asarray(weights) / sum(weights)
    _assert_chi2_ok(counts, probs)
    # repeats allowed: P(same as previous) = sum p_i^2
    repeats = np.mean(tasks[:, 1:] == tasks[:, :-1])
    assert abs(repeats - np.sum(probs**2)) < 0.012


def test_weighted_weights_are_normalized():
    a = _grid(Weighted(3, [1, 1, 2]), 50, 40)
    b = _grid(Weighted(3, [0.25, 0.25, 0.5]), 50, 40)
    np.testing.assert_array_equal(a, b)


def test_weighted_single_nonzero_weight():
    tasks = _grid(Weighted(4, [0, 0, 5, 0]), 20, 50)
    assert np.all(tasks == 2)


def test_sequential_order():
    tasks = _grid(Sequential(N_TASKS), 7, 23)
    np.testing.assert_array_equal(tasks, np.broadcast_to(np.arange(23) % N_TASKS, (7, 23)))
    np.testing.assert_array_equal(
        Sequential(N_TASKS).assign(_seeds(2), [3, 12], [4, 2]), [3, 4, 0, 1, 2, 3]
    )


@pytest.mark.parametrize("block_size", [1, 3, 7])
def test_blocks_runs_follow_inner_schedule(block_size):
    inner = RandomNoRepeat(N_TASKS)
    sched = Blocks(N_TASKS, block_size, inner=inner)
    n_blocks = 12
    tasks = _grid(sched, 40, n_blocks * block_size)
    blocks = tasks.reshape(40, n_blocks, block_size)
    # runs of block_size trials of one task, aligned with position 0
    assert np.all(blocks == blocks[:, :, :1])
    # block b's task is the inner schedule's task b of the same stream
    np.testing.assert_array_equal(blocks[:, :, 0], _grid(inner, 40, n_blocks))
    if block_size > 1:
        # the default inner schedule never repeats: consecutive blocks differ
        assert np.all(blocks[:, 1:, 0] != blocks[:, :-1, 0])


def test_blocks_with_sequential_inner():
    tasks = _grid(Blocks(3, 2, inner=Sequential(3)), 4, 14)
    np.testing.assert_array_equal(tasks[0], [0, 0, 1, 1, 2, 2, 0, 0, 1, 1, 2, 2, 0, 0])
    assert np.all(tasks == tasks[0])


def test_blocks_default_inner_is_random_no_repeat():
    a = _grid(Blocks(N_TASKS, 4), 30, 40)
    b = _grid(Blocks(N_TASKS, 4, inner=RandomNoRepeat(N_TASKS)), 30, 40)
    np.testing.assert_array_equal(a, b)


# ------------------------------------------------------------------------------ determinism
@pytest.mark.parametrize("sched", ALL, ids=ALL_IDS)
def test_deterministic_given_seed(sched):
    a = sched.assign(_seeds(30), 0, 50)
    b = _all_schedules(N_TASKS)[ALL.index(sched)].assign(_seeds(30), 0, 50)
    np.testing.assert_array_equal(a, b)
    # a stream's tasks do not depend on the other streams in the call
    alone = sched.assign(_seeds(30)[17:18], 0, 50)
    np.testing.assert_array_equal(a.reshape(30, 50)[17], alone)


RANDOM = [s for s in ALL if not isinstance(s, Sequential)]


@pytest.mark.parametrize("sched", RANDOM, ids=[repr(s) for s in RANDOM])
def test_different_seeds_differ(sched):
    a = _grid(sched, 40, 60, offset=0)
    b = _grid(sched, 40, 60, offset=1000)
    # independent streams agree on about 1/n of positions (weights make it a bit more)
    assert np.mean(a == b) < 0.5
    # and within one call, distinct seeds give distinct streams
    assert len({tuple(row) for row in a}) == 40


@pytest.mark.parametrize("sched", ALL, ids=ALL_IDS)
def test_continuation_with_prev_equals_one_long_call(sched):
    r, total = 25, 40
    seeds = _seeds(r)
    long = sched.assign(seeds, 0, total).reshape(r, total)
    rng = np.random.default_rng(5)
    position = np.zeros(r, np.int64)
    prev = np.full(r, -1, np.int64)
    pieces: list[list[int]] = [[] for _ in range(r)]
    while (position < total).any():
        count = np.minimum(rng.integers(0, 7, r), total - position)
        out = sched.assign(seeds, position, count, prev)
        assert out.size == count.sum()
        split = np.split(out, np.cumsum(count)[:-1])
        for i, part in enumerate(split):
            pieces[i].extend(part.tolist())
            if part.size:
                prev[i] = part[-1]
        position += count
    np.testing.assert_array_equal(np.array(pieces), long)


@pytest.mark.parametrize("sched", ALL, ids=ALL_IDS)
def test_random_access_without_prev_equals_long_call(sched):
    r, total = 20, 60
    seeds = _seeds(r)
    long = sched.assign(seeds, 0, total).reshape(r, total)
    rng = np.random.default_rng(11)
    start = rng.integers(0, 50, r)
    count = rng.integers(0, 10, r)
    out = sched.assign(seeds, start, count)  # prev unknown: recomputed
    expected = np.concatenate([long[i, start[i] : start[i] + count[i]] for i in range(r)])
    np.testing.assert_array_equal(out, expected)
    for i in (0, 7):
        assert sched.task_at(int(seeds[i]), int(start[i])) == long[i, start[i]]
    # prev known for some rows and unknown (-1) for others, in one call
    known = (np.arange(r) % 2 == 0) & (start > 0)
    prev = np.where(known, long[np.arange(r), np.maximum(start - 1, 0)], -1)
    np.testing.assert_array_equal(sched.assign(seeds, start, count, prev), expected)


@pytest.mark.parametrize("sched", ALL, ids=ALL_IDS)
def test_segments_with_count_zero(sched):
    seeds = _seeds(4)
    long = sched.assign(seeds, 0, 10).reshape(4, 10)
    out = sched.assign(seeds, [0, 5, 2, 0], [3, 0, 4, 0])
    np.testing.assert_array_equal(out, np.r_[long[0, :3], long[2, 2:6]])
    assert sched.assign(seeds, 0, 0).shape == (0,)
    assert sched.assign(seeds, [3, 1, 4, 1], 0, prev=[1, 2, 0, 3]).shape == (0,)


@pytest.mark.parametrize(
    "sched",
    [RandomNoRepeat(1), Uniform(1), Weighted(1, [2.0]), Sequential(1), Blocks(1, 3)],
    ids=repr,
)
def test_single_task(sched):
    out = sched.assign(_seeds(6), [0, 4, 9, 0, 2, 1], [5, 3, 0, 1, 7, 2])
    np.testing.assert_array_equal(out, np.zeros(18, np.int64))


# ------------------------------------------------------------------------------ make_schedule
@pytest.mark.parametrize(
    "name, kwargs, cls",
    [
        ("random-no-repeat", {}, RandomNoRepeat),
        ("uniform", {}, Uniform),
        ("weighted", {"weights": [1, 2, 3]}, Weighted),
        ("sequential", {}, Sequential),
        ("blocks", {"block_size": 4}, Blocks),
    ],
)
def test_make_schedule_by_name(name, kwargs, cls):
    sched = make_schedule(name, 3, **kwargs)
    assert isinstance(sched, cls)
    assert sched.n == 3
    assert SCHEDULES[name] is cls


def test_make_schedule_instance_passes_through():
    sched = Blocks(4, 2)
    assert make_schedule(sched, 4) is sched


def test_make_schedule_unknown_name_suggests():
    with pytest.raises(ValueError, match=re.escape("did you mean 'random-no-repeat'?")):
        make_schedule("random_no_repeat", 3)
    with pytest.raises(ValueError, match=re.escape("'shuffled'")):
        make_schedule("shuffled", 3)


def test_make_schedule_wrong_n_raises():
    with pytest.raises(ValueError, match=re.escape("n=4")):
        make_schedule(RandomNoRepeat(4), 3)
    with pytest.raises(ValueError, match=re.escape("kwargs")):
        make_schedule(RandomNoRepeat(3), 3, block_size=2)


def test_make_schedule_bad_kwargs_raise_value_error():
    with pytest.raises(ValueError, match=re.escape("schedule='uniform'")):
        make_schedule("uniform", 3, weights=[1, 2, 3])
    with pytest.raises(ValueError, match=re.escape("schedule='blocks'")):
        make_schedule("blocks", 3)  # block_size missing


@pytest.mark.parametrize(
    "weights",
    [[1, 2], [1, 2, 3, 4], [1, -1, 2], [0, 0, 0], [1, float("nan"), 1], [1, float("inf"), 1]],
    ids=["short", "long", "negative", "zero-sum", "nan", "inf"],
)
def test_bad_weights_raise(weights):
    with pytest.raises(ValueError, match=re.escape("weights=")):
        Weighted(3, weights)
    with pytest.raises(ValueError, match=re.escape("weights=")):
        make_schedule("weighted", 3, weights=weights)


@pytest.mark.parametrize("block_size", [0, -2, 1.5, True, "3"])
def test_bad_block_size_raises(block_size):
    with pytest.raises(ValueError, match=re.escape(f"block_size={block_size!r}")):
        Blocks(3, block_size)


def test_blocks_inner_with_wrong_n_raises():
    with pytest.raises(ValueError, match=re.escape("inner schedule has n=4")):
        Blocks(3, 2, inner=Uniform(4))


@pytest.mark.parametrize("n", [0, -1, 2.0, True])
def test_bad_n_raises(n):
    with pytest.raises(ValueError, match=re.escape(f"n={n!r}")):
        RandomNoRepeat(n)


def test_negative_start_or_count_raises():
    with pytest.raises(ValueError, match=re.escape("start and count must be >= 0")):
        Uniform(3).assign(_seeds(2), [0, -1], 3)
    with pytest.raises(ValueError, match=re.escape("start and count must be >= 0")):
        RandomNoRepeat(3).assign(_seeds(2), 0, [2, -3])


# ------------------------------------------------------------------------------ occurrences
def _naive_occurrences(tasks, rows, counts):
    counts = counts.copy()
    occ = np.zeros(tasks.size, np.int64)
    for i, (task, row) in enumerate(zip(tasks.tolist(), rows.tolist(), strict=True)):
        occ[i] = counts[row, task]
        counts[row, task] += 1
    return occ, counts


@pytest.mark.parametrize("seed", range(5))
def test_occurrences_match_naive_loop(seed):
    rng = np.random.default_rng(seed)
    r, n = int(rng.integers(1, 8)), int(rng.integers(1, 6))
    m = int(rng.integers(0, 200))
    tasks = rng.integers(0, n, m)
    rows = rng.integers(0, r, m)
    if seed % 2:
        rows = np.sort(rows)  # row-major, as TaskStreams passes them
    counts = rng.integers(0, 10, (r, n))
    before = counts.copy()
    occ, new_counts = occurrences(tasks, rows, counts)
    want_occ, want_counts = _naive_occurrences(tasks, rows, counts)
    np.testing.assert_array_equal(occ, want_occ)
    np.testing.assert_array_equal(new_counts, want_counts)
    np.testing.assert_array_equal(counts, before)  # not mutated


def test_occurrences_empty():
    counts = np.arange(6).reshape(2, 3)
    occ, new = occurrences(np.zeros(0, np.int64), np.zeros(0, np.int64), counts)
    assert occ.shape == (0,)
    np.testing.assert_array_equal(new, counts)
