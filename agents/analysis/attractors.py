"""Ring and continuous-attractor diagnostics for delay tasks.

- :func:`fit_angle_decoder`: ridge regression of ``[cos theta, sin theta]`` on states;
  the decoded angle is ``atan2`` of the two outputs.
- :func:`reference_angles`: the angle a go-family trial asks the network to hold at each delay
  step (TASKS.md §4.2): the stimulus angle for plain delay tasks; for ``int`` tasks the stimulus
  angle rotated at ``-s * 0.01`` rad/ms since the delay began (``s = int_sign``), which reaches
  the response direction at the end of the delay.
- :func:`angle_drift`: decoded-angle change per second between consecutive states of
  trajectories [M, T, N] (wrapped to (-pi, pi]); :func:`binned` averages it per angle bin.
- :func:`manifold_speeds`: the fitted manifold is the mean delay state per reference-angle bin
  (a closed curve); the per-step velocity ``F(h) - h`` at each delay state splits into the part
  along the curve's local tangent and the part off it (state units per second).

A ring attractor shows near-zero drift at every angle and speed mostly off the manifold
(states relax onto the ring, then stay); a ring that "rotates" (the ``int`` tasks) shows drift at
the task's rate along the manifold.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ROTATION_RAD_PER_MS = 0.01  # TASKS.md §4.2: int modifier, go family


def wrap(a: np.ndarray) -> np.ndarray:
    """Angles wrapped to (-pi, pi]."""
    return np.angle(np.exp(1j * np.asarray(a, dtype=np.float64)))


@dataclass
class AngleDecoder:
    """``z = states @ weight + bias`` ([.., 2]: cos, sin); ``r2`` of the fit, ``ridge``."""

    weight: np.ndarray
    bias: np.ndarray
    r2: float
    ridge: float

    def project(self, states: np.ndarray) -> np.ndarray:
        return np.asarray(states, dtype=np.float64) @ self.weight + self.bias

    def decode(self, states: np.ndarray) -> np.ndarray:
        """Decoded angle in [0, 2 pi) of states [..., N]."""
        z = self.project(states)
        return np.mod(np.arctan2(z[..., 1], z[..., 0]), 2 * np.pi)

    def gradient(self, states: np.ndarray) -> np.ndarray:
        """d(decoded angle)/d(state) [..., N] (the decoder is linear, so this is exact)."""
        z = self.project(states)
        r2 = (z ** 2).sum(-1, keepdims=True)
        return (z[..., :1] * self.weight[:, 1] - z[..., 1:] * self.weight[:, 0]) / np.maximum(
            r2, 1e-300)


def fit_angle_decoder(states: np.ndarray, angles: np.ndarray, ridge: float = 1e-3
                      ) -> AngleDecoder:
    """Ridge regression of [cos, sin](angles) [M] on states [M, N] (ridge relative to trace)."""
    x = np.asarray(states, dtype=np.float64)
    a = np.asarray(angles, dtype=np.float64)
    if x.ndim != 2 or a.shape != (x.shape[0],) or x.shape[0] < 3:
        raise ValueError(f"states must be [M >= 3, N] and angles [M]; got {x.shape}, {a.shape}")
    if not ridge >= 0:
        raise ValueError(f"ridge={ridge!r} must be >= 0")
    y = np.stack([np.cos(a), np.sin(a)], 1)
    mx, my = x.mean(0), y.mean(0)
    xc, yc = x - mx, y - my
    gram = xc.T @ xc
    lam = ridge * max(np.trace(gram) / gram.shape[0], 1e-12)
    w = np.linalg.solve(gram + lam * np.eye(gram.shape[0]), xc.T @ yc)
    b = my - mx @ w
    resid = y - (x @ w + b)
    r2 = 1.0 - float((resid ** 2).sum() / max((yc ** 2).sum(), 1e-300))
    return AngleDecoder(w, b, r2, float(ridge))


def reference_angles(batch: object, period: str = "delay") -> np.ndarray:
    """float [B, T]: the angle to hold at each step of ``period`` (NaN elsewhere), in [0, 2 pi).

    Needs the per-trial parameter ``stim_angle`` (go family); ``int_sign`` (0 without int)
    rotates it by ``-int_sign * 0.01 rad/ms`` per ms since the period began, counted at the end
    of each step.
    """
    params = batch.params
    if "stim_angle" not in params:
        raise ValueError(f"the trials have no 'stim_angle' parameter (params: {sorted(params)}); "
                         f"ring diagnostics need a go-family delay task")
    if period not in batch.start:
        raise ValueError(f"period={period!r} is not a period of the trials; has "
                         f"{tuple(batch.start)}")
    theta = np.asarray(params["stim_angle"], dtype=np.float64)
    sign = np.asarray(params.get("int_sign", np.zeros_like(theta)), dtype=np.float64)
    t = np.arange(batch.ob.shape[1])[None, :]
    start, stop = batch.start[period][:, None], batch.stop[period][:, None]
    inside = (t >= start) & (t < stop) & batch.valid
    elapsed_ms = (t - start + 1) * float(batch.dt)
    ang = theta[:, None] - sign[:, None] * ROTATION_RAD_PER_MS * elapsed_ms
    return np.where(inside, np.mod(ang, 2 * np.pi), np.nan)


def angle_drift(trajectories: np.ndarray, decoder: AngleDecoder, dt: float
                ) -> tuple[np.ndarray, np.ndarray]:
    """(angle [M, T-1], drift [M, T-1] rad/s) between consecutive states of [M, T, N].

    ``angle`` is the decoded angle of the earlier state; NaN rows of the input give NaN.
    """
    theta = decoder.decode(trajectories)
    d = wrap(theta[:, 1:] - theta[:, :-1]) / (dt / 1000.0)
    return theta[:, :-1], d


def binned(angle: np.ndarray, value: np.ndarray, n_bins: int = 16
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(bin centres [n_bins], mean [n_bins], count [n_bins]) of ``value`` by ``angle``."""
    a, v = np.ravel(angle), np.ravel(value)
    ok = np.isfinite(a) & np.isfinite(v)
    a, v = np.mod(a[ok], 2 * np.pi), v[ok]
    edges = np.linspace(0, 2 * np.pi, n_bins + 1)
    idx = np.clip(np.digitize(a, edges) - 1, 0, n_bins - 1)
    count = np.bincount(idx, minlength=n_bins)
    total = np.bincount(idx, weights=v, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = total / count
    return 0.5 * (edges[1:] + edges[:-1]), mean, count


@dataclass
class RingReport:
    """Ring diagnostics of one task (see the module docstring).

    ``decoder``; ``bins`` [n_bins] centres; ``drift`` [n_bins] rad/s of the trials' own delay
    steps (decoded angle); ``drift_expected`` rad/s the task asks for (0, or -/+10 for int r/l);
    ``free_drift`` [n_bins] rad/s over ``free_steps`` steps of the constant delay input after the
    delay (the attractor left alone); ``speed_along`` / ``speed_off`` [n_bins] (state units/s).
    ``decode_error`` rad: mean |wrap(decoded - reference)| on delay states.
    """

    decoder: AngleDecoder
    bins: np.ndarray
    drift: np.ndarray
    drift_expected: float
    free_drift: np.ndarray
    speed_along: np.ndarray
    speed_off: np.ndarray
    decode_error: float
    n_states: int


def manifold_speeds(step: object, u: object, states: np.ndarray, angles: np.ndarray,
                    n_bins: int = 16) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(bin centres, median along-speed, median off-speed) in state units per second.

    The manifold is the mean of ``states`` [M, N] per bin of ``angles`` [M] (empty bins are
    skipped in the curve); the tangent at a state is the chord between its bin's neighbours.
    ``step``: a :class:`~agents.analysis.stepmap.StepMap`; ``u`` its constant drive.
    """
    import torch

    n = states.shape[1]
    centres, _, count = binned(angles, np.zeros(len(angles)), n_bins)
    idx = np.clip(np.digitize(np.mod(angles, 2 * np.pi), np.linspace(0, 2 * np.pi, n_bins + 1))
                  - 1, 0, n_bins - 1)
    curve = np.full((n_bins, n), np.nan)
    filled = np.nonzero(count > 0)[0]
    for k in filled:  # one mean per bin: n_bins iterations
        curve[k] = states[idx == k].mean(0)
    if filled.size < 3:
        raise ValueError("need states in at least 3 angle bins to fit a manifold")
    nxt = filled[(np.arange(filled.size) + 1) % filled.size]
    prv = filled[(np.arange(filled.size) - 1) % filled.size]
    tangent = np.zeros((n_bins, n))
    tangent[filled] = curve[nxt] - curve[prv]
    tangent /= np.maximum(np.linalg.norm(tangent, axis=1, keepdims=True), 1e-300)
    with torch.no_grad():
        h = torch.as_tensor(states, dtype=step.dtype, device=step.device)
        vel = step.velocity(h, u).cpu().numpy().astype(np.float64)
    per_s = 1000.0 / step.dt
    t = tangent[idx]
    along = np.abs((vel * t).sum(1))
    off = np.linalg.norm(vel - (vel * t).sum(1, keepdims=True) * t, axis=1)
    med_along = np.full(n_bins, np.nan)
    med_off = np.full(n_bins, np.nan)
    for k in filled:
        med_along[k] = np.median(along[idx == k]) * per_s
        med_off[k] = np.median(off[idx == k]) * per_s
    return centres, med_along, med_off


def ring_report(model_or_step: object, rollout: object, *, period: str = "delay",
                n_bins: int = 16, free_steps: int = 20, ridge: float = 1e-3) -> RingReport:
    """All ring diagnostics of a rollout of a go-family delay task (see the module docstring)."""
    import torch

    from .stepmap import StepMap

    step = model_or_step if isinstance(model_or_step, StepMap) else StepMap.from_model(
        model_or_step)
    b = rollout.batch
    ref = reference_angles(b, period)
    mask = np.isfinite(ref)
    if mask.sum() < 3:
        raise ValueError(f"{rollout.task!r} has fewer than 3 {period!r} steps in these trials")
    states = rollout.states[mask].astype(np.float64)
    dec = fit_angle_decoder(states, ref[mask], ridge)
    decode_error = float(np.abs(wrap(dec.decode(states) - ref[mask])).mean())
    # drift on the trials' own delay steps: pairs (t, t + 1) both inside the period
    traj = np.where(mask[..., None], rollout.states.astype(np.float64), np.nan)
    ang, drift = angle_drift(traj, dec, rollout.dt)
    bins, drift_b, _ = binned(ang, drift, n_bins)
    sign = np.asarray(b.params.get("int_sign", np.zeros(b.batch_size)), dtype=np.float64)
    expected = float(-np.mean(sign) * ROTATION_RAD_PER_MS * 1000.0) + 0.0  # no -0.0
    # the attractor left alone: the mean delay input held for free_steps more steps
    u = step.drive(torch.as_tensor(rollout.period_input(period), dtype=step.dtype))
    rows = np.nonzero(mask.any(1))[0]
    last = b.stop[period][rows] - 1
    h0 = torch.as_tensor(rollout.states[rows, last], dtype=step.dtype, device=step.device)
    with torch.no_grad():
        free = step.run_constant(h0, u, free_steps).cpu().numpy()
    free = np.concatenate([h0.cpu().numpy()[:, None], free], 1)
    fa, fd = angle_drift(free, dec, rollout.dt)
    _, free_b, _ = binned(fa, fd, n_bins)
    _, along, off = manifold_speeds(step, u, states, ref[mask], n_bins)
    return RingReport(dec, bins, drift_b, expected, free_b, along, off, decode_error,
                      int(mask.sum()))
