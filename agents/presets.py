"""Named TrainConfig overrides: ``modcog train --preset NAME`` (command-line flags override it).

A preset is a plain dict of TrainConfig fields; adding one is adding one entry to
:data:`PRESETS`. Each entry says where its values come from.
"""

from __future__ import annotations

PRESETS: dict[str, dict[str, object]] = {
    # The exponentiated-gradients recipe on Mod-Cog as issue 11 states it: the 82 tasks of
    # mod-cog-82, a 2500-unit ReLU RNN, input noise 0.1, fixation MSE + cross-entropy with label
    # smoothing 0.1 (loss "eg"), batches of 512 windows of 350 steps. The dense model and the
    # learning rate are our choices (the recipe's optimizer is exponentiated gradients, which
    # this trainer does not have: it uses Adam). Its scale needs a GPU; docs/agents.md gives the
    # reduced scale used on a CPU (flags override the preset).
    "eg-modcog": {
        "tasks": "mod-cog-82",
        "model": "dense",
        "hidden_size": 2500,
        "activation": "relu",
        "input_noise": 0.1,
        "loss": "eg",
        "label_smoothing": 0.1,
        "batch_size": 512,
        "seq_len": 350,
        "lr": 1e-3,
    },
    # Yang et al. (2019)'s recipe (gyyang/multitask train.get_default_hp and network.py; the
    # values are agents.yang2019.PRESET): their 20 tasks as their code makes them (convention
    # yang2019: 85 inputs, 33 outputs, 32 ring units, dt 20 ms), a dense leaky RNN of 256 ReLU
    # units with tau 100 ms, recurrent noise 0.05 (scaled by sqrt(2 / alpha) in agents.rnn, as
    # Yang's), W_rec = 0.5 x random orthogonal, W_in ~ N(0, 1/85), sigmoid outputs with the
    # squared error weighted by the cost mask (loss "lsq"), Adam at 1e-3 with element-wise
    # gradient clipping to [-1, 1] (no norm clipping), batches of 64 whole trials of one rule
    # each, the rule drawn uniformly over the 20 per batch. Evaluation: Yang's performance.
    "yang2019": {
        "tasks": "20-cog",
        "convention": "yang2019",
        "dt": 20.0,
        "dim_ring": 32,
        "model": "dense",
        "hidden_size": 256,
        "activation": "relu",
        "tau": 100.0,
        "noise_std": 0.05,
        "rec_init": "orthogonal",
        "rec_gain": 0.5,
        "loss": "lsq",
        "lr": 1e-3,
        "lr_schedule": "constant",
        "weight_decay": 0.0,
        "grad_clip": 0.0,
        "grad_clip_value": 1.0,
        "batch_size": 64,
        "batch_mode": "trial",
        "schedule": "rule-per-batch",
        "criterion_metric": "yang_perf",
        "criterion": 0.95,
    },
}


def preset(name: str) -> dict[str, object]:
    """A copy of the named preset; ValueError listing the presets if unknown."""
    if name not in PRESETS:
        raise ValueError(f"preset={name!r} is not one of {tuple(PRESETS)}")
    return dict(PRESETS[name])
