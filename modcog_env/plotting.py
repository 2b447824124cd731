"""Trial figures: observations, labels, decision mask and periods of one trial (or a grid of them).

matplotlib is imported inside the functions, never at package import; without it they raise
:class:`MissingDependency` (an ``ImportError``) naming the pip extra ``modcog-env[plot]``.

Backend: when ``path`` is given and no axes are passed, the figure is a bare
``matplotlib.figure.Figure`` saved with the Agg canvas, so it needs no display and leaves pyplot's
state and backend alone. Without ``path`` the figure comes from ``pyplot`` so ``plt.show()`` and
notebooks display it.

Layout of :func:`plot_trial` (x axis in ms, step t spans [t*dt, (t+1)*dt)):

=========  ===================================================================================
axes       content
=========  ===================================================================================
``ob``     heatmap channels x time: fixation (ch 0), ring 1, ring 2 (and rule channels if any)
``label``  the label per step (0 = fixate, 1+k = direction k); the policy's ``actions`` if given
``mask``   the decision mask (1 on decision steps)
=========  ===================================================================================

Every axes gets a dashed vertical line (gid ``"period-boundary"``) at ``start * dt`` of each
non-empty period after the first; period names are written above the heatmap.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np
from gymnasium.error import DependencyNotInstalled

from .trials import Trial, TrialBatch

BOUNDARY_GID = "period-boundary"
_SUMMARY_KEYS = ("go", "response", "modality", "target", "chosen", "match", "delay_ms")


class MissingDependency(DependencyNotInstalled, ImportError):
    """matplotlib is missing: a gymnasium ``DependencyNotInstalled`` that is also an ImportError."""


def _matplotlib() -> Any:
    try:
        import matplotlib
        import matplotlib.figure  # noqa: F401  (used through the module below)
    except ImportError as err:
        raise MissingDependency(
            "plotting needs matplotlib; install it with `pip install modcog-env[plot]` "
            "(or `pip install matplotlib`)"
        ) from err
    return matplotlib


def _as_trial(trial_or_batch: Trial | TrialBatch, index: int) -> Trial:
    if isinstance(trial_or_batch, Trial):
        return trial_or_batch
    if isinstance(trial_or_batch, TrialBatch):
        return trial_or_batch.trial(index)
    raise ValueError(
        f"trial_or_batch must be a Trial or a TrialBatch, got {type(trial_or_batch).__name__}"
    )


def _dim_ring(trial: Trial, dim_ring: int | None) -> int:
    n_ch = trial.ob.shape[1]
    if dim_ring is None:
        dim_ring = (n_ch - 1) // 2
    if isinstance(dim_ring, bool) or not isinstance(dim_ring, (int, np.integer)) or dim_ring < 1:
        raise ValueError(f"dim_ring={dim_ring!r} must be a positive int")
    if 1 + 2 * dim_ring > n_ch:
        raise ValueError(
            f"dim_ring={dim_ring} needs at least {1 + 2 * dim_ring} channels; the trial has {n_ch}"
        )
    return int(dim_ring)


def _default_title(trial: Trial) -> str:
    name = trial.task_name or "trial"
    bits = []
    for key in _SUMMARY_KEYS:
        if key in trial.params and (key != "delay_ms" or "delay" in trial.start):
            value = trial.params[key]
            if isinstance(value, (bool, np.bool_)):
                bits.append(f"{key}={'yes' if value else 'no'}")
            elif isinstance(value, float):
                bits.append(f"{key}={value:g}")
            elif np.ndim(value) == 0:
                bits.append(f"{key}={value}")
    extra = f"  ({', '.join(bits)})" if bits else ""
    return f"{name}: trial {trial.index}, dt={trial.dt:g} ms{extra}"


def _make_axes(container: Any) -> tuple[list[Any], Any]:
    """Three stacked axes sharing x, plus a colorbar axes, on a Figure or SubFigure."""
    grid = container.add_gridspec(
        3, 2, height_ratios=[4.0, 2.0, 0.6], width_ratios=[40, 1], hspace=0.12, wspace=0.03
    )
    ax_ob = container.add_subplot(grid[0, 0])
    ax_label = container.add_subplot(grid[1, 0], sharex=ax_ob)
    ax_mask = container.add_subplot(grid[2, 0], sharex=ax_ob)
    cax = container.add_subplot(grid[0, 1])
    return [ax_ob, ax_label, ax_mask], cax


def _draw(
    axes: Sequence[Any],
    trial: Trial,
    *,
    actions: np.ndarray | None,
    dim_ring: int,
    title: str | None,
    cax: Any | None,
) -> None:
    ax_ob, ax_label, ax_mask = axes
    dt, n_steps, n = float(trial.dt), trial.length, dim_ring
    t_end = n_steps * dt
    edges = np.arange(n_steps + 1) * dt
    ob = trial.ob

    # observations: channels x time
    vmin, vmax = min(0.0, float(ob.min(initial=0.0))), max(1.0, float(ob.max(initial=0.0)))
    image = ax_ob.imshow(
        ob.T,
        aspect="auto",
        interpolation="nearest",
        origin="upper",
        extent=(0.0, t_end, ob.shape[1] - 0.5, -0.5),
        cmap="viridis",
        vmin=vmin,
        vmax=vmax,
    )
    for y in (0.5, n + 0.5) + ((2 * n + 0.5,) if ob.shape[1] > 1 + 2 * n else ()):
        ax_ob.axhline(y, color="white", lw=1.0)
    ticks = [0.0, 1 + (n - 1) / 2, n + 1 + (n - 1) / 2]
    names = ["fixation", f"ring 1\n(ch 1-{n})", f"ring 2\n(ch {n + 1}-{2 * n})"]
    if ob.shape[1] > 1 + 2 * n:
        ticks.append(2 * n + 1 + (ob.shape[1] - 2 * n - 2) / 2)
        names.append("rule")
    ax_ob.set_yticks(ticks, names)
    ax_ob.set_ylabel("input")
    ax_ob.set_title(title if title is not None else _default_title(trial), fontsize=10, pad=18)
    if cax is not None:
        cbar = ax_ob.figure.colorbar(image, cax=cax)
        cbar.set_label("input value", fontsize=8)

    # label (and actions) over time
    ax_label.step(edges, np.r_[trial.label, trial.label[-1]], where="post", color="C1", lw=2,
                  label="label")
    if actions is not None:
        acts = np.asarray(actions).reshape(-1)
        if acts.size > n_steps:
            raise ValueError(f"actions has {acts.size} entries, the trial has {n_steps} steps")
        a_edges = np.arange(acts.size + 1) * dt
        ax_label.step(a_edges, np.r_[acts, acts[-1:]], where="post", color="C0", lw=1.2,
                      ls="--", label="actions")
    ax_label.set_ylim(-0.7, n + 0.7)
    label_ticks = sorted({0, n // 4, n // 2, (3 * n) // 4, n})
    ax_label.set_yticks(label_ticks, ["0 (fix)" if v == 0 else str(v) for v in label_ticks])
    ax_label.set_ylabel("label\n(1+k = dir. k)")
    ax_label.legend(loc="upper left", fontsize=7, frameon=False)

    # decision mask
    mask = trial.decision.astype(float)
    ax_mask.fill_between(edges, np.r_[mask, mask[-1:]], step="post", color="C3", alpha=0.6)
    ax_mask.set_ylim(0, 1.05)
    ax_mask.set_yticks([])
    ax_mask.set_ylabel("decision", rotation=0, ha="right", va="center")
    ax_mask.set_xlabel("time (ms)")
    ax_mask.set_xlim(0.0, t_end)
    for ax in (ax_ob, ax_label):
        ax.tick_params(labelbottom=False)

    # periods: boundaries on every axes, names above the heatmap
    periods = [(p, trial.start[p], trial.stop[p]) for p in trial.start]
    periods = [(p, a, b) for p, a, b in sorted(periods, key=lambda x: x[1]) if b > a]
    transform = ax_ob.get_xaxis_transform()
    for p, a, b in periods:
        ax_ob.text((a + b) / 2 * dt, 1.01, p, transform=transform, ha="center", va="bottom",
                   fontsize=8)
        if a > 0:
            for ax in axes:
                ax.axvline(a * dt, color="0.3" if ax is not ax_ob else "white", lw=1.0, ls="--",
                           gid=BOUNDARY_GID)


def _save(fig: Any, path: str | os.PathLike) -> None:
    folder = os.path.dirname(os.fspath(path))
    if folder:
        os.makedirs(folder, exist_ok=True)
    fig.savefig(path, dpi=120)


def _new_figure(figsize: tuple[float, float], headless: bool) -> Any:
    mpl = _matplotlib()
    if headless:
        return mpl.figure.Figure(figsize=figsize, layout="constrained")
    import matplotlib.pyplot as plt

    return plt.figure(figsize=figsize, layout="constrained")


def plot_trial(
    trial_or_batch: Trial | TrialBatch,
    *,
    index: int = 0,
    actions: Sequence[int] | np.ndarray | None = None,
    ax: Sequence[Any] | None = None,
    title: str | None = None,
    path: str | os.PathLike | None = None,
    dim_ring: int | None = None,
) -> Any:
    """Figure of one trial; returns the matplotlib ``Figure``.

    Args:
        trial_or_batch: a :class:`~modcog_env.trials.Trial`, or a TrialBatch (row ``index``).
        actions: optional policy outputs per step (int, length <= trial length), drawn over the
            label.
        ax: optional three Axes (observations, label, decision mask) to draw into; by default a
            new figure is made.
        title: title above the heatmap (default: task, trial index, dt and key parameters).
        path: if given, the figure is saved there (PNG by extension; folders are created).
        dim_ring: ring size N (default: (channels - 1) // 2, right for single-task trials).
    """
    trial = _as_trial(trial_or_batch, index)
    n = _dim_ring(trial, dim_ring)
    if ax is None:
        fig = _new_figure((9.0, 6.0), headless=path is not None)
        axes, cax = _make_axes(fig)
    else:
        _matplotlib()
        axes, cax = list(ax), None
        if len(axes) != 3:
            raise ValueError(f"ax must hold 3 Axes (observations, label, mask), got {len(axes)}")
        fig = axes[0].figure
    _draw(axes, trial, actions=actions, dim_ring=n, title=title, cax=cax)
    if path is not None:
        _save(fig, path)
    return fig


def plot_family_grid(
    trials: Sequence[Trial | TrialBatch],
    path: str | os.PathLike | None = None,
    *,
    ncols: int = 3,
    titles: Sequence[str] | None = None,
    dim_ring: int | None = None,
) -> Any:
    """Several trials side by side (one :func:`plot_trial` panel each); returns the ``Figure``.

    A TrialBatch entry contributes its first trial. ``titles`` overrides the default titles.
    """
    items = [_as_trial(t, 0) for t in trials]
    if not items:
        raise ValueError("trials must hold at least one Trial or TrialBatch")
    if isinstance(ncols, bool) or not isinstance(ncols, int) or ncols < 1:
        raise ValueError(f"ncols={ncols!r} must be an int >= 1")
    if titles is not None and len(titles) != len(items):
        raise ValueError(f"titles has {len(titles)} entries for {len(items)} trials")
    ncols = min(ncols, len(items))
    nrows = -(-len(items) // ncols)
    fig = _new_figure((6.5 * ncols, 4.8 * nrows), headless=path is not None)
    subfigs = np.atleast_1d(fig.subfigures(nrows, ncols)).reshape(-1)
    for i, trial in enumerate(items):
        axes, cax = _make_axes(subfigs[i])
        title = titles[i] if titles is not None else None
        _draw(axes, trial, actions=None, dim_ring=_dim_ring(trial, dim_ring), title=title, cax=cax)
    if path is not None:
        _save(fig, path)
    return fig


def render_rgb(
    trial: Trial,
    *,
    actions: Sequence[int] | np.ndarray | None = None,
    t: int | None = None,
    dim_ring: int | None = None,
    size: tuple[float, float] = (6.4, 4.8),
    dpi: int = 80,
) -> np.ndarray:
    """uint8 [H, W, 3] image of ``trial`` with the ``actions`` taken so far and a cursor at step
    ``t`` (the env's ``rgb_array`` render). Headless: draws on an Agg canvas, never pyplot."""
    mpl = _matplotlib()
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig = mpl.figure.Figure(figsize=size, dpi=dpi)  # fixed margins: no layout engine per frame
    canvas = FigureCanvasAgg(fig)
    axes, cax = _make_axes(fig)
    fig.subplots_adjust(left=0.16, right=0.92, top=0.88, bottom=0.1)
    acts = None if actions is None or len(actions) == 0 else np.asarray(actions)
    _draw(axes, trial, actions=acts, dim_ring=_dim_ring(trial, dim_ring), title=None, cax=cax)
    if t is not None:
        for ax in axes:
            ax.axvline(t * trial.dt, color="red", lw=1.5)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()
