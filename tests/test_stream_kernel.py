"""The compiled stream painter (``modcog_env.stream_kernel``) on hand-built blocks.

Expected values come from the definitions the kernel must follow, each computed another way:
noise from :meth:`modcog_env.rng.Keys.normal`, labels from
:func:`modcog_env.tasks.base.step_labels`, Yang weights from ``modcog_env.batches._yang_weights``.
Whole-stream equality with the numpy painter and with sampled TrialBatches is in
``tests/test_batches.py``.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest

from modcog_env import Batches, rng, stream_kernel
from modcog_env.batches import YANG_GRACE_MS, YANG_RESPONSE_WEIGHT, _noise_tables, _yang_weights
from modcog_env.tasks.base import step_labels

N = 4  # dim_ring
BASE = 1 + 2 * N
RULES = 3
D = BASE + RULES


def _block(capacity: int, rows: int) -> dict[str, np.ndarray]:
    """A block whose every entry holds a sentinel (so unwritten steps are visible)."""
    return {
        "ob": np.full((capacity, rows, D), -7.0, np.float32),
        "label": np.full((capacity, rows), -7, np.int64),
        "weight": np.full((capacity, rows), -7.0, np.float32),
        "decision": np.zeros((capacity, rows), bool),
        "task": np.full((capacity, rows), -7, np.int64),
        "trial_start": np.zeros((capacity, rows), bool),
    }


def _segments(entries: list[dict]) -> dict[str, np.ndarray]:
    keys = ("trial", "start", "stop", "state", "width", "offset", "table")
    types = (np.int64, np.int64, np.int64, np.uint64, np.int64, np.int64, np.int64)
    out = {k: np.array([e[k] for e in entries], t) for k, t in zip(keys, types, strict=True)}
    out["row"] = np.array([e["row"] for e in entries], np.float32).reshape(-1, BASE)
    return out


def _paint(block, rows, offset, avail, extent, trials, segments, *, weights=0, dt=100.0,
           wrap=False, std=0.5, rule=True, threads=1, carry=None):
    stream_kernel.paint(
        block, np.asarray(rows, np.int64), np.asarray(offset, np.int64),
        np.asarray(avail, np.int64), np.asarray(extent, np.int64),
        {k: np.asarray(v, bool if k == "go" else np.int64) for k, v in trials.items()},
        dim_ring=N, dt=dt, wrap=wrap, weights=weights,
        grace=int(np.ceil(YANG_GRACE_MS / dt - 1e-9)), response_weight=YANG_RESPONSE_WEIGHT,
        base=BASE, rule=rule, segments=segments, tables=_noise_tables((std,)), threads=threads,
        carry=carry,
    )


def test_one_trial_every_channel_and_field():
    """One row, one trial of 6 steps (decision from step 4) whose steps 1-2 show a row plus
    noise on every task channel: blank rows, the shown row plus Keys.normal's draws, the rule
    one-hot, labels, weights, and nothing written outside [avail, extent)."""
    keys = rng.Keys(11, np.array([5]))
    row = np.linspace(0.1, 0.9, BASE, dtype=np.float32)
    seg = _segments([{"trial": 0, "start": 1, "stop": 3, "row": row, "width": BASE, "offset": 0,
                      "state": keys.stream("t/noise/s")[0], "table": 0}])
    block = _block(10, 1)
    trials = {"length": [6], "dec": [4], "response": [2], "go": [True], "seq": [0], "task": [1]}
    _paint(block, [0], [2], [2], [8], trials, seg)
    ob = block["ob"][:, 0]
    noise = keys.normal("t/noise/s", 2 * BASE, 0.5).reshape(2, BASE)
    np.testing.assert_array_equal(ob[3:5, :BASE], row + noise)  # float32 sums, bit for bit
    blank = np.zeros((6, BASE), np.float32)
    blank[[0, 3], 0] = 1.0  # fixation before the decision period (steps 0 and 3 are blank)
    np.testing.assert_array_equal(ob[[2, 5, 6, 7], :BASE], blank[[0, 3, 4, 5]])
    np.testing.assert_array_equal(ob[2:8, BASE:], np.tile(np.eye(RULES)[1], (6, 1)))
    np.testing.assert_array_equal(block["label"][2:8, 0], [0, 0, 0, 0, 3, 3])  # 1 + 2 % N
    np.testing.assert_array_equal(block["decision"][2:8, 0], [0, 0, 0, 0, 1, 1])
    np.testing.assert_array_equal(block["weight"][2:8, 0], np.ones(6))
    np.testing.assert_array_equal(block["task"][2:8, 0], np.ones(6))
    np.testing.assert_array_equal(block["trial_start"][2:8, 0], [1, 0, 0, 0, 0, 0])
    for outside in (slice(0, 2), slice(8, 10)):  # before avail, after extent: untouched
        assert (block["ob"][outside] == -7.0).all() and (block["label"][outside] == -7).all()


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_ring_noise_and_partial_words(threads):
    """Noise on one ring only (width N at channel 1 + N), in a segment whose draws straddle
    64-bit words (N * steps is not a multiple of 4 per step boundary), over two rows with
    trials back to back and a kept prefix (avail > 0) on row 1; on one thread, one per row, or
    more threads than rows (an empty range)."""
    n_steps = 5
    ka, kb = rng.Keys(3, np.array([0])), rng.Keys(3, np.array([9]))
    rows_a = np.arange(BASE, dtype=np.float32) / 10
    seg = _segments([
        {"trial": 0, "start": 0, "stop": n_steps, "row": rows_a, "width": 3, "offset": 1 + N,
         "state": ka.stream("a")[0], "table": 0},
        {"trial": 2, "start": 1, "stop": 4, "row": -rows_a, "width": 3, "offset": 1,
         "state": kb.stream("b")[0], "table": 0},
    ])
    trials = {"length": [n_steps, 2, 6], "dec": [n_steps - 1, 1, 5], "response": [0, 1, 3],
              "go": [True, False, True], "seq": [0, 0, 0], "task": [0, 2, 1]}
    block = _block(12, 2)
    # trials 0, 1 on row 0 from position 0; trial 2 on row 1 from position 3 (3 kept steps)
    _paint(block, [0, 0, 1], [0, n_steps, 3], [0, 3], [n_steps + 2, 9], trials, seg,
           threads=threads)
    za = ka.normal("a", 3 * n_steps, 0.5).reshape(n_steps, 3)
    zb = kb.normal("b", 3 * 3, 0.5).reshape(3, 3)
    expect_a = np.tile(rows_a, (n_steps, 1))
    expect_a[:, 1 + N : 4 + N] += za
    np.testing.assert_array_equal(block["ob"][:n_steps, 0, :BASE], expect_a)
    expect_b = np.tile(-rows_a, (3, 1))
    expect_b[:, 1:4] += zb
    np.testing.assert_array_equal(block["ob"][4:7, 1, :BASE], expect_b)
    assert (block["ob"][:3, 1] == -7.0).all()  # row 1's kept prefix is not rewritten
    assert (block["ob"][n_steps + 2 :, 0] == -7.0).all()  # nor anything after row 0's extent
    assert (block["ob"][9:, 1] == -7.0).all()
    assert block["label"][n_steps : n_steps + 2, 0].tolist() == [0, 0]  # no-go trial
    assert block["label"][8, 1] == 1 + 3 % N


@pytest.mark.parametrize("threads", [1, 2])
def test_carry_copies_the_unread_steps_of_the_source_block_first(threads):
    """``carry=(source, head, keep)``: positions [head, head + keep) of every field of the source
    block land at [0, keep) of the new one, before the new steps are painted after them (row 0
    keeps 3 steps, row 1 all 4: its trial starts at position 4); nothing past ``keep`` is copied."""
    gen = np.random.default_rng(0)
    source = {k: (gen.normal(size=v.shape).astype(v.dtype) if v.dtype.kind == "f"
                  else gen.integers(0, 2, size=v.shape).astype(v.dtype))
              for k, v in _block(9, 2).items()}
    block = _block(8, 2)
    trials = {"length": [3, 2], "dec": [2, 1], "response": [1, 0], "go": [True, True],
              "seq": [0, 0], "task": [0, 1]}
    seg = _segments([])
    seg["row"] = np.zeros((0, BASE), np.float32)
    _paint(block, [0, 1], [3, 4], [3, 4], [6, 6], trials, seg, threads=threads,
           carry=(source, 5, 4))
    for k in block:
        np.testing.assert_array_equal(block[k][:3], source[k][5:8], err_msg=k)
        np.testing.assert_array_equal(block[k][3, 1], source[k][8, 1], err_msg=k)
    assert block["label"][3:6, 0].tolist() == [0, 0, 2]  # row 0's new trial, painted after
    assert (block["label"][6:] == -7).all()  # past the extents: neither copied nor painted


@pytest.mark.parametrize("wrap", [False, True])
@pytest.mark.parametrize("dt", [20.0, 50.0, 100.0])
def test_seq_labels_and_yang_weights_follow_their_definitions(wrap, dt):
    """Labels of seq trials (response moving one ring position per 100 ms, either sign) and
    Yang's loss weights, step by step, against step_labels and _yang_weights."""
    length = np.array([40, 33, 25])
    dec = np.array([12, 20, 3])
    trials = {"length": length, "dec": dec, "response": [1, 3, 0], "go": [True, True, False],
              "seq": [1, -1, 1], "task": [0, 0, 0]}
    offset = np.concatenate([[0], np.cumsum(length)[:-1]])
    block = _block(int(length.sum()), 1)
    _paint(block, [0, 0, 0], offset, [0], [int(length.sum())], trials,
           _segments([]), weights=stream_kernel.WEIGHTS_YANG, dt=dt, wrap=wrap)
    trial = np.repeat(np.arange(3), length)
    t = np.arange(trial.size) - offset[trial]
    label, decision = step_labels(np.array(trials["response"]), np.array(trials["go"]),
                                  np.array(trials["seq"]), dec, trial, t, dim_ring=N, dt=dt,
                                  wrap=wrap)
    np.testing.assert_array_equal(block["label"][:, 0], label)
    np.testing.assert_array_equal(block["decision"][:, 0], decision)
    np.testing.assert_array_equal(block["weight"][:, 0],
                                  _yang_weights(t, dec[trial], dt).astype(np.float32))


