"""Fixed points of a MaskedRNN under a constant input: batched Adam, then Newton in float64.

For a step map ``F`` (:class:`~agents.analysis.stepmap.StepMap`) and a constant input ``x``
(drive ``u = W_in x + b``), the speed of a state is ``q(h) = 0.5 * ||F(h) - h||^2``. From K
initial states at once (one tensor [K, N]):

1. **Adam** on ``sum_k q(h_k)`` (float32 by default; each state's gradient is its own, so the
   K searches do not interact), with the learning rate decayed geometrically to 1 % of its start.
2. **Newton polish** in float64: steps ``dh = -A^-1 r`` with ``r = F(h) - h`` and
   ``A = dF/dh - I`` from ``torch.func.vmap(torch.func.jacrev(F))``, with a backtracking line
   search (a step that does not lower q is not taken); where ``A`` is singular (continuous
   attractors, marginal units) a Levenberg-Marquardt step ``-(A^T A + lam I)^-1 A^T r`` instead.
   Converged states and states stuck at a slow point leave the iteration.
3. **Classification**: ``q < fixed_tol`` is a fixed point, ``fixed_tol <= q < slow_tol`` a slow
   point (reported separately), larger q is dropped. Each set is deduplicated greedily in order
   of q (a point within ``dedup_tol``, Euclidean, of a kept one is dropped).
4. **Linearisation** of every kept point: the eigenvalues of ``dF/dh`` (a discrete-time map:
   stable means ``|lambda| < 1``). ``n_unstable`` counts ``|lambda| > 1 + marginal_tol``,
   ``n_marginal`` counts ``| |lambda| - 1 | <= marginal_tol``. Label: ``"stable"`` (neither),
   ``"marginal"`` (marginal modes, no unstable one), ``"saddle-k"`` (k unstable modes, some
   stable or marginal), ``"source"`` (every mode unstable). The time constant of a mode is
   ``-dt / ln|lambda|`` ms.

Everything runs on the device of ``device`` (CPU or CUDA); the result is deterministic for a
given seed, initial states and device.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from .stepmap import StepMap


@dataclass
class FixedPointConfig:
    """Knobs of :func:`find_fixed_points`, with their defaults."""

    adam_steps: int = 300  # Adam iterations on q (0: skip to Newton)
    adam_lr: float = 1e-2  # initial Adam learning rate (state units per step)
    adam_lr_final: float = 1e-4  # learning rate reached at the last Adam step (geometric decay)
    adam_dtype: str = "float32"  # "float32" | "float64"
    newton_steps: int = 30  # Levenberg-Marquardt iterations in float64 (0: skip)
    newton_q_max: float = 1.0  # only states with q below this after Adam are polished
    lm_lambda: float = 1e-10  # damping of the fallback step, relative to mean diag(A^T A)
    fixed_tol: float = 1e-10  # q below this: fixed point
    slow_tol: float = 1e-4  # q below this (and not fixed): slow point
    dedup_tol: float = 1e-3  # Euclidean distance under which two points are one
    marginal_tol: float = 1e-2  # | |lambda| - 1 | <= this: marginal mode
    chunk: int = 256  # states per Jacobian batch (memory: chunk * N * N float64)

    def __post_init__(self) -> None:
        for name in ("adam_steps", "newton_steps"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise ValueError(f"{name}={v!r} must be an int >= 0")
        if isinstance(self.chunk, bool) or not isinstance(self.chunk, int) or self.chunk < 1:
            raise ValueError(f"chunk={self.chunk!r} must be an int >= 1")
        for name in ("adam_lr", "adam_lr_final", "lm_lambda", "fixed_tol", "slow_tol",
                     "dedup_tol", "marginal_tol", "newton_q_max"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and v > 0):
                raise ValueError(f"{name}={v!r} must be a number > 0")
        if self.adam_dtype not in ("float32", "float64"):
            raise ValueError(f"adam_dtype={self.adam_dtype!r} is not 'float32' or 'float64'")
        if self.slow_tol <= self.fixed_tol:
            raise ValueError(f"slow_tol={self.slow_tol!r} must exceed fixed_tol="
                             f"{self.fixed_tol!r}")


@dataclass
class FixedPoints:
    """Result of :func:`find_fixed_points` (numpy, float64).

    ``points`` [P, N] and ``q`` [P]; ``eigenvalues`` complex128 [P, N] sorted by decreasing
    modulus; ``n_unstable``/``n_marginal`` int [P]; ``labels`` [P]; ``slow_points`` [S, N],
    ``slow_q`` [S]; ``drive`` [N] the constant drive; ``q_adam`` / ``q_final`` [K] of every
    initial state (before dedup), ``dt`` ms.
    """

    points: np.ndarray
    q: np.ndarray
    eigenvalues: np.ndarray
    n_unstable: np.ndarray
    n_marginal: np.ndarray
    labels: list[str]
    slow_points: np.ndarray
    slow_q: np.ndarray
    drive: np.ndarray
    q_adam: np.ndarray
    q_final: np.ndarray
    dt: float
    config: FixedPointConfig = field(default_factory=FixedPointConfig)

    @property
    def n_fixed(self) -> int:
        return int(self.points.shape[0])

    def time_constants(self) -> np.ndarray:
        """float [P, N] ms: ``-dt / ln|lambda|`` of each mode (inf where |lambda| = 1)."""
        return time_constant_ms(np.abs(self.eigenvalues), self.dt)

    def counts(self) -> dict[str, int]:
        """How many fixed points carry each label."""
        out: dict[str, int] = {}
        for lab in self.labels:
            out[lab] = out.get(lab, 0) + 1
        return out


# ------------------------------------------------------------------------------ initial states
def initial_states(states: np.ndarray, k: int, *, noise: float = 0.1, seed: int = 0
                   ) -> np.ndarray:
    """k rows of ``states`` [M, N] (without replacement when M >= k) plus Gaussian noise.

    The noise std is ``noise`` times the mean per-unit std of ``states``. Deterministic in seed.
    """
    states = np.asarray(states, dtype=np.float64)
    if states.ndim != 2 or states.shape[0] == 0:
        raise ValueError(f"states must be a non-empty [M, N] array, got {states.shape}")
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k={k!r} must be an int >= 1")
    rng = np.random.default_rng(seed)
    m = states.shape[0]
    rows = rng.choice(m, size=k, replace=k > m)
    scale = float(states.std(0).mean()) or 1.0
    return states[rows] + noise * scale * rng.standard_normal((k, states.shape[1]))


# ------------------------------------------------------------------------------ stages
def _adam(step: StepMap, u: torch.Tensor, h0: torch.Tensor, cfg: FixedPointConfig
          ) -> torch.Tensor:
    h = h0.clone().requires_grad_(True)
    if cfg.adam_steps == 0:
        return h.detach()
    opt = torch.optim.Adam([h], lr=cfg.adam_lr)
    gamma = (cfg.adam_lr_final / cfg.adam_lr) ** (1.0 / max(cfg.adam_steps - 1, 1))
    sched = torch.optim.lr_scheduler.ExponentialLR(opt, gamma)
    for _ in range(cfg.adam_steps):
        opt.zero_grad(set_to_none=True)
        loss = 0.5 * (step(h, u) - h).pow(2).sum()
        loss.backward()
        opt.step()
        sched.step()
    return h.detach()


def speed(step: StepMap, u: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """q(h) = 0.5 * ||F(h) - h||^2 per state, [K]."""
    return 0.5 * (step(h, u) - h).pow(2).sum(-1)


def jacobians(step: StepMap, u: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """dF/dh [K, N, N] at states ``h`` [K, N] (``torch.func.vmap`` of ``jacrev``)."""
    from torch.func import jacrev, vmap

    u = u.expand_as(h)
    return vmap(jacrev(lambda hh, uu: step(hh, uu)))(h, u)


def _newton(step: StepMap, u: torch.Tensor, h: torch.Tensor, cfg: FixedPointConfig
            ) -> torch.Tensor:
    """Damped Newton polish of states [K, N] (float64); only unconverged states are iterated.

    Step ``dh = -A^-1 r`` (``A = dF/dh - I``), or the Levenberg-Marquardt step
    ``-(A^T A + lam I)^-1 A^T r`` where ``A`` is singular; a backtracking line search over step
    sizes 1, 1/2, ..., 1/16 takes the best one if it lowers q. A state whose q did not drop in
    two iterations in a row (a slow point, not a fixed point) stops being iterated.
    """
    h = h.clone()
    n = h.shape[1]
    eye = torch.eye(n, dtype=h.dtype, device=h.device)
    sizes = torch.tensor([1.0, 0.5, 0.25, 0.125, 0.0625], dtype=h.dtype, device=h.device)
    q = speed(step, u, h)
    fails = torch.zeros_like(q, dtype=torch.long)
    done_q = cfg.fixed_tol * 1e-6
    for _ in range(cfg.newton_steps):
        active = torch.nonzero((q > done_q) & (fails < 2))[:, 0]
        if active.numel() == 0:
            break
        for idx in active.split(cfg.chunk):
            hc = h[idx]
            r = step(hc, u) - hc
            a = jacobians(step, u, hc) - eye
            dh, info = torch.linalg.solve_ex(a, -r[..., None])
            dh = dh[..., 0]
            bad = (info != 0) | ~torch.isfinite(dh).all(-1)
            if bool(bad.any()):
                ab = a[bad]
                ata = ab.transpose(1, 2) @ ab
                lam = cfg.lm_lambda * ata.diagonal(dim1=1, dim2=2).mean(-1).clamp(min=1e-30)
                g = (ab.transpose(1, 2) @ r[bad][..., None])
                dh[bad] = -torch.linalg.solve(ata + lam[:, None, None] * eye, g)[..., 0]
            trial = hc[None] + sizes[:, None, None] * dh[None]  # [S, k, N]
            qt = speed(step, u, trial)  # [S, k]
            qt = torch.where(torch.isfinite(qt), qt, torch.full_like(qt, float("inf")))
            best_q, best = qt.min(0)
            ok = best_q < q[idx]
            pick = trial[best, torch.arange(len(idx), device=h.device)]
            h[idx] = torch.where(ok[:, None], pick, hc)
            q[idx] = torch.where(ok, best_q, q[idx])
            fails[idx] = torch.where(ok, torch.zeros_like(fails[idx]), fails[idx] + 1)
    return h


def dedup(points: np.ndarray, q: np.ndarray, tol: float) -> np.ndarray:
    """Indices of kept points: greedy in order of increasing q, dropping any within ``tol``."""
    if points.shape[0] == 0:
        return np.zeros(0, dtype=np.int64)
    order = np.argsort(q, kind="stable")
    p = points[order]
    sq = (p * p).sum(1)
    close = (sq[:, None] + sq[None, :] - 2.0 * p @ p.T) <= tol * tol
    removed = np.zeros(len(order), dtype=bool)
    keep = []
    for i in range(len(order)):
        if removed[i]:
            continue
        keep.append(order[i])
        removed |= close[i]
    return np.asarray(keep, dtype=np.int64)


def classify(eigenvalues: np.ndarray, marginal_tol: float) -> tuple[np.ndarray, np.ndarray,
                                                                    list[str]]:
    """(n_unstable [P], n_marginal [P], labels) from eigenvalues [P, N] of a discrete map."""
    mod = np.abs(eigenvalues)
    n_unstable = (mod > 1.0 + marginal_tol).sum(1)
    n_marginal = (np.abs(mod - 1.0) <= marginal_tol).sum(1)
    n = eigenvalues.shape[1] if eigenvalues.ndim == 2 else 0
    labels = []
    for nu, nm in zip(n_unstable.tolist(), n_marginal.tolist(), strict=True):
        if nu == 0:
            labels.append("marginal" if nm else "stable")
        elif nu == n:
            labels.append("source")
        else:
            labels.append(f"saddle-{nu}")
    return n_unstable, n_marginal, labels


def eigenvalues_at(step: StepMap, u: torch.Tensor, points: torch.Tensor, chunk: int = 256
                   ) -> np.ndarray:
    """complex128 [P, N]: eigenvalues of dF/dh at each point, by decreasing modulus."""
    if points.shape[0] == 0:
        return np.zeros((0, step.n), dtype=np.complex128)
    ev = []
    for pc in points.split(chunk):
        ev.append(torch.linalg.eigvals(jacobians(step, u, pc)).cpu().numpy())
    ev = np.concatenate(ev).astype(np.complex128)
    order = np.argsort(-np.abs(ev), axis=1, kind="stable")
    return np.take_along_axis(ev, order, axis=1)


# ------------------------------------------------------------------------------ entry point
def find_fixed_points(model_or_step: torch.nn.Module | StepMap, x: np.ndarray,
                      initial: np.ndarray, config: FixedPointConfig | None = None, *,
                      device: str | torch.device | None = None) -> FixedPoints:
    """Fixed and slow points of a model (or StepMap) under constant input ``x`` [D].

    ``initial`` [K, N] are the starting states (see :func:`initial_states`). ``device``: where
    to compute (default: the model's / step map's device). See the module docstring.
    """
    cfg = config or FixedPointConfig()
    step64 = (model_or_step if isinstance(model_or_step, StepMap)
              else StepMap.from_model(model_or_step)).to(dtype=torch.float64, device=device)
    x = np.asarray(x, dtype=np.float64)
    if x.shape != (step64.w_in.shape[1],):
        raise ValueError(f"x has shape {x.shape}; the model takes ({step64.w_in.shape[1]},)")
    initial = np.asarray(initial, dtype=np.float64)
    if initial.ndim != 2 or initial.shape[1] != step64.n or initial.shape[0] == 0:
        raise ValueError(f"initial has shape {initial.shape}; need (K >= 1, {step64.n})")
    dev = step64.device
    u64 = step64.drive(torch.from_numpy(x).to(dev))
    adt = torch.float32 if cfg.adam_dtype == "float32" else torch.float64
    step_a = step64.to(dtype=adt)
    h = _adam(step_a, u64.to(adt), torch.from_numpy(initial).to(dev, adt), cfg).to(torch.float64)
    q_adam = speed(step64, u64, h)
    polish = q_adam < cfg.newton_q_max
    if cfg.newton_steps and bool(polish.any()):
        idx = torch.nonzero(polish)[:, 0]
        h = h.clone()
        h[idx] = _newton(step64, u64, h[idx], cfg)
    q_final = speed(step64, u64, h)
    hn, qn = h.cpu().numpy(), q_final.cpu().numpy()
    finite = np.isfinite(qn) & np.isfinite(hn).all(1)

    fixed = np.nonzero(finite & (qn < cfg.fixed_tol))[0]
    fixed = fixed[dedup(hn[fixed], qn[fixed], cfg.dedup_tol)]
    slow = np.nonzero(finite & (qn >= cfg.fixed_tol) & (qn < cfg.slow_tol))[0]
    slow = slow[dedup(hn[slow], qn[slow], cfg.dedup_tol)]
    ev = eigenvalues_at(step64, u64, h[torch.from_numpy(fixed).to(dev)], cfg.chunk)
    n_unstable, n_marginal, labels = classify(ev, cfg.marginal_tol)
    return FixedPoints(points=hn[fixed], q=qn[fixed], eigenvalues=ev, n_unstable=n_unstable,
                       n_marginal=n_marginal, labels=labels, slow_points=hn[slow],
                       slow_q=qn[slow], drive=u64.cpu().numpy(), q_adam=q_adam.cpu().numpy(),
                       q_final=qn, dt=step64.dt, config=cfg)


def time_constant_ms(modulus: float | np.ndarray, dt: float) -> np.ndarray:
    """``-dt / ln|lambda|`` in ms (inf at |lambda| = 1)."""
    mod = np.asarray(modulus, dtype=np.float64)
    with np.errstate(divide="ignore"):
        return -dt / np.log(np.clip(mod, 1e-300, None))


__all__ = ["FixedPointConfig", "FixedPoints", "classify", "dedup", "eigenvalues_at",
           "find_fixed_points", "initial_states", "jacobians", "speed", "time_constant_ms"]
