"""Background batches (agents.prefetch): same batches, same order and same saved stream state as
the synchronous path; the trainer trains and resumes identically with and without them."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import utils  # noqa: E402

from agents.prefetch import BatchSource, Handoff, tensors_of  # noqa: E402
from agents.training import TrainConfig, load_checkpoint, read_log, train  # noqa: E402
from modcog_env import Batches, stream_kernel  # noqa: E402

torch.set_num_threads(1)


def _batches(mode="stream"):
    return Batches(["go", "dm1", "dlygo"], batch_size=5, seq_len=23, mode=mode, seed=3,
                   prefetch=2)


@pytest.mark.parametrize("mode", ["stream", "trial"])
@pytest.mark.parametrize(("ahead", "process"), [(1, False), (3, False), (3, True)],
                         ids=["thread-1", "thread-3", "process-3"])
def test_batches_and_consumed_state_match_the_synchronous_path(mode, ahead, process):
    sync, bg = BatchSource(_batches(mode), 0), BatchSource(_batches(mode), ahead, process=process)
    try:
        for _ in range(12):  # several refills of the stream block (and rounds through the slots)
            for a, b in zip(sync.next(), bg.next(), strict=True):
                np.testing.assert_array_equal(a, b)
            # the producer may be ahead, yet the state is that of the consumed batches
            assert utils.same_state(sync.state_dict(), bg.state_dict())
            assert utils.same_state(sync.state_dict(rewind=1), bg.state_dict(rewind=1))
    finally:
        bg.close()


def test_saved_state_resumes_the_same_batches():
    bg = BatchSource(_batches(), 2)
    for _ in range(4):
        bg.next()
    saved = bg.state_dict()
    later = [bg.next() for _ in range(3)]
    bg.close()
    fresh = _batches()
    fresh.load_state_dict(saved)
    resumed = BatchSource(fresh, 1)
    for want in later:
        for a, b in zip(want, resumed.next(), strict=True):
            np.testing.assert_array_equal(a, b)
    resumed.close()


def test_limit_stops_the_producer_and_close_is_idempotent():
    bg = BatchSource(_batches(), 4, limit=3)
    for _ in range(3):
        bg.next()
    with pytest.raises(RuntimeError, match="all 3 batches"):
        bg.next()
    bg._thread.join(timeout=5)
    assert bg.batches.batches_made == 3  # nothing made past the limit
    bg.close()
    bg.close()
    BatchSource(_batches(), 1).close()  # never started


def test_close_stops_a_producer_blocked_on_a_full_queue():
    bg = BatchSource(_batches(), 1)
    bg.next()
    thread = bg._thread
    bg.close()
    assert not thread.is_alive()


def test_producer_errors_reach_the_consumer():
    b = _batches()

    def broken():
        raise OSError("disk on fire")

    b.next_window = broken
    bg = BatchSource(b, 1)
    with pytest.raises(OSError, match="disk on fire"):
        bg.next()


@pytest.mark.parametrize(("ahead", "process"), [(0, False), (2, False), (2, True)],
                         ids=["sync", "thread", "process"])
def test_convert_gives_tensors_of_the_same_batches(ahead, process):
    plain, conv = BatchSource(_batches(), 0), BatchSource(_batches(), ahead, process=process,
                                                          convert=tensors_of)
    try:
        for _ in range(6):
            got = conv.next()
            assert all(isinstance(t, torch.Tensor) for t in got)
            for a, t in zip(plain.next(), got, strict=True):
                np.testing.assert_array_equal(a, t.numpy())
        assert utils.same_state(plain.state_dict(), conv.state_dict())
    finally:
        conv.close()


def test_convert_runs_on_the_producer_thread():
    where = []

    def convert(arrays):
        where.append(threading.current_thread())
        return arrays

    bg = BatchSource(_batches(), 2, convert=convert)
    bg.next()
    bg.close()
    assert where and all(t is not threading.current_thread() for t in where)


def test_handoff_wakes_a_full_producer_only_once_drained_to_half():
    stop = threading.Event()
    box = Handoff(4, stop)
    puts = []

    def produce():
        for i in range(8):
            box.put(i)
            puts.append(i)

    def wait_for(n):
        deadline = time.monotonic() + 5
        while len(puts) < n and time.monotonic() < deadline:
            time.sleep(0.005)

    thread = threading.Thread(target=produce, daemon=True)
    thread.start()
    wait_for(4)  # fills the buffer, then waits
    assert len(puts) == 4
    assert box.get() == 0
    time.sleep(0.25)  # longer than the producer's 0.1 s re-checks
    assert len(puts) == 4  # 3 left > 4 // 2: still waiting
    assert box.get() == 1
    wait_for(6)  # 2 left: woken, fills the buffer again
    time.sleep(0.05)
    assert len(puts) == 6
    assert [box.get() for _ in range(6)] == [2, 3, 4, 5, 6, 7]
    thread.join(timeout=5)
    assert not thread.is_alive()


def test_handoff_stop_releases_a_waiting_producer():
    stop = threading.Event()
    box = Handoff(1, stop)
    assert box.put("a")
    done = []
    thread = threading.Thread(target=lambda: done.append(box.put("b")), daemon=True)
    thread.start()
    time.sleep(0.02)
    stop.set()
    box.wake()
    thread.join(timeout=5)
    assert done == [False] and len(box) == 1
    with pytest.raises(ValueError, match="capacity=0"):
        Handoff(0, stop)


def test_bad_arguments():
    with pytest.raises(ValueError, match="ahead=-1"):
        BatchSource(_batches(), -1)
    with pytest.raises(ValueError, match="limit"):
        BatchSource(_batches(), 1, limit=-2)
    with pytest.raises(ValueError, match="convert=3"):
        BatchSource(_batches(), 1, convert=3)
    with pytest.raises(ValueError, match="prefetch_batches=-1"):
        TrainConfig(prefetch_batches=-1)


# ------------------------------------------------------------------------------------ trainer
def _cfg(out_dir, **kw):
    base = dict(
        tasks=["go", "rtgo"], model="lm-rnn", geometry="ring", radius=2, hidden_size=32,
        batch_size=8, seq_len=50, steps=30, lr=3e-3, eval_interval=10, eval_trials=8,
        log_interval=5, ckpt_interval=0, out_dir=str(out_dir), progress=False, num_threads=1,
        input_noise=0.05,
    )
    base.update(kw)
    return TrainConfig(**base)


def _log(path):
    return [{k: v for k, v in line.items() if k != "ms_per_step"} for line in read_log(path)]


@pytest.mark.parametrize("batch_mode", ["stream", "trial"])
def test_training_is_identical_with_and_without_background_batches(tmp_path, batch_mode):
    runs = {k: train(_cfg(tmp_path / str(k), batch_mode=batch_mode, prefetch_batches=k))
            for k in (0, 1, 2)}
    ref = runs[0]
    for k in (1, 2):
        for name, p in ref.model.state_dict().items():
            assert torch.equal(p, runs[k].model.state_dict()[name]), (k, name)
        assert _log(ref.log_path) == _log(runs[k].log_path)
        ca, cb = load_checkpoint(ref.checkpoint_path), load_checkpoint(runs[k].checkpoint_path)
        assert ca["data"].keys() == cb["data"].keys()
        for key, v in ca["data"].items():
            assert (torch.equal(v, cb["data"][key]) if isinstance(v, torch.Tensor)
                    else v == cb["data"][key]), key


def test_resume_with_background_batches_is_bit_identical(tmp_path, monkeypatch):
    """Also across a change of paint_threads (threads of the stream painter): the first half
    paints on threads, the straight run and the resumed half on one."""
    straight = train(_cfg(tmp_path / "a", prefetch_batches=0))
    built, launches = stream_kernel._kernel, []
    monkeypatch.setattr(stream_kernel, "_kernel",
                        lambda parallel=False: launches.append(parallel) or built(parallel))
    train(_cfg(tmp_path / "b", steps=13, prefetch_batches=2, paint_threads=2))
    assert launches and all(launches)  # the trainer passed paint_threads on to its Batches
    monkeypatch.undo()
    resumed = train(_cfg(tmp_path / "b", resume=True, prefetch_batches=1))
    for name, p in straight.model.state_dict().items():
        assert torch.equal(p, resumed.model.state_dict()[name]), name
    assert _log(straight.log_path) == _log(resumed.log_path)


def test_paint_ahead_follows_the_data_path_unless_given():
    """TrainConfig.paint_ahead=None: 1 refill painted ahead in the synchronous path, 2 with a
    background producer; a given value is kept, a bad one is refused."""
    assert TrainConfig(prefetch_batches=0).batches_paint_ahead() == 1
    assert TrainConfig(prefetch_batches=0, device="cuda").batches_paint_ahead() == 1
    assert TrainConfig(prefetch_batches=8).batches_paint_ahead() == 2
    assert TrainConfig().batches_paint_ahead() == 2  # the default: a background thread
    assert TrainConfig(prefetch_batches=8, device="cuda:0").batches_paint_ahead() == 2
    assert TrainConfig(prefetch_batches=8, paint_ahead=3).batches_paint_ahead() == 3
    for bad in (-1, 1.5, True):
        with pytest.raises(ValueError, match="paint_ahead"):
            TrainConfig(paint_ahead=bad)


def test_batches_ahead_follows_the_device_unless_given():
    """TrainConfig.prefetch_batches=None: 24 batches ahead for a model on the CPU, 8 on another
    device; a given value (0 too) is kept, a bad one is refused."""
    assert TrainConfig().batches_ahead() == 24
    assert TrainConfig(device="cuda:1").batches_ahead() == 8
    assert TrainConfig(device="mps").batches_ahead() == 8
    assert TrainConfig(prefetch_batches=0, device="cuda").batches_ahead() == 0
    assert TrainConfig(prefetch_batches=5).batches_ahead() == 5
    for bad in (-1, 2.0, True):
        with pytest.raises(ValueError, match="prefetch_batches"):
            TrainConfig(prefetch_batches=bad)


def test_resume_across_a_change_of_paint_ahead_is_bit_identical(tmp_path, monkeypatch):
    """The first half paints 2 refills ahead (and the trainer's Batches was made with that
    depth), the resumed half none: parameters and log equal those of the straight run."""
    straight = train(_cfg(tmp_path / "a", prefetch_batches=0, paint_ahead=0))
    depths = []
    init = Batches.__init__

    def spy(self, *args, **kwargs):
        init(self, *args, **kwargs)
        depths.append(self.cutter.ahead if self.mode == "stream" else None)

    monkeypatch.setattr(Batches, "__init__", spy)
    train(_cfg(tmp_path / "b", steps=13, prefetch_batches=0, paint_ahead=2))
    assert depths and depths[0] == 2
    monkeypatch.undo()
    resumed = train(_cfg(tmp_path / "b", resume=True, prefetch_batches=2, paint_ahead=0))
    for name, p in straight.model.state_dict().items():
        assert torch.equal(p, resumed.model.state_dict()[name]), name
    assert _log(straight.log_path) == _log(resumed.log_path)
