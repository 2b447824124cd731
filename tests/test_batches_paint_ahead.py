"""Refills painted ahead on helper threads (``Batches(paint_ahead=k)``) change no value: the
same windows and the same saved states for any k, across loads, pickles, forks and failures."""

from __future__ import annotations

import multiprocessing as mp
import pickle
import sys

import numpy as np
import pytest
import utils

from modcog_env import Batches, stream_kernel

FIELDS = ("ob", "label", "weight", "decision", "task", "trial_start")
CONFIGS = [
    ("20-cog", {"batch_size": 6, "seq_len": 40}),
    # one window per refill, and windows longer than some trials: refills in a row
    (["dlygo", "dm1", "dms", "rtgoseqr"], {"batch_size": 3, "seq_len": 17, "prefetch": 1}),
    ("mod-cog-82", {"batch_size": 4, "seq_len": 25, "loss_weights": "yang", "prefetch": 3,
                    "batch_first": True}),
    ("20-cog", {"batch_size": 5, "seq_len": 30, "paint_threads": 2}),
]


def _equal_windows(a, b) -> None:
    for field in FIELDS:
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field), err_msg=field)


@pytest.mark.parametrize(("tasks", "kwargs"), CONFIGS)
def test_any_depth_gives_the_same_windows_and_states(tasks, kwargs):
    """paint_ahead 1-3 against 0 (each refill painted when needed): every field of 30 windows,
    state_dict and state_dict(rewind=1) after each, and the refill count (installed refills
    only); the deeper ones did plan ahead."""
    streams = [Batches(tasks, seed=4, paint_ahead=k, **kwargs) for k in (0, 1, 2, 3)]
    for _ in range(30):
        windows = [b.next_window() for b in streams]
        states = [(b.state_dict(), b.state_dict(rewind=1)) for b in streams]
        for w, (now, before) in zip(windows[1:], states[1:], strict=True):
            _equal_windows(windows[0], w)
            assert utils.same_state(states[0][0], now)
            assert utils.same_state(states[0][1], before)
    assert len({b.cutter.refills for b in streams}) == 1
    for k, b in enumerate(streams):
        assert len(b.cutter.planned) == k
        assert b.cutter.plans_made == b.cutter.refills + k


def test_load_state_dict_drops_the_refills_planned_ahead():
    """A load in the middle of a stream whose next refills are painting: the loaded stream
    continues as the saved one did, and a stream loaded from another stream's state continues
    as that one."""
    kwargs = {"batch_size": 4, "seq_len": 23, "seed": 2, "prefetch": 2, "paint_ahead": 2}
    ref, other = Batches("20-cog", **kwargs), Batches("20-cog", **kwargs)
    for _ in range(7):
        ref.next_window()
    saved = ref.state_dict()
    for _ in range(3):
        other.next_window()  # refills planned from another position
    assert other.cutter.planned
    other.load_state_dict(saved)
    for _ in range(20):
        _equal_windows(ref.next_window(), other.next_window())


def test_a_pickled_copy_plans_its_refills_again():
    """Pickling while refills paint ahead: the copy holds none of them (nor the spare blocks)
    and continues exactly."""
    b = Batches(["go", "dm1", "dlygo"], batch_size=3, seq_len=19, seed=6, prefetch=2,
                paint_ahead=2)
    for _ in range(5):
        b.next_window()
    copy = pickle.loads(pickle.dumps(b))
    assert copy.cutter.planned == [] and copy.cutter.pool == []
    for _ in range(20):
        _equal_windows(b.next_window(), copy.next_window())


