"""PyTorch agents for modcog-env: masked rate RNNs, a trainer with exact resume, evaluation.

``agents`` uses only the public API of :mod:`modcog_env` (``Batches``, ``TaskStreams``,
``TrialBatch``, ``stream_seed``); ``modcog_env`` never imports ``agents``. Names are loaded on
first use, so ``agents.masks`` (numpy only) works without torch; everything else needs torch.

Example (docs/agents.md)::

    from agents import TrainConfig, train, evaluate
    result = train(TrainConfig(tasks=["go", "rtgo"], model="dense", hidden_size=64, steps=300))
    print(evaluate(result.model, ["go", "rtgo"]))
"""

from __future__ import annotations

from modcog_env.lazy import lazy_exports

_EXPORTS = {
    "masks": (
        "autapse_mask", "dense_mask", "density", "make_mask", "random_mask", "random_mask_like",
        "ring_density", "ring_k_for_density", "ring_mask", "sheet_density", "sheet_mask",
        "sheet_radius_for_density",
    ),
    "rnn": ("MaskedRNN", "RNNConfig"),
    "models": (
        "CONFIGS", "MODEL_NAMES", "LMRNN", "AutapsePool", "AutapsePoolConfig", "DenseRNN",
        "DenseRNNConfig", "LMRNNConfig", "ModelConfig", "RandomSparseConfig", "RandomSparseRNN",
        "build_model", "config_from_dict", "model_config",
    ),
    "training": (
        "TrainConfig", "TrainResult", "Trainer", "TrainingDiverged", "TrainingInterrupted",
        "get_lr", "read_log", "steps_to_criterion", "train",
    ),
    "losses": ("fixation_mse_plus_ce", "weighted_cross_entropy"),
    "runs": ("RunBusy", "RunFolderError", "RunStatus", "lock_holder", "status"),
    "presets": ("PRESETS",),
    "checkpoints": ("CheckpointError", "load_checkpoint", "load_model", "save_checkpoint"),
    "evaluation": (
        "HELD_OUT_STREAM", "METRICS", "EvalTable", "HeldOutSet", "evaluate", "held_out_set",
        "score", "summarize", "trial_scores",
    ),
}
_WHERE = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = sorted(_WHERE)


__getattr__, __dir__ = lazy_exports(__name__, _WHERE, globals())
