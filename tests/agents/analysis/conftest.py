"""Tiny trained checkpoints shared by the analysis tests (trained once per session, seconds)."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")


def _train(root, name: str, model: str, activation: str = "relu"):
    from agents import TrainConfig, train

    out = root / name
    torch.set_num_threads(1)
    train(TrainConfig(tasks=["dlygo", "dm1"], model=model, hidden_size=16, activation=activation,
                      steps=30, batch_size=16, seq_len=60, eval_interval=0, eval_trials=20,
                      ckpt_interval=0, progress=False, out_dir=str(out), seed=0))
    return out / "ckpt.pt"


@pytest.fixture(scope="session")
def dense_ckpt(tmp_path_factory):
    return _train(tmp_path_factory.mktemp("ckpts"), "dense", "dense")


@pytest.fixture(scope="session")
def autapse_ckpt(tmp_path_factory):
    return _train(tmp_path_factory.mktemp("ckpts"), "autapse", "autapse")
