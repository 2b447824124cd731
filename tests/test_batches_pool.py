"""Stream windows are views of pooled blocks: a held batch is never written again, dropped
batches let their block be reused, and the content is that of copies."""

from __future__ import annotations

import numpy as np

from modcog_env import Batches

TASKS = ["go", "dm1", "dlygo"]


def test_time_major_windows_are_views_and_held_ones_stay_unchanged():
    b = Batches(TASKS, batch_size=4, seq_len=20, seed=1, prefetch=2, with_mask=True)
    held = [next(b) for _ in range(5)]
    assert all(a.flags.c_contiguous and not a.flags.owndata for a in held[0])
    kept = [tuple(a.copy() for a in h) for h in held]
    for _ in range(60):  # many refills: the pool must not hand out the blocks held above
        next(b)
    for h, k in zip(held, kept, strict=True):
        for a, c in zip(h, k, strict=True):
            np.testing.assert_array_equal(a, c)


def test_blocks_are_reused_once_no_window_views_them():
    b = Batches(TASKS, batch_size=4, seq_len=20, seed=1, prefetch=2)
    seen = set()
    for _ in range(80):  # about 40 refills, every window dropped at once
        next(b)
        seen.update(id(block["ob"]) for block in b.cutter.pool)
    assert len(b.cutter.pool) <= b.cutter.pool_size
    assert len(seen) <= 2 * b.cutter.pool_size  # not one block per refill


def test_pooled_windows_equal_a_fresh_stream_of_batch_first_copies():
    a = Batches(TASKS, batch_size=3, seq_len=17, seed=5, prefetch=1)
    c = Batches(TASKS, batch_size=3, seq_len=17, seed=5, prefetch=3, batch_first=True)
    for _ in range(30):
        wa, wc = a.next_window(), c.next_window()
        for key in ("ob", "label", "weight", "decision", "task", "trial_start"):
            np.testing.assert_array_equal(np.swapaxes(getattr(wa, key), 0, 1), getattr(wc, key))
