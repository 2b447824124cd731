"""Property tests over task x convention x dt x dim_ring x seed (TASKS.md §1, DESIGN.md).

Invariants every sampled batch must satisfy, whatever the task (all 126), convention, dt, ring
size, seed and trial indices: finite observations, labels in [0, N], label 0 outside the decision
period, decision mask = period bounds = (fixation input == 0), lengths within length_bounds(),
periods contiguous within period_bounds(), zero padding.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import modcog_env

BASES = tuple(modcog_env.BASES)
ALL = tuple(modcog_env.ALL_TASKS)

common = dict(
    convention=st.sampled_from(["modcog", "reference"]),
    dt=st.sampled_from([20, 50, 100]),
    dim_ring=st.sampled_from([8, 16, 32]),
    seed=st.integers(min_value=0, max_value=2**64 - 1),
    indices=st.lists(st.integers(min_value=0, max_value=10**9), min_size=1, max_size=6),
    sigma=st.sampled_from([0.0, 1.0, 2.5]),
)


def check_invariants(task_name, convention, dt, dim_ring, seed, indices, sigma):
    task = modcog_env.make_task(
        task_name, convention=convention, dt=dt, dim_ring=dim_ring, sigma=sigma
    )
    tb = task.sample(seed, indices)
    b, t_max = len(indices), tb.max_length
    assert tb.ob.shape == (b, t_max, 1 + 2 * dim_ring)
    assert tb.label.shape == tb.decision.shape == (b, t_max)
    np.testing.assert_array_equal(tb.index, indices)
    valid = tb.valid

    assert np.all(np.isfinite(tb.ob))
    assert tb.label.min() >= 0 and tb.label.max() <= dim_ring

    # lengths and periods from the specs
    lo, hi = task.length_bounds()
    assert np.all((tb.length >= lo) & (tb.length <= hi))
    assert t_max == tb.length.max()
    bounds = task.period_bounds()
    assert list(tb.start) == list(task.periods)
    t = np.zeros(b, np.int64)
    for p in task.periods:
        np.testing.assert_array_equal(tb.start[p], t, err_msg=p)
        dur = tb.stop[p] - tb.start[p]
        assert np.all((dur >= bounds[p][0]) & (dur <= bounds[p][1])), p
        t = tb.stop[p]
    np.testing.assert_array_equal(t, tb.length)
    assert task.periods[-1] == "decision"
    assert np.all(tb.stop["decision"] > tb.start["decision"])

    # decision mask == decision period bounds == fixation input 0 on valid steps
    steps = np.arange(t_max)[None, :]
    in_dec = (steps >= tb.start["decision"][:, None]) & (steps < tb.stop["decision"][:, None])
    np.testing.assert_array_equal(tb.decision, in_dec)
    np.testing.assert_array_equal(tb.decision[valid], (tb.ob[:, :, 0] == 0)[valid])
    assert np.all(tb.label[~tb.decision] == 0)
    # go trials respond on every decision step; no-go trials never do
    go = tb.params["go"].astype(bool)
    if convention == "modcog":
        assert np.all(tb.label[tb.decision & go[:, None]] >= 1)
    assert np.all(tb.label[~go] == 0)

    # padding is zero
    assert np.all(tb.ob[~valid] == 0)
    assert np.all(tb.label[~valid] == 0)
    assert not tb.decision[~valid].any()


@settings(max_examples=60, deadline=None)
@given(task_name=st.sampled_from(BASES), **common)
def test_base_task_invariants(task_name, convention, dt, dim_ring, seed, indices, sigma):
    check_invariants(task_name, convention, dt, dim_ring, seed, indices, sigma)


@settings(max_examples=60, deadline=None)
@given(task_name=st.sampled_from(ALL), **common)
def test_any_task_invariants(task_name, convention, dt, dim_ring, seed, indices, sigma):
    check_invariants(task_name, convention, dt, dim_ring, seed, indices, sigma)


@settings(max_examples=40, deadline=None)
@given(task_name=st.sampled_from(ALL), **common)
def test_row_equals_trial_alone(task_name, convention, dt, dim_ring, seed, indices, sigma):
    """Each row equals its trial sampled alone (counter-based draws), at any setting."""
    task = modcog_env.make_task(
        task_name, convention=convention, dt=dt, dim_ring=dim_ring, sigma=sigma
    )
    tb = task.sample(seed, indices)
    i = len(indices) - 1
    one = task.sample(seed, [indices[i]])
    n = int(tb.length[i])
    assert one.length[0] == n
    np.testing.assert_array_equal(one.ob[0], tb.ob[i, :n])
    np.testing.assert_array_equal(one.label[0], tb.label[i, :n])
