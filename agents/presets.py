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
}


def preset(name: str) -> dict[str, object]:
    """A copy of the named preset; ValueError listing the presets if unknown."""
    if name not in PRESETS:
        raise ValueError(f"preset={name!r} is not one of {tuple(PRESETS)}")
    return dict(PRESETS[name])
