"""Trainer: learning, bit-identical resume, checkpoint integrity, metrics log, loss and LR."""

from __future__ import annotations

import json
import math
import os
import re
import time

import pytest

torch = pytest.importorskip("torch")

from agents.training import (  # noqa: E402
    CheckpointError,
    TrainConfig,
    get_lr,
    load_checkpoint,
    load_model,
    read_log,
    save_checkpoint,
    steps_to_criterion,
    train,
    weighted_cross_entropy,
)

torch.set_num_threads(1)


def _tiny(out_dir, **kw):
    """Tiny run: LM-RNN on a ring of 32 units, batch 8, windows of 50 steps."""
    base = dict(
        tasks=["go", "rtgo"], model="lm-rnn", geometry="ring", radius=2, hidden_size=32,
        batch_size=8, seq_len=50, steps=40, lr=3e-3, lr_schedule="cosine", warmup_steps=5,
        lr_decay_steps=40, noise_std=0.1, grad_clip=1.0, eval_interval=10, eval_trials=8,
        log_interval=5, ckpt_interval=0, out_dir=str(out_dir), progress=False, num_threads=1,
    )
    base.update(kw)
    return TrainConfig(**base)


def test_learns_two_tasks(tmp_path):
    # go + rtgo, LM-RNN (8 x 8 torus, radius 3), 200 steps of 16 x 50-step windows. Chance on
    # decision steps is 1/16. Measured (seeds 0-2, dense and LM): mean decision accuracy
    # 0.93-0.99, every task >= 0.87, after 200 steps; the thresholds leave a wide margin.
    t0 = time.perf_counter()
    cfg = TrainConfig(tasks=["go", "rtgo"], model="lm-rnn", hidden_size=64, batch_size=16,
                      seq_len=50, steps=200, lr=3e-3, eval_interval=100, eval_trials=100,
                      log_interval=50, ckpt_interval=0, out_dir=str(tmp_path), progress=False)
    result = train(cfg)
    elapsed = time.perf_counter() - t0
    table = result.final
    assert table.mean["decision_accuracy"] > 0.75, str(table)
    for name in ("go", "rtgo"):
        assert table.per_task[name]["decision_accuracy"] > 0.6, str(table)
    log = read_log(result.log_path)
    evals = [line for line in log if line["kind"] == "eval"]
    assert [e["step"] for e in evals] == [0, 100, 200]
    assert evals[0]["mean"]["decision_accuracy"] < 0.2  # untrained: near chance
    losses = [line["loss"] for line in log if line["kind"] == "train"]
    assert [line["step"] for line in log if line["kind"] == "train"] == [50, 100, 150, 200]
    assert losses[-1] < 0.5 * losses[0]
    # steps-to-criterion from the log agrees with the trainer's own count
    assert steps_to_criterion(result.log_path, cfg.criterion) == result.steps_to_criterion
    assert steps_to_criterion(log, 0.0) == 0
    assert elapsed < 60  # typically ~10 s on 2 cores