def test_available_honours_the_switch_and_a_missing_numba(monkeypatch):
    assert stream_kernel.available()
    monkeypatch.setenv("MODCOG_ENV_COMPILED", "0")
    assert not stream_kernel.available()
    assert not Batches("20-cog", batch_size=2, seq_len=10).cutter.compiled
    monkeypatch.delenv("MODCOG_ENV_COMPILED")
    monkeypatch.setitem(sys.modules, "numba", None)  # import numba raises ImportError
    stream_kernel._compiles.cache_clear()
    try:
        assert not stream_kernel.available()
    finally:
        stream_kernel._compiles.cache_clear()


def test_a_kernel_that_does_not_compile_warns_and_falls_back(monkeypatch):
    """numba present but the kernel failing to compile (say, an LLVM problem): one warning, and
    Batches paints with numpy, giving the same windows."""
    def broken(parallel=False):
        raise RuntimeError("no LLVM today")

    monkeypatch.setattr(stream_kernel, "_kernel", broken)
    stream_kernel._compiles.cache_clear()
    try:
        with pytest.warns(UserWarning, match="did not compile"):
            fallback = Batches("20-cog", batch_size=3, seq_len=25, seed=2)
        assert not fallback.cutter.compiled and not stream_kernel.available()
    finally:
        stream_kernel._compiles.cache_clear()
    monkeypatch.undo()
    compiled = Batches("20-cog", batch_size=3, seq_len=25, seed=2)
    assert compiled.cutter.compiled
    for _ in range(5):
        np.testing.assert_array_equal(fallback.next_window().ob, compiled.next_window().ob)


