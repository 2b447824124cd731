"""Figures of a sweep from its CSVs alone (``tidy.csv``, ``summary.csv``): re-plot without
retraining. matplotlib is imported inside the functions (Agg backend).

- :func:`plot_curves`: a metric (task ``mean``) against steps or timesteps, one line per group
  (mean across seeds) with the min-max band across seeds.
- :func:`plot_heatmap`: task x group heat map of a metric at each run's last evaluation, mean
  across seeds, values written in the cells.
- :func:`plot_criterion`: steps to criterion (or another summary column, such as the accuracy
  after a fixed number of time steps seen) against an axis (e.g. density), one series per
  model, per-seed points, mean +- sd; runs that never reached the criterion are drawn as open
  markers above the plot; runs without the axis value (e.g. dense) as a horizontal band.
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Sequence
from pathlib import Path

from .sweep_results import _parse


def _rows(path: str | os.PathLike, where: dict | None = None) -> list[dict]:
    """The CSV's rows (parsed), only those whose columns equal ``where``'s values."""
    with open(path, newline="") as f:
        rows = [{k: _parse(v) for k, v in row.items()} for row in csv.DictReader(f)]
    if where:
        rows = [r for r in rows if all(r.get(k) == v for k, v in where.items())]
    return rows


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _label(row: dict, group: Sequence[str]) -> str:
    short = {"hidden_size": "N", "density": "d", "radius": "r", "model": "", "tasks": ""}
    parts = []
    for k in group:
        v = row.get(k)
        if v is None:
            continue
        v = f"{v:g}" if isinstance(v, float) else str(v)
        if ".." in v and v.endswith(")"):  # a long list cell "first..last (n)"
            v = f"{v.rsplit('(', 1)[1][:-1]} tasks"
        parts.append(f"{short.get(k, k + '=')}{v}" if short.get(k, k) else v)
    return " ".join(parts) or "all"


def _groups(rows: Sequence[dict], group: Sequence[str]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for r in rows:
        out.setdefault(_label(r, group), []).append(r)
    return out


def plot_curves(tidy_csv: str | os.PathLike, out: str | os.PathLike, group: Sequence[str],
                metric: str = "decision_accuracy", x: str = "step", task: str = "mean",
                title: str = "", where: dict | None = None) -> Path:
    """Learning curves of ``metric`` on ``task`` against ``x`` (``step`` or ``timesteps``), of
    the rows matching ``where``."""
    plt = _plt()
    rows = [r for r in _rows(tidy_csv, where) if r["metric"] == metric and r["task"] == task]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    groups = _groups(rows, group)
    if len(groups) > 10:
        ax.set_prop_cycle(color=plt.cm.tab20.colors)
    for label, grows in groups.items():
        by_x: dict[float, list[float]] = {}
        for r in grows:
            by_x.setdefault(r[x], []).append(r["value"])
        xs = sorted(by_x)
        mean = [sum(by_x[v]) / len(by_x[v]) for v in xs]
        n = max(len({r["run"] for r in grows}), 1)
        line, = ax.plot(xs, mean, label=f"{label} (n={n})")
        ax.fill_between(xs, [min(by_x[v]) for v in xs], [max(by_x[v]) for v in xs],
                        color=line.get_color(), alpha=0.2, linewidth=0)
    ax.set_xlabel(x)
    ax.set_ylabel(f"{metric} ({task} over tasks)" if task == "mean" else f"{metric}: {task}")
    ax.set_title(title or metric)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return Path(out)


def final_table(tidy_csv: str | os.PathLike, group: Sequence[str],
                metric: str = "decision_accuracy",
                where: dict | None = None) -> tuple[list[str], list[str], list[list]]:
    """(tasks, group labels, values[task][group]): ``metric`` at each run's last evaluation,
    mean across the runs of the group (None where missing); rows matching ``where``."""
    rows = [r for r in _rows(tidy_csv, where) if r["metric"] == metric and r["task"] != "mean"]
    last: dict[str, int] = {}
    for r in rows:
        last[r["run"]] = max(last.get(r["run"], -1), r["step"])
    rows = [r for r in rows if r["step"] == last[r["run"]]]
    groups = _groups(rows, group)
    tasks = list(dict.fromkeys(r["task"] for r in rows))
    values = []
    for t in tasks:
        line = []
        for grows in groups.values():
            vs = [r["value"] for r in grows if r["task"] == t]
            line.append(sum(vs) / len(vs) if vs else None)
        values.append(line)
    return tasks, list(groups), values


def plot_heatmap(tidy_csv: str | os.PathLike, out: str | os.PathLike, group: Sequence[str],
                 metric: str = "decision_accuracy", title: str = "",
                 where: dict | None = None) -> Path:
    """Task x group heat map of ``metric`` at the last evaluation (mean across seeds)."""
    plt = _plt()
    tasks, labels, values = final_table(tidy_csv, group, metric, where)
    if not tasks:
        raise ValueError(f"metric={metric!r}: no per-task rows in {str(tidy_csv)!r}")
    grid = [[math.nan if v is None else v for v in line] for line in values]
    fig, ax = plt.subplots(figsize=(1.0 + 0.9 * len(labels), 1.2 + 0.28 * len(tasks)))
    im = ax.imshow(grid, aspect="auto", vmin=0.0, vmax=1.0, cmap="viridis")
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right", fontsize=7)
    ax.set_yticks(range(len(tasks)), tasks, fontsize=7)
    if len(tasks) * len(labels) <= 900:
        for i, line in enumerate(grid):
            for j, v in enumerate(line):
                if v == v:
                    ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=5,
                            color="white" if v < 0.6 else "black")
    fig.colorbar(im, ax=ax, label=metric)
    ax.set_title(title or metric, fontsize=9)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return Path(out)


def plot_criterion(summary_csv: str | os.PathLike, out: str | os.PathLike, x: str,
                   series: str = "model", title: str = "", log_x: bool = True,
                   column: str = "steps_to_criterion") -> Path:
    """A summary ``column`` (default steps to criterion) against ``x`` per ``series``: per-seed
    points, mean +- sd; for steps to criterion, runs that never reached it are open markers
    above the plot. Runs without an ``x`` value (e.g. dense) are a band (mean +- sd)."""
    plt = _plt()
    rows = [r for r in _rows(summary_csv) if r.get("state") == "done"]
    steps = column == "steps_to_criterion"
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    values = [r[column] for r in rows if r.get(column) is not None]
    top = max([r["last_step"] for r in rows if r.get("last_step") is not None] + values + [1])
    if not steps:
        top = max(values + [1e-9])

    def mean_sd(vals):
        if not vals:
            return math.nan, 0.0
        m = sum(vals) / len(vals)
        sd = math.sqrt(sum((v - m) ** 2 for v in vals) / (len(vals) - 1)) if len(vals) > 1 else 0.0
        return m, sd

    for name, srows in _groups(rows, [series]).items():
        on_axis = [r for r in srows if r.get(x) is not None]
        if not on_axis:  # e.g. the dense RNN: a band
            vals = [r[column] for r in srows if r[column] is not None]
            if vals:
                m, sd = mean_sd(vals)
                line = ax.axhline(m, linestyle="--", color="k",
                                  label=f"{name}: {m:.3g} +- {sd:.2g} ({len(vals)}/{len(srows)})")
                ax.axhspan(m - sd, m + sd, color=line.get_color(), alpha=0.1)
            continue
        xs = sorted({r[x] for r in on_axis})
        stats = [mean_sd([r[column] for r in on_axis if r[x] == v and r[column] is not None])
                 for v in xs]
        line = ax.errorbar(xs, [s[0] for s in stats], yerr=[s[1] for s in stats], marker="o",
                           capsize=3, label=name)[0]
        color = line.get_color()
        hit = [r for r in on_axis if r[column] is not None]
        miss = [r for r in on_axis if r[column] is None]
        ax.scatter([r[x] for r in hit], [r[column] for r in hit], s=12, color=color, alpha=0.6)
        if steps:
            ax.scatter([r[x] for r in miss], [top * 1.08] * len(miss), s=22, facecolors="none",
                       edgecolors=color, marker="^")
    if steps:
        ax.axhline(top * 1.04, color="grey", linewidth=0.5)
        ax.text(0.01, 0.985, "not reached (open markers)", transform=ax.transAxes, fontsize=7,
                va="top")
    if log_x:
        ax.set_xscale("log")
    ax.set_xlabel(x)
    ax.set_ylabel(column.replace("_", " "))
    ax.set_ylim(0, top * 1.12)
    ax.set_title(title or column)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return Path(out)


def plot_all(tidy_csv: str | os.PathLike, summary_csv: str | os.PathLike,
             out: str | os.PathLike, group: Sequence[str], x: str | None = None,
             title: str = "", panel: str | None = None) -> dict[str, Path]:
    """Learning curves, heat maps (decision accuracy, trial correct; when there is more than one
    task) and, with ``x``, the steps-to-criterion and accuracy-after-T figures, into folder
    ``out``. With ``panel`` (a column, e.g. ``tasks``), curves and heat maps are drawn once per
    value of that column (files ``*_<n>.png``, n in the order of first appearance)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rows = _rows(tidy_csv)
    panels = list(dict.fromkeys(r.get(panel) for r in rows)) if panel else [None]
    paths = {}
    for i, value in enumerate(panels):
        where = {panel: value} if panel else None
        tag = f"_{i}" if panel else ""
        name = f"{title}: {_label({panel: value}, [panel])}" if panel else title
        paths[f"curves{tag}"] = plot_curves(tidy_csv, out / f"learning_curves{tag}.png", group,
                                            title=name, where=where)
        per_task = [r for r in rows if r["task"] != "mean" and (not panel or r.get(panel) == value)]
        if len({r["task"] for r in per_task}) > 1:
            for metric in [m for m in ("decision_accuracy", "trial_correct")
                           if any(r["metric"] == m for r in per_task)]:
                paths[f"heatmap_{metric}{tag}"] = plot_heatmap(
                    tidy_csv, out / f"heatmap_{metric}{tag}.png", group, metric,
                    title=f"{name}: {metric}", where=where)
    if x:
        paths["criterion"] = plot_criterion(summary_csv, out / "steps_to_criterion.png", x,
                                            title=title)
        with open(summary_csv, newline="") as f:
            at = [c for c in next(csv.reader(f)) if "_at_" in c]
        for column in at:  # data efficiency: accuracy after a fixed number of time steps seen
            paths[column] = plot_criterion(summary_csv, out / f"{column}.png", x, title=title,
                                           column=column)
    return paths
