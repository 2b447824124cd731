"""Training losses over per-step logits of the 1 + dim_ring actions (action 0 = fixate).

Every loss takes ``logits`` [..., A], ``labels`` int64 [...], ``weights`` float32 [...] (the
batch's loss weights, 0 on padding) and ``decision`` bool [...] (the decision period), and
returns a scalar tensor. Selected by ``TrainConfig.loss`` through :data:`LOSSES`.

``"lsq"`` (Yang et al. 2019) is a regression loss instead: :func:`sigmoid_squared_error` takes
the readout ``logits`` [..., K], Yang's target ``y`` and cost mask ``c_mask`` [..., K] and the
bool ``valid`` steps [...]. The sigmoid is part of the loss, not of the model (as the softmax of
the cross-entropy): the model's outputs stay logits, and Yang's outputs are ``sigmoid(logits)``
(:func:`agents.evaluation.evaluate` with ``yang=True`` applies it too).
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

from .train_config import LOSSES
from .yang2019 import masked_squared_error


def weighted_cross_entropy(
    logits: torch.Tensor,
    labels: torch.Tensor,
    weights: torch.Tensor,
    label_smoothing: float = 0.0,
) -> torch.Tensor:
    """sum(w * CE) / sum(w) over every step of logits [..., A], labels [...], weights [...].

    ``label_smoothing`` as in ``torch.nn.functional.cross_entropy`` (target = (1 - s) one-hot +
    s / A).
    """
    ce = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1),
                         reduction="none", label_smoothing=label_smoothing)
    w = weights.reshape(-1).to(ce.dtype)
    return (ce * w).sum() / w.sum().clamp(min=1e-12)


def fixation_mse_plus_ce(
    logits: torch.Tensor,
    labels: torch.Tensor,
    weights: torch.Tensor,
    decision: torch.Tensor,
    label_smoothing: float = 0.1,
) -> torch.Tensor:
    """The exponentiated-gradients Mod-Cog recipe's loss ("eg"): fixation MSE + smoothed CE.

    Outside the decision period (steps with weight > 0 and ``decision`` False) the *fixation
    output* is ``p0 = softmax(logits)[..., 0]``, the probability of action 0, and its target is
    ``1.0`` where the label is 0 (fixate), else ``0.0`` (outside the decision period our labels
    are always 0, so the target is 1); the term is the weighted mean of ``(p0 - target)**2``.
    Inside the decision period it is the weighted mean cross-entropy with ``label_smoothing``.
    The loss is the sum of the two means (a term whose steps have zero total weight is 0).
    """
    w = weights.reshape(-1).to(logits.dtype)
    dec = decision.reshape(-1).to(torch.bool)
    flat = logits.reshape(-1, logits.shape[-1])
    y = labels.reshape(-1)
    w_fix = torch.where(dec, torch.zeros_like(w), w)
    w_dec = torch.where(dec, w, torch.zeros_like(w))
    p0 = torch.softmax(flat, dim=-1)[:, 0]
    target = (y == 0).to(p0.dtype)
    mse = ((p0 - target) ** 2 * w_fix).sum() / w_fix.sum().clamp(min=1e-12)
    ce = F.cross_entropy(flat, y, reduction="none", label_smoothing=label_smoothing)
    return mse + (ce * w_dec).sum() / w_dec.sum().clamp(min=1e-12)


def sigmoid_squared_error(
    logits: torch.Tensor, y: torch.Tensor, c_mask: torch.Tensor, valid: torch.Tensor | None = None
) -> torch.Tensor:
    """Yang's lsq loss on ``sigmoid(logits)``: :func:`agents.yang2019.masked_squared_error`.

    ``logits``, ``y``, ``c_mask`` float [T, B, K] (or [B, T, K]); ``valid`` bool [T, B] (same
    layout) or None (every step real, as in a stream window): the mean runs over valid steps.
    """
    return masked_squared_error(torch.sigmoid(logits), y, c_mask, valid)


def loss_fn(name: str, logits, labels, weights, decision, label_smoothing: float):
    """Dispatch by ``TrainConfig.loss``: "ce" (:func:`weighted_cross_entropy`), "eg"
    (:func:`fixation_mse_plus_ce`) or "lsq" (:func:`sigmoid_squared_error`; then ``labels`` is
    the target ``y``, ``weights`` the cost mask ``c_mask`` and ``decision`` the bool ``valid``
    steps or None, and ``label_smoothing`` is not used)."""
    if name == "lsq":
        return sigmoid_squared_error(logits, labels, weights, decision)
    if name == "ce":
        return weighted_cross_entropy(logits, labels, weights, label_smoothing)
    if name == "eg":
        return fixation_mse_plus_ce(logits, labels, weights, decision, label_smoothing)
    raise ValueError(f"loss={name!r} is not one of {LOSSES}")


