"""Run folders: one run per folder, the lock, foreign checkpoints, signals, divergence, size.

Each test first reproduces a way the trainer used to lose work (issue 10) and asserts that the
run folder survives it: refused starts leave the files byte-identical, a second trainer is
refused at once, stops write a checkpoint from which resuming equals a straight run bit for bit.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from agents import runs  # noqa: E402
from agents.training import (  # noqa: E402
    TrainConfig,
    Trainer,
    TrainingDiverged,
    TrainingInterrupted,
    load_checkpoint,
    read_log,
    train,
)

torch.set_num_threads(1)
ROOT = Path(__file__).resolve().parents[2]


def _tiny(out_dir, **kw):
    base = dict(
        tasks=["go", "rtgo"], model="lm-rnn", geometry="ring", radius=2, hidden_size=32,
        batch_size=8, seq_len=50, steps=40, lr=3e-3, noise_std=0.1, input_noise=0.05,
        eval_interval=10, eval_trials=8, log_interval=5, ckpt_interval=0, out_dir=str(out_dir),
        progress=False, num_threads=1,
    )
    base.update(kw)
    if base["out_dir"] == "None":
        base["out_dir"] = None
    return TrainConfig(**base)


def _files(folder):
    return {p.name: p.read_bytes() for p in Path(folder).iterdir() if p.is_file()}


def _params(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _same_params(a, b):
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def _strip(lines):
    return [{k: v for k, v in line.items() if k != "ms_per_step"} for line in lines]


def _strict_json_lines(path):
    def refuse(name):
        raise ValueError(f"non-JSON constant {name}")

    return [json.loads(line, parse_constant=refuse) for line in Path(path).read_text().splitlines()]


# ---------------------------------------------------------------------------- one run per folder
def test_second_start_is_refused_and_leaves_files_identical(tmp_path):
    train(_tiny(tmp_path, steps=10))
    before = _files(tmp_path)
    with pytest.raises(runs.RunFolderError, match=re.escape("holds a run at step 10 of 10")):
        train(_tiny(tmp_path, steps=10, seed=1))
    assert _files(tmp_path) == before


def test_overwrite_deletes_the_old_run(tmp_path):
    first = train(_tiny(tmp_path, steps=10))
    second = train(_tiny(tmp_path, steps=5, overwrite=True))
    assert second.run_id != first.run_id
    assert load_checkpoint(tmp_path / "ckpt.pt")["run_id"] == second.run_id
    assert runs.read_identity(tmp_path)["run_id"] == second.run_id
    assert max(r["step"] for r in read_log(tmp_path / "metrics.jsonl")) == 5
    assert runs.status(tmp_path).state == "finished" and runs.status(tmp_path).step == 5


def test_foreign_checkpoint_is_refused(tmp_path):
    train(_tiny(tmp_path / "x", steps=10))
    train(_tiny(tmp_path / "b", steps=10, seed=1))
    shutil.copy(tmp_path / "b" / "ckpt.pt", tmp_path / "x" / "ckpt.pt")
    before = _files(tmp_path / "x")
    with pytest.raises(runs.RunFolderError, match=re.escape("belongs to run")):
        train(_tiny(tmp_path / "x", steps=20, resume=True))
    assert _files(tmp_path / "x") == before


def test_path_errors(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(runs.RunFolderError, match=re.escape("is a file, not a folder")):
        train(_tiny(tmp_path / "file"))
    with pytest.raises(runs.RunFolderError, match=re.escape("is a file, not a folder")):
        train(_tiny(tmp_path / "file" / "sub"))
    with pytest.raises(ValueError, match=re.escape("out_dir='': give a folder name")):
        _tiny("")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(runs.RunFolderError, match=re.escape("holds files that are not a run")):
        train(_tiny(tmp_path / "other"))


def test_default_out_dir_is_a_fresh_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    a = train(_tiny(None, steps=2, eval_interval=0))
    b = train(_tiny(None, steps=2, eval_interval=0))
    assert a.out_dir != b.out_dir
    assert a.out_dir.parent == b.out_dir.parent == Path("runs")
    assert a.out_dir.name.startswith("lm-rnn-")


def test_leftover_temporary_files_are_removed(tmp_path):
    train(_tiny(tmp_path, steps=5))
    (tmp_path / ".ckpt.pt.tmp12345").write_bytes(b"half a write")
    train(_tiny(tmp_path, steps=10, resume=True))
    assert not [n for n in os.listdir(tmp_path) if ".tmp" in n]


# ---------------------------------------------------------------------------- the lock
_CHILD = """
import sys, torch
torch.set_num_threads(1)
from agents.training import TrainConfig, train
train(TrainConfig(tasks=["go"], model="dense", hidden_size=16, batch_size=4, seq_len=30,
                  steps=int(sys.argv[2]), eval_interval=0, eval_trials=4, log_interval=1,
                  out_dir=sys.argv[1], progress=False))
