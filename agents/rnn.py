"""MaskedRNN: a leaky rate RNN whose recurrent weights live under a fixed connectivity mask.

Dynamics (rate formulation, one step per ``dt``), for input ``x_t`` and rates ``h_t``::

    h_t = (1 - alpha) * h_{t-1} + alpha * f(W_in x_t + b + R(h_{t-1}) + noise_t)
    logits_t = W_out h_t + b_out,          alpha = dt / tau

``R(h) = (W_rec * mask) @ h`` for a matrix recurrence (``mask[i, j]``: unit ``j`` projects to
unit ``i``, see :mod:`agents.masks`); for the autapse pool ``R(h) = w_self * h`` with ``w_self``
an ``[N]`` vector, so no unit can reach another. ``noise_t ~ N(0, 2 / alpha * noise_std**2)``
(Yang et al. 2019's discretized recurrent noise) is added only in training mode.

The mask is a registered buffer (it follows ``.to()`` and is saved in ``state_dict``) and is
applied once per forward pass, outside the time loop. Masked-out entries are zero at init and get
exactly zero gradient (the product with a 0 mask, or the sparse kernel's gather of the nonzeros),
so plain SGD/Adam keep them at zero.

How the recurrence is executed is ``RNNConfig.kernel`` (:mod:`agents.kernels`: ``"auto"``,
``"dense"``, ``"sparse"``, or ``"reference"``, the per-step autograd loop). The kernel is an
execution choice, not part of the model: every kernel computes the same function, the
``state_dict`` holds the same tensors whichever kernel ran, and ``RNNConfig.to_dict`` leaves the
field out (a dict without it loads with ``"auto"``). Switch it on a built model with
``model.kernel = "sparse"``.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, fields

import numpy as np
import torch
from torch import nn

from . import kernels, masks

ACTIVATIONS = {
    "relu": torch.relu,
    "tanh": torch.tanh,
    "softplus": nn.functional.softplus,
    "sigmoid": torch.sigmoid,
}
REC_INITS = ("normal", "orthogonal")


@dataclass
class RNNConfig:
    """Everything that fixes a MaskedRNN. JSON round-trip: ``to_dict``/``from_dict``/``to_json``."""

    input_size: int = 53  # observation channels (20-cog with rule inputs at dim_ring 16)
    hidden_size: int = 256  # N recurrent units (a perfect square for a sheet mask)
    output_size: int = 17  # actions: fixate + one per ring direction
    mask: str = "dense"  # "dense" | "ring" | "sheet" | "random" | "autapse" (agents.masks)
    radius: float | None = None  # ring: integer k; sheet: Euclidean radius in grid units
    density: float | None = None  # ring/sheet/random: target density instead of a radius
    periodic: bool = True  # sheet: wrap around the edges (torus)
    self_connections: bool = True  # ring/sheet/random: keep the diagonal
    mask_seed: int = 0  # seed of the random mask draw
    dt: float = 100.0  # ms per step; must match the tasks
    tau: float = 100.0  # ms membrane time constant; alpha = dt / tau must lie in (0, 1]
    activation: str = "relu"  # one of ACTIVATIONS
    noise_std: float = 0.0  # recurrent noise std (training mode only); 0 disables
    rec_gain: float = 1.0  # init std of W_rec[i, j] is rec_gain / sqrt(fan_in[i])
    rec_init: str = "normal"  # "normal" (see rec_gain) | "orthogonal": rec_gain * orthogonal
    bias: bool = True  # hidden and readout biases
    # execution only, not identity (left out of to_dict): "auto" | "dense" | "sparse" |
    # "reference" (agents.kernels)
    kernel: str = "auto"

    def __post_init__(self) -> None:
        for name in ("input_size", "hidden_size", "output_size"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name}={v!r} must be an int >= 1")
        if self.mask not in masks.KINDS:
            raise ValueError(f"mask={self.mask!r} is not one of {masks.KINDS}")
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"activation={self.activation!r} is not one of {tuple(ACTIVATIONS)}")
        if not (self.dt > 0 and self.tau > 0 and self.dt <= self.tau):
            raise ValueError(
                f"dt={self.dt!r}, tau={self.tau!r}: need 0 < dt <= tau (alpha = dt / tau <= 1)"
            )
        if not self.noise_std >= 0:
            raise ValueError(f"noise_std={self.noise_std!r} must be >= 0")
        if self.rec_init not in REC_INITS:
            raise ValueError(f"rec_init={self.rec_init!r} is not one of {REC_INITS}")
        if self.rec_init == "orthogonal" and self.mask != "dense":
            raise ValueError(f"rec_init='orthogonal' needs mask='dense', not {self.mask!r} "
                             "(a masked orthogonal matrix is no longer orthogonal)")
        kernels.check_kernel(self.kernel)

    @property
    def alpha(self) -> float:
        return self.dt / self.tau

    def build_mask(self) -> np.ndarray:
        """The bool [N, N] mask this config describes (see :func:`agents.masks.make_mask`)."""
        return masks.make_mask(
            self.mask,
            self.hidden_size,
            radius=self.radius,
            density=self.density,
            periodic=self.periodic,
            self_connections=self.self_connections,
            seed=self.mask_seed,
        )

    def to_dict(self) -> dict:
        """The fields that fix the model (all but ``kernel``, an execution choice)."""
        d = asdict(self)
        del d["kernel"]
        return d

    @classmethod
    def from_dict(cls, d: dict) -> RNNConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown RNNConfig keys {unknown}; known: {sorted(known)}")
        return cls(**d)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> RNNConfig:
        return cls.from_dict(json.loads(text))


class MaskedRNN(nn.Module):
    """Leaky rate RNN with masked (or elementwise, for autapses) recurrence; see module docstring.

    ``forward(x, h0=None, *, batch_first=False, return_hidden=False)`` takes ``x`` float
    ``[T, B, D]`` (``[B, T, D]`` with ``batch_first``) and returns logits ``[T, B, A]`` (same
    layout as ``x``), or ``(logits, hidden)`` with hidden rates ``[T, B, N]`` on request.
    """

    def __init__(self, config: RNNConfig) -> None:
        super().__init__()
        self.config = config
        n, d, a = config.hidden_size, config.input_size, config.output_size
        self.alpha = config.alpha
        self.act = ACTIVATIONS[config.activation]
        self._pattern: tuple[tuple, kernels.SparsityPattern] | None = None  # sparse-kernel cache
        self.autapse = config.mask == "autapse"
        self.weight_ih = nn.Parameter(torch.empty(n, d))
        self.weight_hh = nn.Parameter(torch.empty(n) if self.autapse else torch.empty(n, n))
        self.weight_ho = nn.Parameter(torch.empty(a, n))
        self.bias_h = nn.Parameter(torch.zeros(n)) if config.bias else None
        self.bias_o = nn.Parameter(torch.zeros(a)) if config.bias else None
        if self.autapse or config.mask == "dense":
            self.register_buffer("mask", None)  # nothing to mask
        else:
            self.register_buffer("mask", torch.from_numpy(config.build_mask()))
        self._init_weights()

    def fan_in(self) -> torch.Tensor:
        """float [N]: recurrent inputs of each unit under the mask (1 per unit for autapses)."""
        n = self.config.hidden_size
        if self.autapse:
            return torch.ones(n)
        if self.mask is None:
            return torch.full((n,), float(n))
        return self.mask.sum(dim=1).float()

    @torch.no_grad()
    def _init_weights(self) -> None:
        """Gaussian init scaled to fan-in (draws from torch's global generator).

        ``W_rec[i, j] ~ N(0, rec_gain**2 / fan_in[i])`` where ``mask[i, j]``, exactly 0 elsewhere;
        ``fan_in[i] = sum_j mask[i, j]`` (N when dense, 1 for an autapse: ``w_self[i] ~ N(0,
        rec_gain**2)``); a unit without inputs uses fan_in 1. With ``rec_init="orthogonal"``
        (dense only) ``W_rec = rec_gain * Q``, Q a random orthogonal [N, N] matrix (QR of a
        Gaussian matrix with the signs of R's diagonal folded in, so Q is Haar-distributed):
        Yang et al. (2019)'s ``randortho`` init with gain 0.5 for ReLU. ``W_in ~ N(0, 1 / D)``
        (also Yang's), ``W_out ~ N(0, 1 / N)``, biases 0.
        """
        cfg = self.config
        std = cfg.rec_gain / self.fan_in().clamp(min=1.0).sqrt()
        if cfg.rec_init == "orthogonal":
            q, r = torch.linalg.qr(torch.randn(cfg.hidden_size, cfg.hidden_size))
            self.weight_hh.copy_(q * torch.sign(torch.diagonal(r))[None, :] * cfg.rec_gain)
        elif self.autapse:
            self.weight_hh.normal_().mul_(std)
        else:
            self.weight_hh.normal_().mul_(std[:, None])
            if self.mask is not None:
                self.weight_hh.mul_(self.mask)
        self.weight_ih.normal_(0.0, 1.0 / math.sqrt(cfg.input_size))
        self.weight_ho.normal_(0.0, 1.0 / math.sqrt(cfg.hidden_size))
        for b in (self.bias_h, self.bias_o):
            if b is not None:
                b.zero_()

    def recurrent_weight(self) -> torch.Tensor:
        """Effective recurrent weights: ``W_rec * mask`` [N, N], or the autapse vector [N]."""
        if self.mask is None:
            return self.weight_hh
        return self.weight_hh * self.mask

    def _noise_scale(self) -> float:
        return self.config.noise_std * math.sqrt(2.0 / self.alpha)

    def _forward_unit_major(self, x, h0, batch_first, return_hidden):
        """Forward with the sparse kernel in the unit-major layout [T, N, B] throughout: input
        projection and readout are per-step products into [T, ., B] buffers
        (:func:`agents.kernels.unit_major_linear`), so no element-wise [T, B, N] or [N, T*B]
        transposes of hidden-sized tensors are made.

        The noise is drawn as [T, B, N] (the same numbers as the other kernels) and transposed.
        """
        batch, n = x.shape[1], self.config.hidden_size
        drive = kernels.unit_major_linear(x.transpose(1, 2), self.weight_ih, self.bias_h)
        if self.training and self.config.noise_std > 0:
            noise = torch.randn(x.shape[0], batch, n, dtype=drive.dtype, device=drive.device)
            drive = drive.add_(noise.transpose(1, 2), alpha=self._noise_scale())
        h = x.new_zeros(n, batch) if h0 is None else h0.T
        states = kernels.sparse_recurrence(
            drive, h, self.weight_hh, self.sparsity_pattern(), self.alpha,
            self.config.activation,
        )  # [T, N, B]
        logits = kernels.unit_major_linear(states, self.weight_ho, self.bias_o)  # [T, A, B]
        logits = logits.permute(2, 0, 1) if batch_first else logits.transpose(1, 2)
        logits = logits.contiguous()
        if not return_hidden:
            return logits
        if batch_first:
            return logits, states.permute(2, 0, 1).contiguous()
        return logits, states.transpose(1, 2).contiguous()

    @property
    def kernel(self) -> str:
        """The recurrence kernel (``config.kernel``); assign to switch, e.g. after loading."""
        return self.config.kernel

    @kernel.setter
    def kernel(self, value: str) -> None:
        kernels.check_kernel(value)
        self.config.kernel = value

    def resolved_kernel(self, device: torch.device | str | None = None) -> str:
        """The kernel a forward pass on ``device`` (default: the weights') runs; resolves auto.

        The autapse pool reports ``"dense"`` for every kernel but ``"reference"`` (its
        whole-sequence diagonal kernel).
        """
        kernel = self.config.kernel
        if kernel == "reference":
            return kernel
        if self.autapse:
            return "dense"
        if kernel == "auto":
            device = self.weight_hh.device if device is None else device
            density = 1.0 if self.mask is None else self.sparsity_pattern().density
            return kernels.choose_kernel(self.config.hidden_size, density, device)
        return kernel

    def sparsity_pattern(self) -> kernels.SparsityPattern:
        """CSR structure of the mask (all N*N entries when dense), cached per mask version."""
        mask = self.mask
        if mask is None:
            n = self.config.hidden_size
            key: tuple = (None, str(self.weight_hh.device))
        else:
            key = (mask.data_ptr(), mask._version, str(mask.device))
        if self._pattern is None or self._pattern[0] != key:
            if mask is None:
                mask = torch.ones(n, n, dtype=torch.bool, device=self.weight_hh.device)
            self._pattern = (key, kernels.SparsityPattern(mask))
        return self._pattern[1]

    def num_parameters(self, effective: bool = True) -> int:
        """Trainable parameter count; ``effective`` counts only unmasked recurrent entries."""
        total = sum(p.numel() for p in self.parameters())
        if effective and self.mask is not None:
            total -= self.weight_hh.numel() - int(self.mask.sum())
        return total

    def forward(
        self,
        x: torch.Tensor,
        h0: torch.Tensor | None = None,
        *,
        batch_first: bool = False,
        return_hidden: bool = False,
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        if x.dim() != 3 or x.shape[-1] != self.config.input_size:
            raise ValueError(
                f"x must be [T, B, {self.config.input_size}] (or [B, T, ...] with batch_first), "
                f"got shape {tuple(x.shape)}"
            )
        if batch_first:
            x = x.transpose(0, 1)
        batch, n = x.shape[1], self.config.hidden_size
        kernel = self.resolved_kernel(x.device)
        if kernel == "sparse":
            return self._forward_unit_major(x, h0, batch_first, return_hidden)
        drive = x @ self.weight_ih.T  # [T, B, N] input drive of every step at once
        if self.bias_h is not None:
            drive = drive + self.bias_h
        if self.training and self.config.noise_std > 0:
            drive = drive + torch.randn_like(drive) * self._noise_scale()
        h = x.new_zeros(batch, n) if h0 is None else h0
        states = kernels.recurrence(
            drive, h, self.weight_hh, self.alpha, self.config.activation, kernel, mask=self.mask
        )
        logits = states @ self.weight_ho.T
        if self.bias_o is not None:
            logits = logits + self.bias_o
        if batch_first:
            logits, states = logits.transpose(0, 1), states.transpose(0, 1)
        return (logits, states) if return_hidden else logits
