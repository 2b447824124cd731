"""TrialBatch and Trial (modcog_env.trials): take, trial(i), concatenate, valid (DESIGN.md)."""

from __future__ import annotations

import re

import numpy as np
import pytest

import modcog_env
from modcog_env.trials import Trial, TrialBatch


def hand_batch(lengths, name="a", d=3, offset=0.0, extra=None) -> TrialBatch:
    """A small batch built by hand: ob[b, t, c] = offset + 100 b + 10 t + c on real steps."""
    lengths = np.asarray(lengths, dtype=np.int64)
    b, t_max = lengths.size, int(lengths.max())
    t = np.arange(t_max)
    valid = t[None, :] < lengths[:, None]
    ob = offset + 100.0 * np.arange(b)[:, None, None] + 10.0 * t[None, :, None] + np.arange(d)
    ob = np.where(valid[:, :, None], ob, 0).astype(np.float32)
    dec_start = lengths - 1
    decision = valid & (t[None, :] >= dec_start[:, None])
    label = np.where(decision, 1 + np.arange(b)[:, None], 0).astype(np.int64)
    params = {"go": np.ones(b, bool), "response": np.arange(b, dtype=np.int64),
              "angle": np.linspace(0, 1, b)}
    params.update(extra or {})
    return TrialBatch(
        ob=ob, label=label, length=lengths, decision=decision,
        start={"fixation": np.zeros(b, np.int64), "decision": dec_start},
        stop={"fixation": dec_start, "decision": lengths},
        task=np.zeros(b, np.int64), index=np.arange(b, dtype=np.int64) + 10,
        params=params, task_names=(name,), dt=100.0,
    )


def test_valid_mask():
    tb = hand_batch([3, 5, 1])
    want = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [1, 0, 0, 0, 0]], bool)
    np.testing.assert_array_equal(tb.valid, want)
    assert tb.batch_size == len(tb) == 3 and tb.max_length == 5


def test_trial_trims_and_copies():
    tb = hand_batch([3, 5, 2])
    tr = tb.trial(0)
    assert isinstance(tr, Trial)
    assert tr.length == 3 and tr.ob.shape == (3, 3)
    np.testing.assert_array_equal(tr.ob, tb.ob[0, :3])
    np.testing.assert_array_equal(tr.label, [0, 0, 1])
    np.testing.assert_array_equal(tr.decision, [False, False, True])
    assert tr.start == {"fixation": 0, "decision": 2} and tr.stop == {"fixation": 2, "decision": 3}
    assert tr.params["response"] == 0 and tr.params["go"] is True
    assert tr.task_name == "a" and tr.index == 10 and tr.dt == 100.0
    assert tr.period("decision") == slice(2, 3)
    assert tr.period_at(0) == "fixation" and tr.period_at(2) == "decision"
    tr.ob[:] = -1  # a copy: the batch is untouched
    assert tb.ob[0, 0, 0] == 0
    last = tb.trial(-1)
    assert last.length == 2 and last.index == 12
    for bad in (3, -4):
        with pytest.raises(ValueError, match=re.escape(f"i={bad} is out of range")):
            tb.trial(bad)
    with pytest.raises(ValueError, match=re.escape("period='stim' is not a period")):
        tr.period("stim")
    with pytest.raises(ValueError, match=re.escape("t=3 is outside the trial")):
        tr.period_at(3)


def test_trial_vector_params():
    tb = modcog_env.make_task("multidm").sample(0, range(4))
    tr = tb.trial(2)
    np.testing.assert_array_equal(tr.params["strength1"], tb.params["strength1"][2])
    assert tr.params["strength1"].shape == (2,)


def test_take():
    tb = hand_batch([3, 5, 2, 4])
    sub = tb.take([2, 0])
    assert sub.max_length == 3  # trimmed to its longest trial
    np.testing.assert_array_equal(sub.length, [2, 3])
    np.testing.assert_array_equal(sub.ob, tb.ob[[2, 0], :3])
    np.testing.assert_array_equal(sub.label, tb.label[[2, 0], :3])
    np.testing.assert_array_equal(sub.index, [12, 10])
    np.testing.assert_array_equal(sub.start["decision"], [1, 2])
    np.testing.assert_array_equal(sub.params["angle"], tb.params["angle"][[2, 0]])
    assert sub.task_names == ("a",)
    sub.ob[:] = 7  # copies
    assert tb.ob[0, 0, 0] == 0
    rep = tb.take(np.array([1, 1]))
    np.testing.assert_array_equal(rep.ob[0], rep.ob[1])


def test_take_of_task_batch_equals_sampling_those_rows():
    task = modcog_env.make_task("dms")
    tb = task.sample(3, range(30))
    rows = [29, 4, 17]
    a, b = tb.take(rows), task.sample(3, rows)
    assert a.max_length == b.max_length
    np.testing.assert_array_equal(a.ob, b.ob)
    np.testing.assert_array_equal(a.label, b.label)
    np.testing.assert_array_equal(a.decision, b.decision)
    for k in b.params:
        np.testing.assert_array_equal(a.params[k], b.params[k])


