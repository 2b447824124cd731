"""Yang et al. (2019)'s training recipe in the trainer: loss "lsq", orthogonal init, element-wise
gradient clipping, one rule per batch, Yang's performance during training, --preset yang2019."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from agents.cli import build_parser, train_settings  # noqa: E402
from agents.losses import loss_fn, sigmoid_squared_error  # noqa: E402
from agents.presets import PRESETS, preset  # noqa: E402
from agents.rnn import MaskedRNN, RNNConfig  # noqa: E402
from agents.training import TrainConfig, Trainer, load_checkpoint, read_log, train  # noqa: E402
from agents.yang2019 import PRESET, RulePerBatch  # noqa: E402
from modcog_env import Batches  # noqa: E402

torch.set_num_threads(1)


def _yang(out_dir, **kw):
    """A small run of the yang2019 preset: 3 tasks, 32 units, batches of 8 trials."""
    base = {**preset("yang2019"), "tasks": ["go", "rtgo", "dm1"], "hidden_size": 32,
            "batch_size": 8, "steps": 12, "eval_interval": 6, "eval_trials": 8,
            "log_interval": 3, "ckpt_interval": 0, "out_dir": str(out_dir), "progress": False,
            "num_threads": 1}
    base.update(kw)
    return TrainConfig(**base)


# ------------------------------------------------------------------------------------ model options
def test_orthogonal_init_is_gain_times_orthogonal_and_default_unchanged():
    cfg = RNNConfig(input_size=5, hidden_size=40, output_size=3, rec_init="orthogonal",
                    rec_gain=0.5)
    torch.manual_seed(1)
    w = MaskedRNN(cfg).weight_hh.detach().double()
    assert torch.allclose(w.T @ w, 0.25 * torch.eye(40, dtype=torch.float64), atol=1e-5)
    torch.manual_seed(2)
    assert not torch.allclose(MaskedRNN(cfg).weight_hh, w.float())  # a random matrix
    # the default draws exactly what it drew before: N(0, gain^2 / N) then W_in, W_out
    normal = RNNConfig(input_size=5, hidden_size=40, output_size=3)
    assert normal.rec_init == "normal"
    torch.manual_seed(3)
    model = MaskedRNN(normal)
    torch.manual_seed(3)
    std = 1.0 / torch.full((40,), 40.0).sqrt()
    expected_hh = torch.empty(40, 40).normal_().mul_(std[:, None])
    expected_ih = torch.empty(40, 5).normal_(0.0, 1 / math.sqrt(5))
    assert torch.equal(model.weight_hh, expected_hh)
    assert torch.equal(model.weight_ih, expected_ih)
    assert "rec_init" in normal.to_dict()
    with pytest.raises(ValueError, match="rec_init"):
        RNNConfig(rec_init="eye")
    with pytest.raises(ValueError, match="mask='dense'"):
        RNNConfig(hidden_size=16, mask="ring", radius=2, rec_init="orthogonal")


def test_sigmoid_squared_error_by_hand():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 4, 3, generator=g)
    y = torch.rand(2, 4, 3, generator=g)
    c = torch.rand(2, 4, 3, generator=g) * 5
    err = ((y - torch.sigmoid(logits)) * c) ** 2  # the mask multiplies before squaring
    assert torch.allclose(sigmoid_squared_error(logits, y, c), err.mean())
    valid = torch.tensor([[True, True, True, False], [True, True, False, False]])
    c_pad = c * valid[..., None]
    by_hand = (((y - torch.sigmoid(logits)) * c_pad) ** 2).sum() / (5 * 3)
    assert torch.allclose(sigmoid_squared_error(logits, y, c_pad, valid), by_hand)
    assert torch.equal(loss_fn("lsq", logits, y, c_pad, valid, 0.3),
                       sigmoid_squared_error(logits, y, c_pad, valid))


def test_rule_per_batch_gives_one_task_per_trial_batch():
    sched = RulePerBatch(20, seed=4)
    batches = Batches(["go", "rtgo", "dm1", "dms"], batch_size=16, mode="trial", seed=0,
                      convention="yang2019", schedule=RulePerBatch(4, seed=4),
                      targets="regression")
    seen = []
    for _ in range(40):
        trials, _ = batches.next_trials()
        assert np.unique(trials.task).size == 1
        seen.append(int(trials.task[0]))
    assert set(seen) == {0, 1, 2, 3}
    # uniform over the tasks, the same for every stream seed, and set by the seed alone
    tasks = sched.assign(np.arange(3, dtype=np.uint64), 0, 4000)
    rows = tasks.reshape(3, 4000)
    assert (rows == rows[0]).all()
    counts = np.bincount(rows[0], minlength=20)
    assert counts.min() > 200 - 4 * math.sqrt(200) and counts.max() < 200 + 4 * math.sqrt(200)
    assert not np.array_equal(RulePerBatch(20, seed=5).assign(0, 0, 50), rows[0][:50])
    weighted = RulePerBatch(2, seed=0, weights=[1, 4]).assign(0, 0, 5000)
    assert abs(weighted.mean() - 0.8) < 0.03
    with pytest.raises(ValueError, match="weights"):
        RulePerBatch(3, weights=[1, 1])


def test_config_validation_of_the_recipe():
    with pytest.raises(ValueError, match="loss='lsq' needs convention='yang2019'"):
        TrainConfig(loss="lsq")
    with pytest.raises(ValueError, match="criterion_metric='yang_perf' needs loss='lsq'"):
        TrainConfig(convention="yang2019", criterion_metric="yang_perf")
    with pytest.raises(ValueError, match="needs batch_mode='trial'"):
        TrainConfig(schedule="rule-per-batch")
    with pytest.raises(ValueError, match="needs model='dense'"):
        TrainConfig(rec_init="orthogonal")
    with pytest.raises(ValueError, match="grad_clip_value"):
        TrainConfig(grad_clip_value=-1.0)


# ------------------------------------------------------------------------------------ trainer
def test_lsq_run_logs_yang_perf_per_task_and_batches_have_one_rule(tmp_path):
    trainer = Trainer(_yang(tmp_path))
    for _ in range(5):
        x, y, c_mask, valid = trainer._next_batch()
        assert y.shape == c_mask.shape == x.shape[:2] + (33,) and x.shape[2] == 85
        assert valid.dtype == torch.bool and not c_mask[~valid].any()
    trainer.lock.release()
    result = train(_yang(tmp_path, overwrite=True))
    evals = [line for line in read_log(result.log_path) if line["kind"] == "eval"]
    assert [e["step"] for e in evals] == [0, 6, 12]
    for e in evals:
        assert set(e["tasks"]) == {"go", "rtgo", "dm1"}
        values = [row["yang_perf"] for row in e["tasks"].values()]
        assert all(0 <= v <= 1 for v in values)
        assert e["mean"]["yang_perf"] == pytest.approx(np.mean(values))
    assert result.final.mean["yang_perf"] == evals[-1]["mean"]["yang_perf"]
    assert result.best_metric == max(e["mean"]["yang_perf"] for e in evals)


def test_lsq_resume_is_bit_identical(tmp_path):
    straight = train(_yang(tmp_path / "a"))
    train(_yang(tmp_path / "b", steps=5))
    resumed = train(_yang(tmp_path / "b", resume=True))
    a, b = straight.model.state_dict(), resumed.model.state_dict()
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k

    def strip(lines):
        return [{k: v for k, v in line.items() if k != "ms_per_step"} for line in lines]

    assert strip(read_log(straight.log_path)) == strip(read_log(resumed.log_path))
    ca, cb = load_checkpoint(straight.checkpoint_path), load_checkpoint(resumed.checkpoint_path)
    assert ca["model_config"]["rec_init"] == "orthogonal"
    assert torch.equal(ca["torch_rng_state"], cb["torch_rng_state"])


def test_grad_clip_value_clips_every_element(tmp_path):
    # One Adam step moves a parameter by lr * g / (|g| + eps) (bias-corrected first step): ~lr
    # for gradients >> eps = 1e-8; clipped to 1e-8 the move is lr / 2.
    kw = dict(steps=1, grad_clip=0.0, eval_interval=0, lr=1e-3, save_best=False)
    start = train(_yang(tmp_path / "0", **{**kw, "steps": 0})).model.weight_ho.detach().clone()
    free = train(_yang(tmp_path / "a", **kw, grad_clip_value=0.0)).model.weight_ho.detach()
    clipped = train(_yang(tmp_path / "b", **kw, grad_clip_value=1e-8)).model.weight_ho.detach()
    moved_free, moved_clipped = (free - start).abs(), (clipped - start).abs()
    big = moved_free > 0.9e-3  # elements whose gradient was >> eps
    assert big.float().mean() > 0.5
    assert torch.allclose(moved_clipped[big], torch.full_like(moved_clipped[big], 0.5e-3),
                          rtol=1e-2)


# ------------------------------------------------------------------------------------ preset
def test_preset_yang2019_is_yangs_recipe(tmp_path):
    p = PRESETS["yang2019"]
    cfg = TrainConfig(**p)
    assert (cfg.convention, cfg.dt, cfg.tau, cfg.hidden_size, cfg.activation, cfg.noise_std,
            cfg.lr, cfg.batch_size, cfg.grad_clip_value) == (
        PRESET["convention"], PRESET["dt"], PRESET["tau"], PRESET["hidden_size"],
        PRESET["activation"], PRESET["sigma_rec"], PRESET["learning_rate"],
        PRESET["batch_size"], PRESET["grad_clip_value"])
    assert (cfg.model, cfg.rec_init, cfg.rec_gain, cfg.loss, cfg.grad_clip) == (
        "dense", "orthogonal", 0.5, "lsq", 0.0)
    assert (cfg.batch_mode, cfg.schedule, cfg.criterion_metric, cfg.dim_ring) == (
        "trial", "rule-per-batch", "yang_perf", 32)
    trainer = Trainer(TrainConfig(**{**p, "out_dir": str(tmp_path), "progress": False,
                                     "eval_trials": 1, "steps": 0}))
    try:
        streams = trainer.batches.streams
        assert streams.n == 20 and streams.ob_size == 85 and streams.n_actions == 33
        assert trainer.model.config.alpha == pytest.approx(0.2)
        assert isinstance(streams.schedule, RulePerBatch)
    finally:
        trainer.lock.release()
    settings = train_settings(build_parser().parse_args(
        ["train", "--preset", "yang2019", "--steps", "7"]))
    assert settings == {**p, "steps": 7, "out_dir": None, "progress": True}


def test_preset_trains_three_tasks_clearly_above_chance(tmp_path):
    # Chance for Yang's measure: every trial of go, rtgo and dm1 needs a response (fixating
    # scores 0), a hit is within 0.2 pi of the target angle, and the target angle is uniform on
    # the circle, so any output that ignores the stimuli scores 0.4 pi / 2 pi = 0.2 (on dm1 a
    # network that answers one of the two stimuli at random would score 0.5). The preset reduced
    # to 64 units (everything else Yang's), 150 steps of 64 trials, one task per batch. Measured
    # on a loaded 2-core AMD EPYC (seed 0): go 1.00, rtgo 1.00, dm1 0.35, mean 0.78, in 19-29 s.
    t0 = time.perf_counter()
    result = train(TrainConfig(**{
        **preset("yang2019"), "tasks": ["go", "rtgo", "dm1"], "hidden_size": 64,
        "steps": 150, "eval_interval": 0, "eval_trials": 100, "log_interval": 50,
        "ckpt_interval": 0, "save_best": False, "out_dir": str(tmp_path), "progress": False,
        "num_threads": 1}))
    elapsed = time.perf_counter() - t0
    evals = [line for line in read_log(result.log_path) if line["kind"] == "eval"]
    assert evals[0]["mean"]["yang_perf"] < 0.25  # untrained
    table, chance = result.final.per_task, 0.2
    assert table["go"]["yang_perf"] > 0.6 and table["rtgo"]["yang_perf"] > 0.6, str(result.final)
    assert table["dm1"]["yang_perf"] > chance, str(result.final)
    assert result.final.mean["yang_perf"] > 0.5, str(result.final)
    assert elapsed < 60