@pytest.mark.parametrize("depth", [0, 2])
def test_a_failed_paint_raises_and_the_stream_continues_unchanged(monkeypatch, depth):
    """A refill whose painting raises (on the helper thread, or on the caller's with depth 0):
    the next_window that needs it raises that error, no batch is counted, the stream state is
    untouched, and the following calls give exactly the windows of a stream that never failed
    (the refills planned after the failed one are dropped)."""
    kwargs = {"batch_size": 3, "seq_len": 20, "seed": 1, "prefetch": 1}
    ref = Batches("20-cog", paint_ahead=0, **kwargs)
    b = Batches("20-cog", paint_ahead=depth, **kwargs)
    for _ in range(3):
        _equal_windows(ref.next_window(), b.next_window())
    launch = stream_kernel.launch
    fail = [True]

    def flaky(args, threads=1):
        if fail.pop() if fail else False:
            raise RuntimeError("paint failed")
        launch(args, threads)

    monkeypatch.setattr(stream_kernel, "launch", flaky)
    if depth:
        b.cutter.drop_planned()  # replan, so that the next refill's paint is the failing one
        for _ in range(depth):
            b.cutter._plan_next(b.state, b.seq_len)
    made = b.batches_made
    while True:  # windows of the current block, until the failed refill is needed
        before = b.state_dict()
        try:
            w = b.next_window()
        except RuntimeError as err:
            assert "paint failed" in str(err)
            break
        _equal_windows(ref.next_window(), w)
        made += 1
    assert b.batches_made == made and b.cutter.planned == []
    assert utils.same_state(b.state_dict(), before)
    for _ in range(15):
        _equal_windows(ref.next_window(), b.next_window())


def _child(conn, b) -> None:
    conn.send([b.next_window().ob.tobytes() for _ in range(8)])
    conn.close()


@pytest.mark.skipif(sys.platform != "linux", reason="fork start method")
def test_a_fork_waits_for_the_paint_in_flight():
    """A process forked right after a refill started painting ahead gets the whole refill (the
    fork waits for the helper thread, which the child does not have), so it continues exactly
    as the parent."""
    kwargs = {"batch_size": 32, "seq_len": 100, "seed": 3, "prefetch": 4, "paint_ahead": 1}
    b, ref = Batches("mod-cog-82", **kwargs), Batches("mod-cog-82", **kwargs)
    ref.next_window()
    b.next_window()  # first refill painted here; the next one starts painting ahead
    ctx = mp.get_context("fork")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_child, args=(child, b))
    proc.start()
    got = parent.recv()
    proc.join(timeout=60)
    assert proc.exitcode == 0
    assert got == [ref.next_window().ob.tobytes() for _ in range(8)]


def test_each_refill_ahead_holds_one_more_block_and_no_more():
    """Every refill planned ahead paints into its own block, neither the current one nor another
    planned one's; the pool grows with the depth, and a long stream reuses its blocks (no block
    per refill)."""
    for k in (0, 2):
        b = Batches("20-cog", batch_size=4, seq_len=30, seed=0, prefetch=2, paint_ahead=k)
        seen = set()
        for _ in range(120):
            b.next_window()
            busy = [b.cutter.block, *(refill.block for refill in b.cutter.planned)]
            assert len({id(block["ob"]) for block in busy}) == 1 + k
            seen.update(id(block["ob"]) for block in b.cutter.pool)
        assert b.cutter.pool_size == b.cutter.POOL + k
        assert len(b.cutter.pool) <= b.cutter.pool_size
        assert len(seen) <= 2 * b.cutter.pool_size


def test_paint_ahead_must_be_a_nonnegative_int():
    for bad in (-1, 1.5, True, "1"):
        with pytest.raises(ValueError, match="paint_ahead"):
            Batches("20-cog", batch_size=2, seq_len=10, paint_ahead=bad)


def test_no_planning_ahead_without_the_compiled_painter(monkeypatch):
    """The numpy painter and the sampling path paint each refill when needed (paint_ahead
    applies to the compiled painter only), with the same windows."""
    monkeypatch.setenv("MODCOG_ENV_COMPILED", "0")
    b = Batches("20-cog", batch_size=3, seq_len=20, seed=9, paint_ahead=2)
    assert b.cutter.ahead == 0
    monkeypatch.delenv("MODCOG_ENV_COMPILED")
    ref = Batches("20-cog", batch_size=3, seq_len=20, seed=9, paint_ahead=2)
    for _ in range(10):
        _equal_windows(ref.next_window(), b.next_window())
    assert b.cutter.planned == []