def test_concatenate_pads_and_merges():
    a = hand_batch([3, 2], name="a", extra={"match": np.array([True, False])})
    b = hand_batch([5], name="b", offset=0.5,
                   extra={"target": np.array([7], np.int64), "phi": np.array([0.25])})
    del b.params["angle"]
    b.start["stimulus"], b.stop["stimulus"] = np.array([1]), np.array([2])
    c = TrialBatch.concatenate([a, b])
    assert c.batch_size == 3 and c.max_length == 5
    np.testing.assert_array_equal(c.length, [3, 2, 5])
    np.testing.assert_array_equal(c.ob[:2, :3], a.ob)
    np.testing.assert_array_equal(c.ob[:2, 3:], 0)  # padded
    np.testing.assert_array_equal(c.ob[2], b.ob[0])
    np.testing.assert_array_equal(c.label[:2, 3:], 0)
    assert not c.decision[:2, 3:].any()
    np.testing.assert_array_equal(c.valid, [[1, 1, 1, 0, 0], [1, 1, 0, 0, 0], [1] * 5])
    assert c.task_names == ("a", "b")
    np.testing.assert_array_equal(c.task, [0, 0, 1])
    np.testing.assert_array_equal(c.index, [10, 11, 10])
    # params missing from a batch: -1 for ints, NaN for floats, False for bools
    np.testing.assert_array_equal(c.params["target"], [-1, -1, 7])
    np.testing.assert_array_equal(c.params["phi"], [np.nan, np.nan, 0.25])
    np.testing.assert_array_equal(c.params["match"], [True, False, False])
    np.testing.assert_array_equal(c.params["angle"], [0.0, 1.0, np.nan])
    np.testing.assert_array_equal(c.params["response"], [0, 1, 0])
    # periods missing from a batch: -1
    np.testing.assert_array_equal(c.start["stimulus"], [-1, -1, 1])
    np.testing.assert_array_equal(c.stop["stimulus"], [-1, -1, 2])
    assert "stimulus" not in c.trial(0).start and c.trial(2).start["stimulus"] == 1
    assert c.trial(2).task_name == "b"


def test_concatenate_real_tasks_and_repeated_names():
    go = modcog_env.make_task("go").sample(0, range(3))
    dms = modcog_env.make_task("dms").sample(0, range(2))
    go2 = modcog_env.make_task("go").sample(0, range(3, 5))
    c = TrialBatch.concatenate([go, dms, go2])
    assert c.task_names == ("go", "dms")
    np.testing.assert_array_equal(c.task, [0, 0, 0, 1, 1, 0, 0])
    assert c.max_length == dms.max_length
    np.testing.assert_array_equal(c.params["target"][3:5], -1)
    np.testing.assert_array_equal(c.params["sample_idx"][:3], -1)
    assert c.trial(3).task_name == "dms" and c.trial(6).task_name == "go"
    np.testing.assert_array_equal(c.trial(6).ob, go2.trial(1).ob)
    np.testing.assert_array_equal(c.ob[~c.valid], 0)


def test_concatenate_errors():
    with pytest.raises(ValueError, match=re.escape("at least one TrialBatch")):
        TrialBatch.concatenate([])
    a = hand_batch([2])
    b = hand_batch([2], d=4)
    with pytest.raises(ValueError, match=re.escape("share the observation size")):
        TrialBatch.concatenate([a, b])
    c = hand_batch([2])
    c.dt = 20.0
    with pytest.raises(ValueError, match=re.escape("must share dt")):
        TrialBatch.concatenate([a, c])


def test_sampled_batch_fields():
    """Shapes and dtypes of DESIGN.md's table on a real task."""
    task = modcog_env.make_task("dlydm1", dim_ring=8)
    tb = task.sample(1, [5, 0, 9])
    assert tb.ob.dtype == np.float32 and tb.ob.shape == (3, tb.max_length, 17)
    assert tb.label.dtype == np.int64 and tb.label.shape == (3, tb.max_length)
    assert tb.length.dtype == np.int64 and tb.decision.dtype == bool
    np.testing.assert_array_equal(tb.index, [5, 0, 9])
    assert tb.max_length == tb.length.max()
    assert tb.task_names == ("dlydm1",) and tb.dt == 100.0
    assert all(v.dtype == np.int64 for v in tb.start.values())


def test_trials_equal_trial_one_by_one():
    """TrialBatch.trials() gives the same Trials as trial(i) for every row (views, same values)."""
    import modcog_env

    batch = modcog_env.TaskStreams("20-cog").next_trials(
        modcog_env.TaskStreams("20-cog").start([3, 4]), 12
    )[0]
    for i, fast in enumerate(batch.trials()):
        slow = batch.trial(i)
        assert fast.task_name == slow.task_name and fast.index == slow.index
        assert fast.start == slow.start and fast.stop == slow.stop
        np.testing.assert_array_equal(fast.ob, slow.ob)
        np.testing.assert_array_equal(fast.label, slow.label)
        np.testing.assert_array_equal(fast.decision, slow.decision)
        assert fast.params.keys() == slow.params.keys()
        for key, value in slow.params.items():
            np.testing.assert_array_equal(fast.params[key], value)
            assert type(fast.params[key]) is type(value)
