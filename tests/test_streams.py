"""TaskStreams: tasks + schedule + rule one-hot, many streams sampled at once (TASKS.md §6).

A stream's trial k is made by the schedule's task at position k and is that task's trial
``sample(stream seed, [k], occurrence=[j])`` (j counts the task's earlier trials in the stream),
with the rule one-hot appended when there are several tasks. These tests check that the batched
bookkeeping (chunked advances, random access, several streams in one call) never changes that.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

import modcog_env
from modcog_env import TaskStreams, make_task, stream_seed
from modcog_env.streams import stream_seeds

TASKS = ["dlygo", "dm1", "dms", "rtanti", "dlydm1intr"]
N_RING = 16


def _trials_by_row(batch, rows, n_rows):
    """Per row, the list of its trials (``Trial`` objects) in stream order."""
    out = [[] for _ in range(n_rows)]
    for i, r in enumerate(rows.tolist()):
        out[r].append(batch.trial(i))
    return out


def _assert_trial_equal(a, b):
    assert a.task_name == b.task_name
    assert a.index == b.index
    assert a.length == b.length
    np.testing.assert_array_equal(a.ob, b.ob)
    np.testing.assert_array_equal(a.label, b.label)
    np.testing.assert_array_equal(a.decision, b.decision)
    assert a.start == b.start and a.stop == b.stop
    # a merged batch also carries other tasks' parameter keys (filled); the trial's own agree
    own = set(make_task(a.task_name).sample(0, [0]).params)
    assert own <= a.params.keys() and own <= b.params.keys()
    for key in own:
        np.testing.assert_array_equal(a.params[key], b.params[key])


# ------------------------------------------------------------------------------ stream seeds
def test_stream_seed_zero_is_the_seed():
    assert stream_seed(1234, 0) == 1234
    assert modcog_env.stream_seed is stream_seed


def test_stream_seeds_never_overlap_for_nearby_seeds():
    seeds = {stream_seed(s, r) for s in range(20) for r in range(20)}
    assert len(seeds) == 400
    np.testing.assert_array_equal(
        stream_seeds(7, [0, 3, 5]), np.array([stream_seed(7, r) for r in (0, 3, 5)], np.uint64)
    )


@pytest.mark.parametrize("stream", [-1, 1.0, True, "2"])
def test_stream_seed_rejects_bad_stream(stream):
    with pytest.raises(ValueError, match=re.escape(f"stream={stream!r}")):
        stream_seed(0, stream)


# ------------------------------------------------------------------------------ construction
@pytest.mark.parametrize(
    "tasks, n",
    [("20-cog", 20), ("mod-cog-82", 82), ("mod-cog-126", 126), (TASKS, len(TASKS))],
    ids=["20-cog", "mod-cog-82", "mod-cog-126", "custom"],
)
def test_sizes_with_rule_inputs(tasks, n):
    s = TaskStreams(tasks)
    assert s.n == n
    assert s.rule_inputs
    assert s.ob_size == 1 + 2 * N_RING + n
    assert s.n_actions == 1 + N_RING


def test_single_task_has_no_rule_inputs():
    s = TaskStreams("dlygo")
    assert s.n == 1 and not s.rule_inputs
    assert s.ob_size == 1 + 2 * N_RING
    assert TaskStreams("dlygo", rule_inputs=True).ob_size == 1 + 2 * N_RING + 1
    assert TaskStreams(TASKS, rule_inputs=False).ob_size == 1 + 2 * N_RING


def test_custom_list_order_defines_index():
    s = TaskStreams(["dms", "go", "dm2"])
    assert s.names == ("dms", "go", "dm2")
    assert TaskStreams("20-cog").names[:3] == ("go", "rtgo", "dlygo")  # TASKS.md §5


@pytest.mark.parametrize(
    "other, attr",
    [
        (make_task("dm1", dt=20), "dt"),
        (make_task("dm1", dim_ring=8), "dim_ring"),
        (make_task("dm1", convention="reference"), "convention"),
    ],
)
def test_task_objects_must_share_settings(other, attr):
    with pytest.raises(ValueError, match=re.escape(f"tasks must share {attr}")):
        TaskStreams([make_task("dlygo"), other])


def test_timing_override_with_several_tasks_raises():
    with pytest.raises(ValueError, match=re.escape("timing overrides apply to one task")):
        TaskStreams(["dlygo", "dm1"], timing={"delay": 300})


def test_unknown_collection_raises():
    with pytest.raises(ValueError):
        TaskStreams("mod-cog-83")


# ------------------------------------------------------------------------------ trial content
@pytest.mark.parametrize("convention", ["modcog", "reference"])
def test_trial_k_is_its_task_sample(convention):
    s = TaskStreams(TASKS, convention=convention)
    seeds = stream_seeds(3, range(6))
    state = s.start(seeds)
    batch, rows = s.next_trials(state, 12)
    np.testing.assert_array_equal(rows, np.repeat(np.arange(6), 12))
    base = 1 + 2 * N_RING
    for r, trials in enumerate(_trials_by_row(batch, rows, 6)):
        seen = {}
        for k, trial in enumerate(trials):
            i = s.names.index(trial.task_name)
            j = seen.get(i, 0)
            seen[i] = j + 1
            assert trial.index == k
            want = s.tasks[i].sample(np.array([seeds[r]]), [k], occurrence=[j]).trial(0)
            np.testing.assert_array_equal(trial.ob[:, :base], want.ob)
            np.testing.assert_array_equal(trial.label, want.label)
            # rule one-hot: channel base + i is 1 on every step of the trial, the others 0
            rule = np.zeros((trial.length, len(TASKS)), np.float32)
            rule[:, i] = 1
            np.testing.assert_array_equal(trial.ob[:, base:], rule)
        # the counts kept in the state are the per-task trial counts
        np.testing.assert_array_equal(
            state.counts[r], [seen.get(i, 0) for i in range(len(TASKS))]
        )


def test_task_order_follows_schedule():
    s = TaskStreams(TASKS, schedule="sequential")
    batch, rows = s.next_trials(s.start(stream_seeds(0, range(3))), 11)
    np.testing.assert_array_equal(batch.task.reshape(3, 11), np.tile(np.arange(11) % 5, (3, 1)))
    names = [batch.trial(i).task_name for i in range(11)]
    assert names == [TASKS[k % 5] for k in range(11)]


def test_default_schedule_never_repeats():
    s = TaskStreams(TASKS)
    batch, _ = s.next_trials(s.start(stream_seeds(1, range(50))), 20)
    task = batch.task.reshape(50, 20)
    assert np.all(task[:, 1:] != task[:, :-1])


def test_chunked_advance_equals_one_call():
    s = TaskStreams(TASKS)
    seeds = stream_seeds(9, range(4))
    whole, rows = s.next_trials(s.start(seeds), 9)
    expected = _trials_by_row(whole, rows, 4)
    state = s.start(seeds)
    got = [[] for _ in range(4)]
    for count in ([2, 0, 3, 9], [0, 4, 6, 0], [7, 5, 0, 0]):
        batch, rows = s.next_trials(state, np.array(count))
        assert batch.ob.shape[0] == sum(count)
        for r, trials in enumerate(_trials_by_row(batch, rows, 4)):
            got[r].extend(trials)
    np.testing.assert_array_equal(state.position, [9, 9, 9, 9])
    for r in range(4):
        assert len(got[r]) == 9
        for a, b in zip(got[r], expected[r], strict=True):
            _assert_trial_equal(a, b)


@pytest.mark.parametrize("convention", ["modcog", "reference"])
def test_state_at_gives_random_access(convention):
    s = TaskStreams(TASKS, convention=convention)
    seeds = stream_seeds(4, range(3))
    whole, rows = s.next_trials(s.start(seeds), 15)
    expected = _trials_by_row(whole, rows, 3)
    position = np.array([0, 7, 14])
    state = s.state_at(seeds, position)
    batch, rows = s.next_trials(state, 1)
    for r in range(3):
        _assert_trial_equal(batch.trial(r), expected[r][position[r]])


def test_single_task_stream_is_the_task():
    s = TaskStreams("dms", convention="reference")
    seeds = stream_seeds(2, range(3))
    batch, rows = s.next_trials(s.start(seeds), 5)
    task = make_task("dms", convention="reference")
    for r in range(3):
        want = task.sample(np.full(5, seeds[r]), np.arange(5))
        got = batch.take(np.flatnonzero(rows == r))
        np.testing.assert_array_equal(got.ob, want.ob)
        np.testing.assert_array_equal(got.label, want.label)
        np.testing.assert_array_equal(got.length, want.length)


def test_streams_do_not_depend_on_companions():
    s = TaskStreams(TASKS)
    seeds = stream_seeds(5, range(8))
    batch, rows = s.next_trials(s.start(seeds), 6)
    alone, _ = s.next_trials(s.start(seeds[5:6]), 6)
    row5 = _trials_by_row(batch, rows, 8)[5]
    for k in range(6):
        _assert_trial_equal(row5[k], alone.trial(k))