def test_switching_painters_mid_stream_changes_nothing():
    """The painter is an implementation detail: a stream that alternates between the compiled
    and the numpy painter at every refill yields the same windows as one that never switches."""
    kwargs = {"batch_size": 5, "seq_len": 30, "seed": 8, "prefetch": 1}
    steady, switching = Batches("mod-cog-82", **kwargs), Batches("mod-cog-82", **kwargs)
    for i in range(15):
        switching.cutter.compiled = i % 2 == 0
        a, b = steady.next_window(), switching.next_window()
        for field in ("ob", "label", "weight", "decision", "task", "trial_start"):
            np.testing.assert_array_equal(getattr(a, field), getattr(b, field), err_msg=field)



@pytest.mark.parametrize(("tasks", "kwargs"), [
    ("20-cog", {"batch_size": 7, "seq_len": 45}),
    ("mod-cog-82", {"batch_size": 5, "seq_len": 30, "loss_weights": "yang", "batch_first": True,
                    "prefetch": 4}),
    ("dlygo", {"batch_size": 2, "seq_len": 20, "prefetch": 1}),
])
@pytest.mark.parametrize("threads", [2, 3, 8])
def test_threaded_painter_gives_the_same_windows(tasks, kwargs, threads, monkeypatch):
    """paint_threads splits each refill's rows over numba's threads: every field of every window
    equals the one-thread painter's, also with more threads than rows (and the threaded build
    is the one that painted every refill of ``many``)."""
    one = Batches(tasks, seed=5, paint_ahead=0, **kwargs)  # every painted refill installed
    many = Batches(tasks, seed=5, paint_threads=threads, paint_ahead=0, **kwargs)
    assert stream_kernel.parallel_available()
    built, launches = stream_kernel._kernel, []
    monkeypatch.setattr(stream_kernel, "_kernel",
                        lambda parallel=False: launches.append(parallel) or built(parallel))
    for _ in range(12):
        a, b = one.next_window(), many.next_window()
        for field in ("ob", "label", "weight", "decision", "task", "trial_start"):
            np.testing.assert_array_equal(getattr(a, field), getattr(b, field), err_msg=field)
    assert many.cutter.refills >= 2
    assert launches.count(True) == many.cutter.refills  # one threaded paint per refill of many
    assert launches.count(False) == one.cutter.refills


def test_threaded_painter_that_does_not_compile_warns_and_paints_on_one_thread(monkeypatch):
    """A threaded build that fails to compile (no threading layer, say): one warning, and the
    batches are painted on the calling thread, unchanged."""
    serial = stream_kernel._kernel()

    def no_threads(parallel=False):
        if parallel:
            raise RuntimeError("no threading layer")
        return serial

    monkeypatch.setattr(stream_kernel, "_kernel", no_threads)
    stream_kernel.parallel_available.cache_clear()
    try:
        many = Batches("20-cog", batch_size=3, seq_len=25, seed=2, paint_threads=2)
        with pytest.warns(UserWarning, match="threaded stream painter did not compile"):
            first = many.next_window().ob.copy()
        assert not stream_kernel.parallel_available()
    finally:
        stream_kernel.parallel_available.cache_clear()
    monkeypatch.undo()
    one = Batches("20-cog", batch_size=3, seq_len=25, seed=2)
    np.testing.assert_array_equal(first, one.next_window().ob)


def test_paint_threads_must_be_a_positive_int():
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="paint_threads"):
            Batches("20-cog", batch_size=2, seq_len=10, paint_threads=bad)
