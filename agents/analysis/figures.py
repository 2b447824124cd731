"""Figures of analysis results (matplotlib imported here only, Agg backend; small PNGs).

Each function takes result objects of this package and a path, writes one PNG and returns the
path: :func:`plot_pca` (trajectories and fixed points in the top principal components),
:func:`plot_spectra` (Jacobian eigenvalues against the unit circle), :func:`plot_drift`
(decoded-angle drift against angle), :func:`plot_autapse_map` (per-unit fixed points of the
autapse pool against the self-weight).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

_STYLE = {"stable": ("o", "tab:blue"), "marginal": ("D", "tab:green"),
          "source": ("x", "tab:red")}


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return path


def pca_basis(states: np.ndarray, k: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """(mean [N], components [N, k]) of states [M, N] (SVD)."""
    x = np.asarray(states, dtype=np.float64)
    mean = x.mean(0)
    _, _, vt = np.linalg.svd(x - mean, full_matrices=False)
    return mean, vt[:k].T


def plot_pca(rollout: object, fps: object, path: str | Path, *, color_by: str | None = None,
             max_trials: int = 64, basis_period: str | None = "delay", title: str = "") -> Path:
    """Trajectories of up to ``max_trials`` trials (delay steps thick, colour: ``color_by``
    angle) and the fixed/slow points, in the top 2 PCs of the states of ``basis_period``
    (all valid states when the task lacks it or it is None)."""
    plt = _plt()
    basis = rollout.batch.valid
    if basis_period is not None and basis_period in rollout.batch.start:
        m = rollout.period_mask(basis_period)
        basis = m if m.sum() >= 3 else basis
    mean, pcs = pca_basis(rollout.states[basis])
    fig, ax = plt.subplots(figsize=(4.6, 4))
    params = rollout.batch.params
    col = None
    if color_by and color_by in params:
        col = np.asarray(params[color_by], dtype=np.float64)
    cmap = plt.get_cmap("hsv")
    for i in range(min(max_trials, rollout.batch.batch_size)):
        z = (rollout.states[i, : rollout.batch.length[i]] - mean) @ pcs
        c = cmap(np.mod(col[i], 2 * np.pi) / (2 * np.pi)) if col is not None else "0.6"
        ax.plot(z[:, 0], z[:, 1], "-", color=c, lw=0.6, alpha=0.6)
        if "delay" in rollout.batch.start:  # the delay segment drawn thick
            lo, hi = rollout.batch.start["delay"][i], rollout.batch.stop["delay"][i]
            if hi > lo:
                ax.plot(z[lo:hi, 0], z[lo:hi, 1], "-", color=c, lw=2.0)
    if fps.slow_points.shape[0]:
        z = (fps.slow_points - mean) @ pcs
        ax.plot(z[:, 0], z[:, 1], ".", color="0.3", ms=3, label=f"slow ({len(z)})")
    labels = np.asarray(fps.labels)
    for lab in sorted(set(fps.labels)):
        z = (fps.points[labels == lab] - mean) @ pcs
        marker, color = _STYLE.get(lab, ("^", "tab:orange"))
        ax.plot(z[:, 0], z[:, 1], marker, color=color, ms=6, mfc="none", mew=1.4,
                label=f"{lab} ({len(z)})")
    which = basis_period if basis is not rollout.batch.valid else "all"
    ax.set_xlabel(f"PC 1 ({which} states)")
    ax.set_ylabel("PC 2")
    ax.set_title(title or f"{rollout.task}: trajectories and fixed points", fontsize=9)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7, loc="best")
    else:
        ax.text(0.02, 0.02, "no fixed or slow point", transform=ax.transAxes, fontsize=7)
    return _save(fig, path)


def plot_spectra(fps: object, path: str | Path, *, max_points: int = 20, title: str = ""
                 ) -> Path:
    """Eigenvalues of dF/dh at up to ``max_points`` fixed points, with the unit circle."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(4, 4))
    t = np.linspace(0, 2 * np.pi, 200)
    ax.plot(np.cos(t), np.sin(t), "k-", lw=0.8)
    labels = list(fps.labels)
    for i in range(min(max_points, fps.n_fixed)):
        ev = fps.eigenvalues[i]
        marker, color = _STYLE.get(labels[i], ("^", "tab:orange"))
        ax.plot(ev.real, ev.imag, ".", color=color, ms=3, alpha=0.7)
    ax.set_aspect("equal")
    ax.set_xlabel("Re lambda")
    ax.set_ylabel("Im lambda")
    ax.set_title(title or f"Jacobian spectra ({min(max_points, fps.n_fixed)} points)",
                 fontsize=9)
    return _save(fig, path)


def plot_drift(report: object, path: str | Path, *, title: str = "") -> Path:
    """Decoded-angle drift (rad/s) against angle: the trials' delay steps and the free run."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(4.6, 3.2))
    ax.axhline(report.drift_expected, color="k", lw=0.8, ls="--",
               label=f"task asks {report.drift_expected:+.0f} rad/s")
    ax.plot(report.bins, report.drift, "o-", ms=3, label="delay steps")
    ax.plot(report.bins, report.free_drift, "s-", ms=3, label="input held after delay")
    ax.set_xlabel("decoded angle (rad)")
    ax.set_ylabel("drift (rad/s)")
    ax.set_title(title or "ring drift", fontsize=9)
    ax.legend(fontsize=7)
    return _save(fig, path)


def plot_autapse_map(afp: object, path: str | Path, *, cond: int = 0, title: str = "") -> Path:
    """Per-unit fixed points under condition ``cond`` against each unit's self-weight w."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(4.6, 3.4))
    m = afp.cond == cond
    for lab, (marker, color) in {"stable": ("o", "tab:blue"), "unstable": ("x", "tab:red"),
                                 "marginal": ("D", "tab:green")}.items():
        k = m & (afp.label == lab)
        ax.plot(afp.w[afp.unit[k]], afp.h[k], marker, color=color, ms=3, ls="none",
                label=f"{lab} ({int(k.sum())})")
    line = np.nonzero(afp.line[cond])[0]
    if line.size:
        ax.plot(afp.w[line], np.zeros(line.size), "|", color="tab:green", ms=12,
                label=f"line ({line.size})")
    ax.axvline(1.0, color="k", lw=0.6, ls=":")
    ax.set_xlabel("self-weight w")
    ax.set_ylabel("fixed point h*")
    ax.set_title(title or f"autapse fixed points: {afp.conditions[cond]}", fontsize=9)
    ax.legend(fontsize=7)
    return _save(fig, path)
