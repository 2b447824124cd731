"""The autapse pool in closed form: every unit is a one-dimensional map.

With ``R(h) = w * h`` (:class:`~agents.models.AutapsePoolConfig`), unit ``i`` under a constant
input with drive ``c = (W_in x + b)_i`` obeys ``h <- g(h) = (1 - a) h + a f(w_i h + c)``,
independently of every other unit. Its fixed points are the roots of ``f(w_i h + c) = h``
(independent of ``a``) and a root is stable when ``|g'(h)| < 1``, with
``g'(h) = 1 - a + a w_i f'(w_i h + c)``.

:func:`autapse_fixed_points` finds every root of every unit under every condition at once
(numpy, vectorised over units x conditions):

- ``relu`` and ``linear`` exactly: ``h = 0`` when ``c <= 0`` (relu) and ``h = c / (1 - w)`` when
  it lies on the active side; ``w = 1, c = 0`` is a **line** of fixed points (a line attractor:
  every ``h >= 0`` for relu, every h for linear).
- ``tanh``, ``sigmoid``, ``softplus`` by bracketing: every root lies in the range of ``f`` (or,
  for softplus, below a per-unit bound), which is cut into ``grid`` intervals; each sign change of
  ``f(w h + c) - h`` (and each exact zero at a node) is refined by 60 bisection steps.

Labels per root: ``"stable"`` (``|g'| < 1 - tol``), ``"unstable"`` (``|g'| > 1 + tol``) or
``"marginal"`` (in between; ``tol`` is ``marginal_tol``, 0.01 by default as in
:mod:`.fixed_points`). A unit is *marginal* under a condition if it has a line or a marginal root,
*multistable* if it has two or more stable roots.

:func:`delay_memory` asks which units carry the memory of a delay task: the across-trial spread
of each unit at the end of the stimulus and at the end of the delay (in trials with the longest
delay), their ratio (measured retention), and the retention the closed form predicts from the
local slope ``g'`` along the delay trajectory.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .fixed_points import time_constant_ms

ACTS = ("relu", "linear", "tanh", "sigmoid", "softplus")


def _f(act: str, z: np.ndarray) -> np.ndarray:
    if act == "relu":
        return np.maximum(z, 0.0)
    if act == "linear":
        return z
    if act == "tanh":
        return np.tanh(z)
    if act == "sigmoid":
        return 0.5 * (1.0 + np.tanh(0.5 * z))
    if act == "softplus":
        return np.logaddexp(0.0, z)
    raise ValueError(f"act={act!r} is not one of {ACTS}")


def _fprime(act: str, z: np.ndarray) -> np.ndarray:
    if act == "relu":
        return (z > 0).astype(np.float64)
    if act == "linear":
        return np.ones_like(z)
    if act == "tanh":
        return 1.0 - np.tanh(z) ** 2
    if act == "sigmoid":
        s = _f("sigmoid", z)
        return s * (1.0 - s)
    if act == "softplus":
        return _f("sigmoid", z)
    raise ValueError(f"act={act!r} is not one of {ACTS}")


@dataclass
class AutapseFixedPoints:
    """Every 1-D fixed point of every unit under every condition.

    Flat arrays over the M roots found: ``unit`` [M], ``cond`` [M], ``h`` [M], ``slope`` [M]
    (``g'`` at the root), ``label`` [M] (str). ``line`` bool [C, N]: a continuum of fixed points.
    ``w`` [N], ``drive`` [C, N], ``alpha``, ``act``, ``dt`` ms, ``conditions`` [C] names.
    """

    unit: np.ndarray
    cond: np.ndarray
    h: np.ndarray
    slope: np.ndarray
    label: np.ndarray
    line: np.ndarray
    w: np.ndarray
    drive: np.ndarray
    alpha: float
    act: str
    dt: float
    conditions: tuple[str, ...]
    marginal_tol: float = 1e-2

    @property
    def n_units(self) -> int:
        return int(self.w.shape[0])

    def _count(self, which: str) -> np.ndarray:
        out = np.zeros(self.drive.shape, dtype=np.int64)
        m = self.label == which
        np.add.at(out, (self.cond[m], self.unit[m]), 1)
        return out

    def n_stable(self) -> np.ndarray:
        """int [C, N]: stable roots per condition and unit."""
        return self._count("stable")

    def n_roots(self) -> np.ndarray:
        """int [C, N]: all isolated roots per condition and unit."""
        out = np.zeros(self.drive.shape, dtype=np.int64)
        np.add.at(out, (self.cond, self.unit), 1)
        return out

    def marginal(self) -> np.ndarray:
        """bool [C, N]: the unit has a line of fixed points or a marginal root."""
        return self.line | (self._count("marginal") > 0)

    def multistable(self) -> np.ndarray:
        """bool [C, N]: two or more stable roots."""
        return self.n_stable() >= 2

    def slope_at(self, h: np.ndarray, cond: int) -> np.ndarray:
        """``g'(h)`` of each unit at states ``h`` [..., N] under condition ``cond``."""
        z = self.w * h + self.drive[cond]
        return (1.0 - self.alpha) + self.alpha * self.w * _fprime(self.act, z)

    def step(self, h: np.ndarray, cond: int) -> np.ndarray:
        """``g(h)`` of each unit at states ``h`` [..., N] under condition ``cond``."""
        z = self.w * h + self.drive[cond]
        return (1.0 - self.alpha) * h + self.alpha * _f(self.act, z)

    def tau_ms(self) -> np.ndarray:
        """float [M]: ``-dt / ln|g'|`` at each root (inf for a marginal slope of exactly 1)."""
        return time_constant_ms(np.abs(self.slope), self.dt)

    def summary(self) -> dict[str, object]:
        """Counts per condition: units with a line or marginal root, multistable, monostable."""
        mono = self.n_stable() == 1
        return {name: {"marginal": int(self.marginal()[c].sum()),
                       "multistable": int(self.multistable()[c].sum()),
                       "monostable": int(mono[c].sum()),
                       "no_stable": int((self.n_stable()[c] == 0).sum())}
                for c, name in enumerate(self.conditions)}


def _labels(slope: np.ndarray, tol: float) -> np.ndarray:
    mod = np.abs(slope)
    return np.where(mod < 1.0 - tol, "stable", np.where(mod > 1.0 + tol, "unstable", "marginal"))


def _exact_roots(act: str, w: np.ndarray, c: np.ndarray):
    """(cond, unit, h) of the roots and the line mask for relu / linear, exactly."""
    cc, nn = np.meshgrid(np.arange(c.shape[0]), np.arange(c.shape[1]), indexing="ij")
    ww = np.broadcast_to(w, c.shape)
    line = (ww == 1.0) & (c == 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        active = c / (1.0 - ww)
    ok_active = (ww != 1.0) & np.isfinite(active)
    if act == "relu":
        ok_active &= active > 0
        ok_zero = (c <= 0) & ~line
        conds = [cc[ok_zero], cc[ok_active & ~line]]
        units = [nn[ok_zero], nn[ok_active & ~line]]
        hs = [np.zeros(int(ok_zero.sum())), active[ok_active & ~line]]
    else:  # linear
        conds, units, hs = [cc[ok_active]], [nn[ok_active]], [active[ok_active]]
    return np.concatenate(conds), np.concatenate(units), np.concatenate(hs), line


def _bracket_bounds(act: str, w: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per (condition, unit) interval [lo, hi] that holds every root of f(w h + c) = h."""
    shape = c.shape
    if act == "tanh":
        return np.full(shape, -1.0), np.full(shape, 1.0)
    if act == "sigmoid":
        return np.zeros(shape), np.ones(shape)
    # softplus: h = softplus(w h + c) > 0; softplus(z) <= max(z, 0) + log 2
    ww = np.broadcast_to(w, shape)
    cp = np.maximum(c, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        below = (cp + np.log(2.0)) / (1.0 - np.maximum(ww, 0.0))  # w < 1
        above = np.maximum(-c / (ww - 1.0), 0.0)  # w > 1: phi > 0 beyond -c / (w - 1)
        # w == 1, c < 0: root where log(1 + exp(-(h + c))) = -c, i.e. h = -c - log(expm1(-c))
        at_one = np.where(c < 0, -c - np.log(np.expm1(-np.minimum(c, -1e-300))), 0.0)
    hi = np.where(ww < 1.0, below, np.where(ww > 1.0, above, at_one))
    return np.zeros(shape), np.nan_to_num(hi, nan=0.0, posinf=0.0) * 1.01 + 1e-9


def _bracketed_roots(act: str, w: np.ndarray, c: np.ndarray, grid: int):
    lo, hi = _bracket_bounds(act, w, c)
    t = np.linspace(0.0, 1.0, grid + 1)
    hgrid = lo[..., None] + (hi - lo)[..., None] * t  # [C, N, G+1]
    wb = np.broadcast_to(w, c.shape)[..., None]
    phi = _f(act, wb * hgrid + c[..., None]) - hgrid
    sign = np.sign(phi)
    at_node = sign == 0
    change = (sign[..., :-1] * sign[..., 1:]) < 0
    ci, ni, ki = np.nonzero(change)
    a, b = hgrid[ci, ni, ki], hgrid[ci, ni, ki + 1]
    wv, cv = np.broadcast_to(w, c.shape)[ci, ni], c[ci, ni]
    fa = _f(act, wv * a + cv) - a
    for _ in range(60):
        m = 0.5 * (a + b)
        fm = _f(act, wv * m + cv) - m
        left = np.sign(fm) == np.sign(fa)
        a, fa = np.where(left, m, a), np.where(left, fm, fa)
        b = np.where(left, b, m)
    zc, zn, zk = np.nonzero(at_node)
    cond = np.concatenate([ci, zc])
    unit = np.concatenate([ni, zn])
    h = np.concatenate([0.5 * (a + b), hgrid[zc, zn, zk]])
    return cond, unit, h, np.zeros(c.shape, dtype=bool)


def autapse_fixed_points(w: np.ndarray, drive: np.ndarray, *, alpha: float, act: str,
                         dt: float = 100.0, conditions: tuple[str, ...] | None = None,
                         grid: int = 2048, marginal_tol: float = 1e-2) -> AutapseFixedPoints:
    """All 1-D fixed points of units with self-weights ``w`` [N] under drives ``drive`` [C, N].

    See the module docstring. ``grid``: intervals of the bracketing grid (smooth activations).
    """
    w = np.asarray(w, dtype=np.float64)
    drive = np.atleast_2d(np.asarray(drive, dtype=np.float64))
    if w.ndim != 1 or drive.shape[1] != w.shape[0]:
        raise ValueError(f"w must be [N] and drive [C, N]; got {w.shape} and {drive.shape}")
    if not 0 < alpha <= 1:
        raise ValueError(f"alpha={alpha!r} must lie in (0, 1]")
    if act not in ACTS:
        raise ValueError(f"act={act!r} is not one of {ACTS}")
    if isinstance(grid, bool) or not isinstance(grid, int) or grid < 2:
        raise ValueError(f"grid={grid!r} must be an int >= 2")
    if act in ("relu", "linear"):
        cond, unit, h, line = _exact_roots(act, w, drive)
    else:
        cond, unit, h, line = _bracketed_roots(act, w, drive, grid)
    order = np.lexsort((h, unit, cond))
    cond, unit, h = cond[order], unit[order], h[order]
    z = w[unit] * h + drive[cond, unit]
    slope = (1.0 - alpha) + alpha * w[unit] * _fprime(act, z)
    names = tuple(conditions) if conditions is not None else tuple(
        f"cond{i}" for i in range(drive.shape[0]))
    if len(names) != drive.shape[0]:
        raise ValueError(f"conditions has {len(names)} names for {drive.shape[0]} drives")
    return AutapseFixedPoints(unit=unit, cond=cond, h=h, slope=slope,
                              label=_labels(slope, marginal_tol), line=line, w=w, drive=drive,
                              alpha=float(alpha), act=act, dt=float(dt), conditions=names,
                              marginal_tol=float(marginal_tol))


def model_autapse_fixed_points(model: object, inputs: np.ndarray,
                               conditions: tuple[str, ...] | None = None, **kwargs: object
                               ) -> AutapseFixedPoints:
    """:func:`autapse_fixed_points` of an autapse :class:`~agents.rnn.MaskedRNN` under inputs
    ``inputs`` [C, D] (one constant input per condition)."""
    from .stepmap import StepMap

    step = StepMap.from_model(model)
    if not step.autapse:
        raise ValueError("model is not an autapse pool (its recurrent weight is a matrix)")
    drive = step.drive(np.atleast_2d(np.asarray(inputs, dtype=np.float64))).cpu().numpy()
    return autapse_fixed_points(step.w_rec.cpu().numpy(), drive, alpha=step.alpha,
                                act=step.act, dt=step.dt, conditions=conditions, **kwargs)


def nearest_root_error(afp: AutapseFixedPoints, points: np.ndarray, cond: int) -> np.ndarray:
    """float [P]: for each N-dim point, the largest distance of a coordinate to its unit's
    nearest closed-form root (or line) under ``cond``; ~0 when the point is a fixed point."""
    points = np.atleast_2d(points)
    err = np.full(points.shape, np.inf)
    m = afp.cond == cond
    for_unit, roots = afp.unit[m], afp.h[m]
    d = np.abs(points[:, for_unit] - roots[None, :])  # [P, R]
    np.minimum.at(err.T, for_unit, d.T)
    line = afp.line[cond]
    if line.any():
        ok = points[:, line] >= 0 if afp.act == "relu" else np.ones_like(points[:, line], bool)
        err[:, line] = np.where(ok, 0.0, np.abs(points[:, line]))
    return err.max(1)


@dataclass
class DelayMemory:
    """Per-unit delay memory of an autapse pool on one task (arrays [N]).

    ``spread_start``/``spread_end``: across-trial std at the last stimulus step and the last delay
    step; ``retention = spread_end / spread_start``; ``predicted`` the closed form's retention
    ``prod_t |g'(h_t)|`` along the delay (trial mean of the log); ``memory``: retention >=
    ``min_retention`` and spread_start >= ``min_spread`` x the largest spread_start.
    ``delay_steps``: delay length of the trials used; ``n_trials`` how many.
    """

    spread_start: np.ndarray
    spread_end: np.ndarray
    retention: np.ndarray
    predicted: np.ndarray
    memory: np.ndarray
    delay_steps: int
    n_trials: int
    before: str = ""

    @property
    def memory_units(self) -> np.ndarray:
        return np.nonzero(self.memory)[0]


def delay_memory(afp: AutapseFixedPoints, rollout: object, cond: int, *, period: str = "delay",
                 before: str | None = None, min_retention: float = 0.5, min_spread: float = 0.05
                 ) -> DelayMemory:
    """Which units hold the stimulus through ``period``; ``cond`` indexes the delay input.

    ``before``: the period that ends where ``period`` starts (default: found from the trials,
    e.g. ``stimulus`` in dlygo, ``stim1`` in dlydm1, ``sample`` in dms).
    """
    b = rollout.batch
    if before is None and period in b.start:
        ends = [p for p in b.start if p != period and (b.stop[p] == b.start[period]).any()]
        if not ends:
            raise ValueError(f"no period of {rollout.task!r} ends where {period!r} starts")
        before = max(ends, key=lambda p: int((b.stop[p] == b.start[period]).sum()))
    for p in (period, before):
        if p not in b.start:
            raise ValueError(f"period {p!r} is not a period of {rollout.task!r}")
    n_delay = b.stop[period] - b.start[period]
    longest = int(n_delay.max())
    if longest < 1:
        raise ValueError(f"no trial of {rollout.task!r} has a non-empty {period!r} period")
    rows = np.nonzero((n_delay == longest) & (b.stop[before] == b.start[period]))[0]
    if rows.size < 2:
        raise ValueError(f"need >= 2 trials with a {longest}-step {period!r}; got {rows.size}")
    s0 = rollout.states[rows, b.stop[before][rows] - 1].astype(np.float64)
    s1 = rollout.states[rows, b.stop[period][rows] - 1].astype(np.float64)
    steps = b.start[period][rows, None] + np.arange(longest)[None, :]
    traj = rollout.states[rows[:, None], steps].astype(np.float64)  # [R, L, N]
    prev = np.concatenate([s0[:, None], traj[:, :-1]], 1)
    slope = np.abs(afp.slope_at(prev, cond))
    with np.errstate(divide="ignore"):
        predicted = np.exp(np.log(np.clip(slope, 1e-300, None)).sum(1).mean(0))
    sp0, sp1 = s0.std(0), s1.std(0)
    with np.errstate(divide="ignore", invalid="ignore"):
        retention = np.where(sp0 > 0, sp1 / sp0, 0.0)
    memory = (retention >= min_retention) & (sp0 >= min_spread * max(sp0.max(), 1e-300))
    return DelayMemory(sp0, sp1, retention, predicted, memory, longest, int(rows.size), before)
