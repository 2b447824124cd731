"""Yang et al. (2019)'s training recipe: the squared-error loss with the cost mask, and the preset.

The loss is the one of gyyang/multitask ``network.py`` for ``loss_type='lsq'``: the mean over
steps and output channels of ``((y - y_hat) * c_mask) ** 2``, where ``y_hat`` is the sigmoid of
the readout and ``y``, ``c_mask`` are the arrays a ``convention="yang2019"`` TrialBatch carries
(``Batches(..., targets="regression")`` yields them). Note that the mask multiplies the error
*before* squaring, so a step weighted 5 counts 25 times.

:data:`PRESET` lists the hyperparameters of Yang's ``train.get_default_hp`` and ``network.py``
(every value read from that code), for the trainer's ``--preset yang2019``.

:class:`RulePerBatch` is Yang's rule sampling: every trial of a batch has the same rule, drawn
uniformly (or with weights) per batch. In the trainer it is ``schedule="rule-per-batch"`` with
``batch_mode="trial"`` (:data:`RULE_PER_BATCH`).
"""

from __future__ import annotations

from collections.abc import Sequence
from types import MappingProxyType

import numpy as np

from modcog_env import rng
from modcog_env.scheduler import Schedule

RULE_PER_BATCH = "rule-per-batch"  # TrainConfig.schedule value that selects RulePerBatch


class RulePerBatch(Schedule):
    """Trial ``k`` of *every* stream has the same task, drawn from ``seed`` and ``k`` only.

    In trial mode batch ``k`` is trial ``k`` of each row's stream, so every batch holds one task
    (Yang et al. 2019: one rule per batch), drawn independently per batch, uniformly over the
    ``n`` tasks or with ``weights`` (normalized; e.g. Yang's ``train_all`` weights ctxdm1 and
    ctxdm2 by 5). The per-stream seeds are ignored; ``seed`` (an int, the run's seed) replaces
    them. In stream mode windows cut across trials, so one task per window does not hold there.
    """

    name = RULE_PER_BATCH

    def __init__(self, n: int, seed: int = 0, weights: Sequence[float] | None = None) -> None:
        super().__init__(n)
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"seed={seed!r} must be an int >= 0")
        self.seed = int(seed)
        w = np.ones(self.n) if weights is None else np.asarray(weights, dtype=np.float64)
        if w.shape != (self.n,) or not np.all(np.isfinite(w)) or (w < 0).any() or w.sum() <= 0:
            raise ValueError(f"weights={weights!r} must be {self.n} finite numbers >= 0, sum > 0")
        self._cdf = np.cumsum(w / w.sum())

    def _assign(self, seeds, start, count, prev) -> np.ndarray:
        rows = np.repeat(np.arange(count.size), count)
        pos = start[rows] + np.arange(int(count.sum())) - np.repeat(np.cumsum(count) - count, count)
        u = rng.uniform(self.seed, "schedule/rule-per-batch", pos)[:, 0]
        return np.minimum(np.searchsorted(self._cdf, u, side="right"), self.n - 1).astype(np.int64)

    def __repr__(self) -> str:
        return f"RulePerBatch(n={self.n}, seed={self.seed})"

PRESET = MappingProxyType(
    {
        "convention": "yang2019",  # tasks, 85 inputs, 33 outputs, dt 20 ms
        "dt": 20.0,  # ms
        "tau": 100.0,  # ms; alpha = dt / tau = 0.2
        "hidden_size": 256,  # n_rnn
        "activation": "relu",
        "rnn": "leaky",  # h <- (1 - alpha) h + alpha relu(W_in x + W_rec h + b + noise)
        "sigma_rec": 0.05,  # recurrent noise std sqrt(2 / alpha) * 0.05, added before relu
        "w_rec_init": "randortho",  # 0.5 * random orthogonal (relu); W_in ~ N(0, 1/n_input)
        "bias_init": 0.0,
        "output_activation": "sigmoid",  # y_hat = sigmoid(W_out h + b_out)
        "loss": "masked_squared_error",  # see masked_squared_error
        "optimizer": "adam",
        "learning_rate": 1e-3,
        "grad_clip_value": 1.0,  # element-wise clip_by_value(grad, -1, 1)
        "batch_size": 64,  # batch_size_train
        "rule_sampling": "one rule per batch, uniform over the 20 rules",
        # experiment.py's train_all (the paper's 20-task networks) weights these two by 5
        "rule_weights_train_all": MappingProxyType({"ctxdm1": 5.0, "ctxdm2": 5.0}),
        "sigma_x": 0.01,  # input noise std sqrt(2 / alpha) * 0.01 (already in the batches)
        "eval_batch_size": 512,  # batch_size_test (per rule)
        "perf": "agents.evaluation.yang_perf",
    }
)


def masked_squared_error(outputs, y, c_mask, valid=None):
    """Yang's lsq loss: mean of ``((y - outputs) * c_mask) ** 2`` (torch tensors).

    ``outputs``, ``y``, ``c_mask``: float [B, T, K] (or [T, B, K]; the layout only has to agree),
    ``outputs`` after the sigmoid. ``valid`` (optional bool [B, T] in the same layout): the mean
    runs over the valid steps only (times K), so padding of a trial-aligned batch does not dilute
    the loss; without it the mean runs over every element, as in Yang's code, whose batches have
    no padding. ``c_mask`` is 0 on padding either way. Returns a scalar tensor.
    """
    if outputs.shape != y.shape or y.shape != c_mask.shape:
        raise ValueError(
            "outputs, y and c_mask must have one shape [B, T, K], got "
            f"{tuple(outputs.shape)}, {tuple(y.shape)}, {tuple(c_mask.shape)}"
        )
    err = ((y - outputs) * c_mask) ** 2
    if valid is None:
        return err.mean()
    if tuple(valid.shape) != tuple(y.shape[:2]):
        raise ValueError(f"valid must be [B, T] = {tuple(y.shape[:2])}, got {tuple(valid.shape)}")
    n = valid.sum() * y.shape[-1]
    return (err * valid[..., None]).sum() / n.clamp(min=1)
