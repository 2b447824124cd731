"""The one-step map F(h, x) of a MaskedRNN, written from its public parameters.

For a model with input weights ``W_in`` [N, D], hidden bias ``b`` [N], effective recurrent
weights ``W`` (``model.recurrent_weight()``: the masked [N, N] matrix, or the autapse [N]
vector), leak ``alpha = dt / tau`` and activation ``f``::

    F(h, x) = (1 - alpha) * h + alpha * f(W_in x + b + R(h)),   R(h) = W @ h  or  w * h

Noise is left out (it enters only in training mode). The analysis never calls
``MaskedRNN.forward``'s internals: :class:`StepMap` holds copies of the parameters, in the dtype
and on the device asked for (float64 for Newton polishing), and works on batches of states
``h`` [K, N] under one constant drive ``u = W_in x + b`` ([N] or [K, N]).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.nn import functional as F_nn

ACTIVATIONS = ("relu", "tanh", "softplus", "sigmoid", "linear")


def activation(name: str, z: torch.Tensor) -> torch.Tensor:
    """``f(z)`` for an activation name of :data:`ACTIVATIONS`."""
    if name == "relu":
        return torch.relu(z)
    if name == "tanh":
        return torch.tanh(z)
    if name == "softplus":
        return F_nn.softplus(z)
    if name == "sigmoid":
        return torch.sigmoid(z)
    if name == "linear":
        return z
    raise ValueError(f"activation={name!r} is not one of {ACTIVATIONS}")


def activation_slope(name: str, z: torch.Tensor) -> torch.Tensor:
    """``f'(z)`` (ReLU: 1 where z > 0, else 0)."""
    if name == "relu":
        return (z > 0).to(z.dtype)
    if name == "tanh":
        return 1.0 - torch.tanh(z) ** 2
    if name == "softplus":
        return torch.sigmoid(z)
    if name == "sigmoid":
        s = torch.sigmoid(z)
        return s * (1.0 - s)
    if name == "linear":
        return torch.ones_like(z)
    raise ValueError(f"activation={name!r} is not one of {ACTIVATIONS}")


@dataclass
class StepMap:
    """F(h, x) of a leaky rate RNN; ``w_rec`` is [N, N] (matrix) or [N] (autapse pool).

    ``w_in`` [N, D], ``bias`` [N], ``alpha`` in (0, 1], ``act`` one of :data:`ACTIVATIONS`,
    ``dt`` in ms (used to turn steps into seconds).
    """

    w_in: torch.Tensor
    bias: torch.Tensor
    w_rec: torch.Tensor
    alpha: float
    act: str
    dt: float = 100.0

    def __post_init__(self) -> None:
        n = self.bias.shape[0]
        if self.w_rec.shape not in ((n,), (n, n)):
            raise ValueError(f"w_rec has shape {tuple(self.w_rec.shape)}; need ({n},) or "
                             f"({n}, {n})")
        if self.w_in.shape[0] != n:
            raise ValueError(f"w_in has shape {tuple(self.w_in.shape)}; need ({n}, D)")
        if not 0 < self.alpha <= 1:
            raise ValueError(f"alpha={self.alpha!r} must lie in (0, 1]")
        if self.act not in ACTIVATIONS:
            raise ValueError(f"act={self.act!r} is not one of {ACTIVATIONS}")

    @classmethod
    def from_model(cls, model: torch.nn.Module, dtype: torch.dtype = torch.float64,
                   device: str | torch.device | None = None) -> StepMap:
        """The step map of a :class:`agents.rnn.MaskedRNN` (parameters copied, detached)."""
        cfg = model.config
        device = next(model.parameters()).device if device is None else torch.device(device)

        def take(t: torch.Tensor) -> torch.Tensor:
            return t.detach().to(device=device, dtype=dtype).clone()

        n = cfg.hidden_size
        bias = take(model.bias_h) if model.bias_h is not None else torch.zeros(
            n, dtype=dtype, device=device)
        return cls(w_in=take(model.weight_ih), bias=bias, w_rec=take(model.recurrent_weight()),
                   alpha=float(cfg.alpha), act=cfg.activation, dt=float(cfg.dt))

    # ------------------------------------------------------------------ basic quantities
    @property
    def n(self) -> int:
        return int(self.bias.shape[0])

    @property
    def autapse(self) -> bool:
        return self.w_rec.dim() == 1

    @property
    def dtype(self) -> torch.dtype:
        return self.bias.dtype

    @property
    def device(self) -> torch.device:
        return self.bias.device

    def to(self, dtype: torch.dtype | None = None, device: str | torch.device | None = None
           ) -> StepMap:
        """A copy in another dtype and/or on another device."""
        kw = dict(dtype=dtype or self.dtype, device=device or self.device)
        return StepMap(self.w_in.to(**kw), self.bias.to(**kw), self.w_rec.to(**kw),
                       self.alpha, self.act, self.dt)

    def drive(self, x: torch.Tensor) -> torch.Tensor:
        """Constant drive ``u = W_in x + b`` of inputs ``x`` [..., D] -> [..., N]."""
        x = torch.as_tensor(x, dtype=self.dtype, device=self.device)
        return x @ self.w_in.T + self.bias

    def recurrence(self, h: torch.Tensor) -> torch.Tensor:
        """``R(h)`` for states [..., N]."""
        return h * self.w_rec if self.autapse else h @ self.w_rec.T

    def preactivation(self, h: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        return u + self.recurrence(h)

    def __call__(self, h: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        """``F(h)`` under drive ``u`` ([N] or broadcastable to h's [..., N])."""
        r = activation(self.act, self.preactivation(h, u))
        return (1.0 - self.alpha) * h + self.alpha * r

    def velocity(self, h: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        """``F(h) - h`` per step."""
        return self(h, u) - h

    def jacobian_analytic(self, h: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        """dF/dh [K, N, N] in closed form (for checks; :mod:`fixed_points` uses torch.func)."""
        slope = activation_slope(self.act, self.preactivation(h, u))  # [K, N]
        eye = torch.eye(self.n, dtype=h.dtype, device=h.device)
        w = torch.diag(self.w_rec) if self.autapse else self.w_rec
        return (1.0 - self.alpha) * eye + self.alpha * slope[..., :, None] * w

    def rollout(self, x: torch.Tensor, h0: torch.Tensor | None = None) -> torch.Tensor:
        """States [B, T, N] after each step of inputs ``x`` [B, T, D] (start: h0, or 0)."""
        x = torch.as_tensor(x, dtype=self.dtype, device=self.device)
        u = self.drive(x)
        h = torch.zeros(x.shape[0], self.n, dtype=self.dtype, device=self.device) if h0 is None \
            else torch.as_tensor(h0, dtype=self.dtype, device=self.device)
        out = []
        for ut in u.unbind(1):
            h = self(h, ut)
            out.append(h)
        return torch.stack(out, 1) if out else u.new_zeros(x.shape[0], 0, self.n)

    def run_constant(self, h0: torch.Tensor, u: torch.Tensor, n_steps: int) -> torch.Tensor:
        """States [K, n_steps, N] under a constant drive ``u`` from ``h0`` [K, N]."""
        h = torch.as_tensor(h0, dtype=self.dtype, device=self.device)
        out = []
        for _ in range(int(n_steps)):
            h = self(h, u)
            out.append(h)
        return torch.stack(out, 1) if out else h.new_zeros(h.shape[0], 0, self.n)