def _params(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _strip_timing(lines):
    return [{k: v for k, v in line.items() if k != "ms_per_step"} for line in lines]


@pytest.mark.parametrize("batch_mode", ["stream", "trial"])
def test_resume_is_bit_identical(tmp_path, batch_mode):
    straight = train(_tiny(tmp_path / "a", batch_mode=batch_mode))
    first = train(_tiny(tmp_path / "b", batch_mode=batch_mode, steps=20))
    assert first.steps == 20
    resumed = train(_tiny(tmp_path / "b", batch_mode=batch_mode, resume=True))
    assert resumed.steps == 40
    a, b = _params(straight.model), _params(resumed.model)
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    # the metrics logs match line for line (timings aside), without duplicated lines
    assert _strip_timing(read_log(straight.log_path)) == _strip_timing(read_log(resumed.log_path))
    ca, cb = load_checkpoint(straight.checkpoint_path), load_checkpoint(resumed.checkpoint_path)
    assert ca["iter_num"] == cb["iter_num"] == 40
    assert torch.equal(ca["torch_rng_state"], cb["torch_rng_state"])
    for sa, sb in zip(ca["optimizer"]["state"].values(), cb["optimizer"]["state"].values(),
                      strict=True):
        assert all(torch.equal(sa[k], sb[k]) for k in sa)


def test_resume_drops_log_lines_after_the_checkpoint(tmp_path):
    cfg = _tiny(tmp_path, steps=20)
    train(cfg)
    with open(tmp_path / "metrics.jsonl", "a") as f:  # a crash after the checkpoint
        f.write(json.dumps({"kind": "train", "step": 25, "loss": 1.0}) + "\n")
        f.write('{"kind": "tra')
    result = train(_tiny(tmp_path, steps=30, resume=True))
    steps = [line["step"] for line in read_log(result.log_path) if line["kind"] == "train"]
    assert steps == [5, 10, 15, 20, 25, 30]


def test_checkpoint_contents(tmp_path):
    result = train(_tiny(tmp_path, steps=10, eval_interval=5))
    ckpt = load_checkpoint(result.checkpoint_path)
    assert ckpt["iter_num"] == 10
    assert ckpt["train_config"] == _tiny(tmp_path, steps=10, eval_interval=5).to_dict()
    assert ckpt["model_config"]["model"] == "lm-rnn"
    assert ckpt["rnn_config"]["mask"] == "ring" and ckpt["rnn_config"]["input_size"] == 35
    assert set(ckpt["model"]) >= {"weight_hh", "mask"}
    assert ckpt["optimizer"]["state"]
    assert ckpt["data"]["seed"] == 0 and ckpt["data"]["batches_made"] == 10
    assert len(ckpt["numpy_rng_state"]["state"]["key"]) == 624
    assert math.isfinite(ckpt["best_metric"])
    assert (tmp_path / "best.pt").exists()
    assert sorted(os.listdir(tmp_path)) == ["best.pt", "ckpt.pt", "config.toml", "metrics.jsonl",
                                            "run.json", "run.lock"]  # no temp files
    model = load_model(result.checkpoint_path)
    for k, v in result.model.state_dict().items():
        assert torch.equal(model.state_dict()[k], v)


def test_truncated_or_corrupted_checkpoint_is_an_error(tmp_path):
    train(_tiny(tmp_path, steps=5))
    path = tmp_path / "ckpt.pt"
    data = path.read_bytes()
    # a flipped byte in the middle (inside the tensor data: torch alone would not notice)
    corrupt = bytearray(data)
    corrupt[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(corrupt))
    with pytest.raises(CheckpointError, match=re.escape(str(path))):
        load_checkpoint(path)
    with pytest.raises(CheckpointError, match=re.escape(f"checkpoint {str(path)!r}")):
        train(_tiny(tmp_path, steps=10, resume=True))  # never a silent restart
    path.write_bytes(data[: len(data) // 3])
    with pytest.raises(CheckpointError, match=re.escape("cannot be read (truncated or corrupted")):
        load_checkpoint(path)
    path.write_bytes(b"")
    with pytest.raises(CheckpointError, match=re.escape(str(path))):
        train(_tiny(tmp_path, steps=10, resume=True))
    path.unlink()
    with pytest.raises(CheckpointError, match=re.escape(f"checkpoint {str(path)!r}: no such file")):
        train(_tiny(tmp_path, steps=10, resume=True))


def test_save_checkpoint_round_trip_and_format(tmp_path):
    path = tmp_path / "x.pt"
    save_checkpoint({"hello": torch.arange(3)}, path)
    with pytest.raises(CheckpointError, match=re.escape("lacks keys ['model'")):
        load_checkpoint(path)
    torch.save({"model": {}}, path)  # a plain torch file is not a checkpoint of ours
    with pytest.raises(CheckpointError, match=re.escape("not a modcog-agents-checkpoint file")):
        load_checkpoint(path)
    assert os.listdir(tmp_path) == ["x.pt"]


def test_resume_refuses_changed_trajectory_settings(tmp_path):
    train(_tiny(tmp_path, steps=5))
    with pytest.raises(ValueError, match=re.escape("'lr': (0.003, 0.01)")):
        train(_tiny(tmp_path, steps=10, lr=1e-2, resume=True))


def test_grad_clip_zero_disables_clipping(tmp_path):
    result = train(_tiny(tmp_path, steps=5, grad_clip=0.0, eval_interval=0))
    train_lines = [line for line in read_log(result.log_path) if line["kind"] == "train"]
    clipped = train(_tiny(tmp_path / "clipped", steps=5, grad_clip=1e-3, eval_interval=0))
    # the norm is logged either way (before clipping); only clipping changes the trajectory
    assert train_lines[-1]["grad_norm"] > 1e-3
    assert not torch.equal(result.model.weight_hh, clipped.model.weight_hh)
    assert [line["step"] for line in read_log(result.log_path) if line["kind"] == "eval"] == [0, 5]


def test_weighted_cross_entropy_by_hand():
    logits = torch.tensor([[[2.0, 0.0], [0.0, 1.0]], [[1.0, 1.0], [3.0, 0.0]]])  # [T=2, B=2, 2]
    labels = torch.tensor([[0, 1], [1, 1]])
    weights = torch.tensor([[1.0, 0.0], [2.0, 1.0]])

    def ce(z, y):
        return math.log(sum(math.exp(v) for v in z)) - z[y]

    expect = (ce([2, 0], 0) * 1 + ce([1, 1], 1) * 2 + ce([3, 0], 1) * 1) / 4
    assert float(weighted_cross_entropy(logits, labels, weights)) == pytest.approx(expect)
    assert float(weighted_cross_entropy(logits, labels, torch.zeros(2, 2))) == 0.0


def test_lr_schedule():
    cfg = TrainConfig(lr=1e-3, min_lr=1e-4, lr_schedule="cosine", warmup_steps=10,
                      lr_decay_steps=110, steps=200)
    assert get_lr(0, cfg) == pytest.approx(1e-3 / 11)
    assert get_lr(10, cfg) == pytest.approx(1e-3)
    assert get_lr(60, cfg) == pytest.approx(0.5 * (1e-3 + 1e-4))
    assert get_lr(110, cfg) == get_lr(150, cfg) == 1e-4
    const = TrainConfig(lr=2e-3)
    assert {get_lr(s, const) for s in (0, 5, 10_000)} == {2e-3}


def test_steps_to_criterion_reads_eval_lines():
    log = [
        {"kind": "eval", "step": 0, "mean": {"decision_accuracy": 0.1},
         "tasks": {"go": {"decision_accuracy": 0.1}}},
        {"kind": "train", "step": 50, "loss": 1.0},
        {"kind": "eval", "step": 100, "mean": {"decision_accuracy": 0.6},
         "tasks": {"go": {"decision_accuracy": 0.95}}},
        {"kind": "eval", "step": 200, "mean": {"decision_accuracy": 0.92},
         "tasks": {"go": {"decision_accuracy": 0.97}}},
    ]
    assert steps_to_criterion(log, 0.9) == 200
    assert steps_to_criterion(log, 0.9, task="go") == 100
    assert steps_to_criterion(log, 0.99) is None


def test_train_config_round_trip_and_validation():
    cfg = TrainConfig(tasks=("go", "dm1"), model="autapse", steps=7)
    assert cfg.tasks == ["go", "dm1"]
    assert TrainConfig.from_json(cfg.to_json()) == cfg
    with pytest.raises(ValueError, match=re.escape("unknown TrainConfig keys ['step']")):
        TrainConfig.from_dict({"step": 3})
    with pytest.raises(ValueError, match=re.escape("model='gru' is not one of")):
        TrainConfig(model="gru")
    with pytest.raises(ValueError, match=re.escape("batch_size=0 must be an int >= 1")):
        TrainConfig(batch_size=0)
    mc = TrainConfig(model="random-sparse", hidden_size=64, radius=2.0).model_config(35, 17)
    assert mc.name == "random-sparse" and mc.matched_density() == 13 / 64


def test_eg_loss_by_hand():
    from agents.losses import fixation_mse_plus_ce

    logits = torch.tensor([[[2.0, 0.0, 1.0], [0.0, 1.0, 0.0]], [[1.0, 1.0, 1.0], [3.0, 0.0, 0.0]]])
    labels = torch.tensor([[0, 0], [2, 1]])
    weights = torch.tensor([[1.0, 2.0], [1.0, 0.0]])  # the last step is padding
    decision = torch.tensor([[False, False], [True, True]])

    def softmax(z):
        e = [math.exp(v) for v in z]
        return [v / sum(e) for v in e]

    def smoothed_ce(z, y, s):
        logp = [math.log(p) for p in softmax(z)]
        return -((1 - s) * logp[y] + s * sum(logp) / len(z))

    # fixation: p0 against 1 on the two pre-decision steps (weights 1, 2)
    mse = ((softmax([2, 0, 1])[0] - 1) ** 2 * 1 + (softmax([0, 1, 0])[0] - 1) ** 2 * 2) / 3
    expect = mse + smoothed_ce([1, 1, 1], 2, 0.1)
    got = float(fixation_mse_plus_ce(logits, labels, weights, decision, 0.1))
    assert got == pytest.approx(expect, rel=1e-6)
    # label smoothing 0 reduces the decision term to the plain weighted cross-entropy
    ce = float(weighted_cross_entropy(logits[1:], labels[1:], weights[1:]))
    got0 = float(fixation_mse_plus_ce(logits, labels, weights, decision, 0.0))
    assert got0 == pytest.approx(mse + ce, rel=1e-6)


def test_eg_loss_and_input_noise_train_and_resume_exactly(tmp_path):
    kw = dict(loss="eg", label_smoothing=0.1, input_noise=0.1)
    straight = train(_tiny(tmp_path / "a", steps=20, **kw))
    train(_tiny(tmp_path / "b", steps=12, **kw))
    resumed = train(_tiny(tmp_path / "b", steps=20, resume=True, **kw))
    a, b = _params(straight.model), _params(resumed.model)
    assert all(torch.equal(a[k], b[k]) for k in a)
    plain = train(_tiny(tmp_path / "c", steps=20))
    assert not torch.equal(plain.model.weight_hh, straight.model.weight_hh)


def test_trains_in_a_thread_without_signal_handlers(tmp_path):
    import signal
    import threading

    handler = signal.getsignal(signal.SIGINT)
    done = {}
    thread = threading.Thread(target=lambda: done.update(r=train(_tiny(tmp_path, steps=3))))
    thread.start()
    thread.join()
    assert done["r"].steps == 3 and signal.getsignal(signal.SIGINT) is handler
