"""Batches made in a worker process (agents.batch_worker through BatchSource(process=True)): a
batch handed out is never rewritten while anything references it; errors, limits, shutdown and
training. The same batches and consumed state as the synchronous path: test_prefetch.py."""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from agents import batch_worker  # noqa: E402
from agents.batch_worker import WorkerProducer, slot_bytes  # noqa: E402
from agents.prefetch import BatchSource  # noqa: E402
from agents.training import TrainConfig, read_log, train  # noqa: E402
from modcog_env import Batches  # noqa: E402

torch.set_num_threads(1)


def _batches(mode="stream", **kw):
    return Batches(["go", "dm1", "dlygo"], batch_size=5, seq_len=23, mode=mode, seed=3,
                   prefetch=2, **kw)


def test_held_batches_are_never_rewritten():
    """Batches (tuples, single arrays, views, tensors) kept by the consumer keep their values
    while the worker goes on; the source makes new slots when every slot is held."""
    source = BatchSource(_batches(), 1, process=True)
    kept, copies = [], []
    try:
        for k in range(16):
            batch = source.next()
            if k % 2 == 0:  # keep one of four kinds of reference, in turn
                kinds = (batch, batch[0], batch[1][3:], torch.from_numpy(batch[2]))
                keep = kinds[(k // 2) % 4]
                kept.append(keep)
                copies.append(tuple(a.copy() for a in keep) if isinstance(keep, tuple)
                              else keep.clone() if isinstance(keep, torch.Tensor)
                              else keep.copy())
            del batch
        for keep, copy in zip(kept, copies, strict=True):
            if isinstance(keep, tuple):
                for a, c in zip(keep, copy, strict=True):
                    np.testing.assert_array_equal(a, c)
            elif isinstance(keep, torch.Tensor):
                assert torch.equal(keep, copy)
            else:
                np.testing.assert_array_equal(keep, copy)
        assert len(source._worker._slots) >= len(kept)  # slots were added, none overwritten
    finally:
        source.close()
    for keep, copy in zip(kept, copies, strict=True):  # still valid after close
        if isinstance(keep, np.ndarray):
            np.testing.assert_array_equal(keep, copy)


def test_slots_are_reused_when_released():
    source = BatchSource(_batches(), 2, process=True)
    try:
        for _ in range(20):
            source.next()  # nothing kept
        assert len(source._worker._slots) == 2 + 2  # ahead + the two the consumer may hold
    finally:
        source.close()


def test_close_removes_slot_files_and_limit_stops_the_worker():
    source = BatchSource(_batches(), 2, limit=4, process=True)
    for _ in range(4):
        source.next()
    with pytest.raises(RuntimeError, match="all 4 batches"):
        source.next()
    folder = source._worker._dir
    assert os.listdir(folder)
    source.close()
    assert not os.path.exists(folder)
    source.close()  # idempotent


def test_worker_errors_reach_the_consumer():
    broken = _batches()
    broken.cutter = None  # the worker's first window raises AttributeError
    source = BatchSource(broken, 1, process=True)
    with pytest.raises(AttributeError, match="window"):
        source.next()
    assert source._worker is None  # closed


def test_bad_arguments():
    with pytest.raises(ValueError, match="process=True needs ahead >= 1"):
        BatchSource(_batches(), 0, process=True)
    with pytest.raises(ValueError, match="process="):
        BatchSource(_batches(), 1, process=1)
    with pytest.raises(ValueError, match="prefetch_process=True needs prefetch_batches >= 1"):
        TrainConfig(prefetch_batches=0, prefetch_process=True)
    unpicklable = _batches()
    unpicklable.hook = lambda: None
    with pytest.raises(ValueError, match="picklable"):
        WorkerProducer(unpicklable, 1, None)


def test_slot_bytes_fit_a_batch():
    for mode in ("stream", "trial"):
        b = _batches(mode)
        arrays = BatchSource(b, 0).next()
        assert sum(a.nbytes for a in arrays) <= slot_bytes(b)


def test_slots_leave_a_full_shm_for_the_temporary_directory(monkeypatch, tmp_path):
    """A /dev/shm without room for the slots (a container's 64 MB) is not used: a slot written
    past tmpfs' free space would kill the worker with SIGBUS."""
    if not os.path.isdir("/dev/shm"):
        pytest.skip("no /dev/shm here")
    monkeypatch.setattr(batch_worker.tempfile, "tempdir", str(tmp_path))
    free = batch_worker.shutil.disk_usage("/dev/shm").free
    assert batch_worker.shm_root(0) == "/dev/shm"
    assert batch_worker.shm_root(free + 1) == str(tmp_path)
    real = batch_worker.shutil.disk_usage
    monkeypatch.setattr(batch_worker.shutil, "disk_usage",
                        lambda path: real(path)._replace(free=0) if path == "/dev/shm"
                        else real(path))
    bg = BatchSource(_batches(), 2, process=True)
    try:
        got = bg.next()
        np.testing.assert_array_equal(got[0], BatchSource(_batches(), 0).next()[0])
        assert bg._worker._dir.startswith(str(tmp_path))
    finally:
        bg.close()


def test_training_with_a_worker_process_is_identical(tmp_path):
    kw = dict(tasks=["go", "rtgo"], model="lm-rnn", geometry="ring", radius=2, hidden_size=32,
              batch_size=8, seq_len=50, steps=12, lr=3e-3, eval_interval=6, eval_trials=8,
              log_interval=3, ckpt_interval=0, progress=False, num_threads=1)
    ref = train(TrainConfig(out_dir=str(tmp_path / "a"), prefetch_batches=0, **kw))
    run = train(TrainConfig(out_dir=str(tmp_path / "b"), prefetch_batches=3,
                            prefetch_process=True, **kw))
    for name, p in ref.model.state_dict().items():
        assert torch.equal(p, run.model.state_dict()[name]), name

    def log(path):
        return [{k: v for k, v in line.items() if k != "ms_per_step"} for line in read_log(path)]

    assert log(ref.log_path) == log(run.log_path)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_worker_exits_and_cleans_up_when_the_parent_dies(tmp_path):
    """A parent killed without close(): its worker notices, removes the slot folder and exits."""
    import subprocess
    import textwrap
    import time

    script = tmp_path / "parent.py"
    script.write_text(textwrap.dedent("""
        import os, sys
        from agents.prefetch import BatchSource
        from modcog_env import Batches
        if __name__ == "__main__":
            source = BatchSource(Batches("go", batch_size=2, seq_len=10), 1, process=True)
            source.next()
            print(source._worker._dir, source._worker._proc.pid, flush=True)
            os._exit(0)  # no close(), no atexit: as if killed
    """))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                         env=env, timeout=120, check=True).stdout.split()
    folder, pid = out[0], int(out[1])
    deadline = time.time() + 30
    while time.time() < deadline and (os.path.exists(folder) or _alive(pid)):
        time.sleep(0.2)
    assert not os.path.exists(folder)
    assert not _alive(pid)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as f:  # a zombie has exited
        return f.read().split()[2] != "Z"
