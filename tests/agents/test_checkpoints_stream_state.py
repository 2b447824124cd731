"""The data-stream state a checkpoint stores (Batches.state_dict): small, and exact on load.

A Batches restored from ``state_dict()`` after any number of batches yields exactly the batches
an uninterrupted one yields; ``rewind=1`` gives the state before the last batch. The state is
integers only (no prefetched block), so its size does not grow with the prefetch.
"""

from __future__ import annotations

import numpy as np
import pytest

from modcog_env import Batches


@pytest.mark.parametrize("mode", ["stream", "trial"])
@pytest.mark.parametrize("tasks", [["go", "rtgo", "dm1"], "dms", "20-cog"],
                         ids=["three", "single", "20-cog"])
def test_restored_stream_equals_uninterrupted(mode, tasks):
    kw = dict(batch_size=5, seq_len=37, mode=mode, seed=3, with_mask=True, loss_weights="yang")
    ref = list(Batches(tasks, max_batches=24, **kw))
    for stop in (0, 1, 6, 23):
        for rewind in (0, 1):
            if rewind > stop:
                continue
            b = Batches(tasks, **kw)
            for _ in range(stop):
                next(b)
            state = b.state_dict(rewind=rewind)
            assert all(isinstance(v, (int, str, np.ndarray)) for v in state.values())
            c = Batches(tasks, **kw)
            c.load_state_dict(state)
            assert c.batches_made == stop - rewind
            for k in range(stop - rewind, 24):
                for got, want in zip(next(c), ref[k], strict=True):
                    np.testing.assert_array_equal(got, want)


def test_state_is_small_and_checked():
    b = Batches("20-cog", batch_size=64, seq_len=350, seed=0, prefetch=8)
    next(b)
    state = b.state_dict()
    nbytes = sum(v.nbytes for v in state.values() if isinstance(v, np.ndarray))
    assert nbytes < 20_000, nbytes  # 64 x 20 counts and five int64 [64] arrays
    other = Batches("20-cog", batch_size=64, seq_len=350, seed=1)
    with pytest.raises(ValueError, match="saved seed=0"):
        other.load_state_dict(state)
    with pytest.raises(ValueError, match="saved counts have shape"):
        Batches(["go", "dm1"], batch_size=64, seq_len=350, seed=0).load_state_dict(state)
