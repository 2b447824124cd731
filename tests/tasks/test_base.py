"""The shared sampling pipeline (modcog_env.tasks.base): plan, render through a Canvas, labels.

``Task.sample`` is ``plan`` + fixation + ``render`` into a zeroed batch + labels; the stream cutter
uses ``plan`` and ``render`` into its own block. These tests pin that the pieces compose to the
same trials as ``sample`` and that a canvas places steps where its origin and stride say.
"""

from __future__ import annotations

import numpy as np
import pytest

from modcog_env.tasks.base import Canvas, step_labels
from modcog_env.tasks.catalog import make_task

NAMES = ["go", "rtanti", "dlygo", "dm2", "ctxdlydm1", "multidm", "dms", "dnmc", "dlygointrseqr",
         "dlydm1intl", "dnmsseql"]


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("convention", ["modcog", "reference"])
def test_plan_equals_sample(name, convention):
    task = make_task(name, convention=convention)
    idx = np.array([0, 5, 3, 17, 2])
    plan, batch = task.plan(11, idx), task.sample(11, idx)
    np.testing.assert_array_equal(plan.length, batch.length)
    for p in task.periods:
        np.testing.assert_array_equal(plan.start[p], batch.start[p])
        np.testing.assert_array_equal(plan.stop[p], batch.stop[p])
    for key, value in task.trial_params(plan).items():
        np.testing.assert_array_equal(value, batch.params[key], err_msg=key)


@pytest.mark.parametrize("name", NAMES)
def test_render_through_a_strided_canvas(name):
    """Render into a time-major [T, B, D] array (origin = row, stride = B): after the fixation
    input, every real step equals the batch ``sample`` made, i.e. the canvas addresses step t of
    trial m at ``origin[m] + t * stride``."""
    task = make_task(name)
    idx = np.arange(6)
    batch = task.sample(2, idx)
    plan = task.plan(2, idx)
    t_max, d = batch.max_length, task.ob_size
    ob = np.zeros((t_max, idx.size, d), np.float32)  # time-major
    fix = np.arange(t_max)[:, None] < plan.start["decision"][None, :]
    ob[:, :, 0] = fix
    items = ob.reshape(-1, d).view(np.dtype((np.void, 4 * d))).reshape(-1)
    task.render(Canvas(items, np.arange(idx.size), idx.size), plan)
    valid = batch.valid.T
    np.testing.assert_array_equal(ob[valid], np.swapaxes(batch.ob, 0, 1)[valid])


def test_canvas_of_batch_addresses_rows():
    ob = np.zeros((3, 4, 2), np.float32)
    canvas = Canvas.of_batch(ob)
    np.testing.assert_array_equal(canvas.origin, [0, 4, 8])
    row = np.array([[7.0, 8.0]], np.float32).view(np.dtype((np.void, 8))).reshape(-1)
    canvas.items[canvas.origin[2] + 3 * canvas.stride] = row[0]
    assert ob[2, 3].tolist() == [7.0, 8.0] and ob.sum() == 15.0


@pytest.mark.parametrize("wrap", [False, True])
@pytest.mark.parametrize("seq", [0, 1, -1])
def test_step_labels_flat_equals_padded(wrap, seq):
    """Flat (trial, t) pairs give the same labels as the broadcast padded grid, with and without
    ``seq`` movement and per-trial signs."""
    rng = np.random.default_rng(0)
    b, t_max, n = 9, 14, 8
    response = rng.integers(0, n, b)
    go = rng.random(b) < 0.7
    dec = rng.integers(0, 10, b)
    signs = np.full(b, seq) if seq else 0
    grid, after = step_labels(response, go, signs, dec, np.arange(b)[:, None],
                              np.arange(t_max)[None, :], dim_ring=n, dt=50.0, wrap=wrap)
    trial, t = np.divmod(np.arange(b * t_max), t_max)
    flat, flat_after = step_labels(response, go, signs, dec, trial, t, dim_ring=n, dt=50.0,
                                   wrap=wrap)
    np.testing.assert_array_equal(flat, grid.reshape(-1))
    np.testing.assert_array_equal(flat_after, after.reshape(-1))
    # 0 before the decision period and on no-go trials; a ring class in it
    assert np.all(grid[~after] == 0) and np.all(grid[~go] == 0)
    inside = after & go[:, None]
    lo = 0 if wrap else 1
    assert np.all((grid[inside] >= lo) & (grid[inside] <= n))
    if seq:  # the label moves by one ring position every 100 ms (2 steps at dt=50)
        m = int(np.flatnonzero(go & (dec <= t_max - 5))[0])
        d0 = dec[m]
        assert (grid[m, d0 + 2] - grid[m, d0]) % n == seq % n