"""


def _child(out_dir, steps):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-c", _CHILD, str(out_dir), str(steps)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for(predicate, timeout=60.0):
    t0 = time.monotonic()
    while not predicate():
        if time.monotonic() - t0 > timeout:
            raise TimeoutError
        time.sleep(0.05)


def test_second_trainer_refuses_at_once_and_the_first_finishes(tmp_path):
    first = _child(tmp_path, 300)
    try:
        _wait_for(lambda: runs.lock_holder(tmp_path) == first.pid)
        assert runs.status(tmp_path).state == "running"
        t0 = time.monotonic()
        with pytest.raises(runs.RunBusy, match=re.escape(f"in use by process {first.pid}")):
            train(_tiny(tmp_path, overwrite=True))
        assert time.monotonic() - t0 < 1.0
        out, err = first.communicate(timeout=300)
    finally:
        first.kill()
    assert first.returncode == 0, err
    assert runs.lock_holder(tmp_path) is None
    assert load_checkpoint(tmp_path / "ckpt.pt")["iter_num"] == 300
    steps = [r["step"] for r in read_log(tmp_path / "metrics.jsonl") if r["kind"] == "train"]
    assert steps == list(range(1, 301))  # one writer: no duplicated or interleaved lines
    assert runs.status(tmp_path).state == "finished"


def test_lock_holder_of_a_dead_process_is_none(tmp_path):
    child = _child(tmp_path, 100_000)
    _wait_for(lambda: (tmp_path / "metrics.jsonl").is_file()
              and runs.lock_holder(tmp_path) == child.pid)
    child.kill()  # no cleanup at all: the OS drops the lock with the process
    child.wait()
    assert runs.lock_holder(tmp_path) is None
    assert runs.status(tmp_path).state == "stopped"


# ---------------------------------------------------------------------------- signals
@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_checkpoints_and_resume_is_exact(tmp_path, monkeypatch, signum, code):
    straight = train(_tiny(tmp_path / "straight"))
    handler_before = signal.getsignal(signum)
    trainer = Trainer(_tiny(tmp_path / "stopped"))
    next_batch = trainer._next_batch

    def batch_then_signal():
        if trainer.step == 17:  # arrives during step 18
            os.kill(os.getpid(), signum)
        return next_batch()

    monkeypatch.setattr(trainer, "_next_batch", batch_then_signal)
    with pytest.raises(TrainingInterrupted) as info:
        trainer.run()
    assert info.value.exit_code == code and info.value.step == 18
    assert signal.getsignal(signum) is handler_before  # restored
    assert load_checkpoint(tmp_path / "stopped" / "ckpt.pt")["iter_num"] == 18
    assert runs.status(tmp_path / "stopped").state == "interrupted"
    resumed = train(_tiny(tmp_path / "stopped", resume=True))
    _same_params(_params(straight.model), _params(resumed.model))
    assert _strip(read_log(straight.log_path)) == _strip(read_log(resumed.log_path))


def test_signal_during_checkpoint_write_finishes_the_write(tmp_path):
    trainer = Trainer(_tiny(tmp_path, ckpt_interval=10, save_best=False))
    trainer.write_hook = lambda path: os.kill(os.getpid(), signal.SIGINT)
    with pytest.raises(TrainingInterrupted) as info:
        trainer.run()
    assert info.value.step == 10  # the step-10 write completed, then the run stopped
    assert load_checkpoint(tmp_path / "ckpt.pt")["iter_num"] == 10
    assert not [n for n in os.listdir(tmp_path) if ".tmp" in n]


def test_second_interrupt_during_write_keeps_the_old_checkpoint(tmp_path):
    trainer = Trainer(_tiny(tmp_path, ckpt_interval=10, save_best=False))
    writes = []

    def hook(path):
        writes.append(path)
        if len(writes) == 2:  # the step-20 write is cut (as by a second Ctrl-C)
            raise KeyboardInterrupt

    trainer.write_hook = hook
    with pytest.raises(TrainingInterrupted) as info:
        trainer.run()
    assert info.value.step == 10 and info.value.checkpoint == tmp_path / "ckpt.pt"
    assert load_checkpoint(tmp_path / "ckpt.pt")["iter_num"] == 10  # still valid
    assert not [n for n in os.listdir(tmp_path) if ".tmp" in n]
    assert runs.lock_holder(tmp_path) is None


# ---------------------------------------------------------------------------- exact log
def test_stop_off_the_log_grid_then_resume_logs_as_a_straight_run(tmp_path):
    straight = train(_tiny(tmp_path / "a"))
    first = train(_tiny(tmp_path / "b", steps=23))
    lines = read_log(first.log_path)
    assert [r["step"] for r in lines if r.get("final")] == [23, 23]  # off-grid end lines
    resumed = train(_tiny(tmp_path / "b", resume=True))
    _same_params(_params(straight.model), _params(resumed.model))
    assert _strip(read_log(straight.log_path)) == _strip(read_log(resumed.log_path))


# ---------------------------------------------------------------------------- divergence
def test_infinite_lr_stops_with_a_finite_checkpoint(tmp_path):
    with pytest.raises(TrainingDiverged, match=re.escape("diverged at step 1: learning rate inf")):
        train(_tiny(tmp_path, lr=float("inf")))
    log = _strict_json_lines(tmp_path / "metrics.jsonl")
    assert log[-1]["kind"] == "diverged" and log[-1]["lr"] is None
    assert log[-1]["nonfinite"] == ["lr"]
    ckpt = load_checkpoint(tmp_path / "ckpt.pt")
    assert ckpt["iter_num"] == 0
    assert all(bool(torch.isfinite(v).all()) for v in ckpt["model"].values())
    assert runs.status(tmp_path).state == "diverged"


def test_loss_bound(tmp_path):
    with pytest.raises(TrainingDiverged, match=re.escape("> max_loss 0.5; the last finite")):
        train(_tiny(tmp_path, max_loss=0.5))


def test_huge_lr_stops_at_a_nan_loss_and_the_checkpoint_is_consistent(tmp_path):
    cfg = _tiny(tmp_path, lr=1e6, steps=200)
    with pytest.raises(TrainingDiverged, match=re.escape("loss nan")) as info:
        train(cfg)
    step = info.value.step
    log = _strict_json_lines(tmp_path / "metrics.jsonl")
    assert log[-1] == {**log[-1], "kind": "diverged", "step": step}
    ckpt = load_checkpoint(tmp_path / "ckpt.pt")
    assert ckpt["iter_num"] == step - 1
    assert all(bool(torch.isfinite(v).all()) for v in ckpt["model"].values())
    # the saved state is exactly the one before the refused update: resuming diverges again there
    with pytest.raises(TrainingDiverged) as again:
        train(_tiny(tmp_path, lr=1e6, steps=200, resume=True))
    assert again.value.step == step and str(again.value) == str(info.value)


# ---------------------------------------------------------------------------- size
def test_default_config_checkpoint_is_small(tmp_path):
    # default model and batches (LM-RNN 256 units, 20-cog, 64 x 350); 1 step, tiny eval set
    train(TrainConfig(steps=1, eval_trials=1, out_dir=str(tmp_path), progress=False))
    size = (tmp_path / "ckpt.pt").stat().st_size
    assert size < 2_000_000, size
