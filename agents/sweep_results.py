"""Results of a sweep as data: tidy and summary CSVs derived from the run folders alone.

- ``tidy.csv``: one row per run x eval step x task x metric: ``run, <grid axes>, step, samples,
  timesteps, task, metric, value``; ``task = "mean"`` is the unweighted mean over tasks.
  ``samples`` = step x batch_size (stream windows seen), ``timesteps`` = samples x seq_len
  (time steps of trials seen: the data budget).
- ``summary.csv``: one row per run: ``run, state``, config columns, ``params``, ``last_step``,
  ``steps_to_criterion`` (first evaluated step whose mean ``criterion_metric`` >= ``criterion``,
  the run's own settings; empty if never), ``samples_to_criterion``,
  ``timesteps_to_criterion``, ``final_<metric>`` and ``best_<metric>`` (mean over tasks, at the
  last evaluation and the best one), optional ``<criterion_metric>_at_<T>`` (the last evaluation
  with at most T timesteps seen), ``wall_s``, ``error``.
- ``groups.csv``: summary rows grouped by the grid axes other than ``seed`` (or by the report's
  ``panel`` and ``group`` columns when the spec gives them): ``n``, ``n_done``,
  ``reached`` (runs that met the criterion), and mean / sd (n - 1) / min / max across seeds of
  steps to criterion (over the runs that reached it) and of each final and best metric.

Wall-time columns (``wall_s``) are the only ones that depend on where a run executed.
"""

from __future__ import annotations

import csv
import json
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

CONFIG_COLUMNS = ("model", "hidden_size", "geometry", "radius", "density", "tasks", "seed",
                  "steps", "batch_size", "seq_len", "lr", "criterion", "criterion_metric")
WALL_COLUMNS = ("wall_s",)


def _metrics() -> tuple[str, ...]:
    from .evaluation import METRICS

    return METRICS


def _cell(value: object) -> object:
    """A CSV cell: lists joined by "+", or ``first..last (n)`` for more than 3 items (the full
    configs are in the sweep's sweep.json)."""
    if isinstance(value, (list, tuple)):
        if len(value) > 3:
            return f"{value[0]}..{value[-1]} ({len(value)})"
        return "+".join(str(v) for v in value)
    return value


def eval_lines(log: str | os.PathLike | Sequence[dict]) -> list[dict]:
    """The eval records of a metrics log (path or list of dicts), in step order."""
    if isinstance(log, (str, os.PathLike)):
        path = Path(log)
        if not path.exists():
            return []
        lines = []
        for text in path.read_text().splitlines():
            try:
                lines.append(json.loads(text))
            except json.JSONDecodeError:
                continue  # a line cut by a crash
    else:
        lines = list(log)
    return sorted((ln for ln in lines if ln.get("kind") == "eval"), key=lambda ln: ln["step"])


def tidy_rows(name: str, axes: Mapping, config: Mapping, evals: Sequence[dict]) -> list[dict]:
    """Tidy rows of one run's eval records (module docstring)."""
    rows = []
    batch, seq = config["batch_size"], config["seq_len"]
    head = {"run": name, **{k: _cell(v) for k, v in axes.items()}}
    for ln in evals:
        step = int(ln["step"])
        base = {**head, "step": step, "samples": step * batch, "timesteps": step * batch * seq}
        for task, table in [("mean", ln["mean"]), *ln.get("tasks", {}).items()]:
            for metric, value in table.items():
                rows.append({**base, "task": task, "metric": metric, "value": value})
    return rows


def summarize_run(config: Mapping, evals: Sequence[dict], at_timesteps: Sequence[int] = (),
                  criterion: float | None = None) -> dict:
    """Summary columns of one run from its config and eval records (module docstring);
    ``criterion`` overrides the run's own threshold."""
    metric = config["criterion_metric"]
    threshold = config["criterion"] if criterion is None else criterion
    batch, seq = config["batch_size"], config["seq_len"]
    out: dict = {"last_step": int(evals[-1]["step"]) if evals else None}
    hit = next((int(ln["step"]) for ln in evals if ln["mean"][metric] >= threshold), None)
    out["steps_to_criterion"] = hit
    out["samples_to_criterion"] = None if hit is None else hit * batch
    out["timesteps_to_criterion"] = None if hit is None else hit * batch * seq
    for m in _metrics():
        values = [ln["mean"][m] for ln in evals if m in ln["mean"]]
        out[f"final_{m}"] = values[-1] if values else None
        out[f"best_{m}"] = max(values) if values else None
    for t in at_timesteps:
        seen = [ln for ln in evals if int(ln["step"]) * batch * seq <= t]
        out[f"{metric}_at_{t}"] = seen[-1]["mean"][metric] if seen else None
    return out


def collect(sweep, at_timesteps: Sequence[int] = (),
            criterion: float | None = None) -> tuple[list[dict], list[dict]]:
    """(tidy rows, summary rows) of every run of ``sweep`` (an :class:`agents.sweeps.Sweep`);
    ``criterion`` overrides the runs' thresholds (and fills the ``criterion`` column)."""
    from .sweeps import ERROR, RESULT, run_state

    tidy, summary = [], []
    for run in sweep.runs:
        evals = eval_lines(run.folder / "metrics.jsonl")
        tidy.extend(tidy_rows(run.name, run.axes, run.config, evals))
        row = {"run": run.name, "state": run_state(run.folder)}
        row.update({k: _cell(v) for k, v in run.axes.items()})
        row.update({k: _cell(run.config[k]) for k in CONFIG_COLUMNS if k not in row})
        if criterion is not None:
            row["criterion"] = criterion
        result = _read_json(run.folder / RESULT)
        row["params"] = result.get("params")
        row.update(summarize_run(run.config, evals, at_timesteps, criterion))
        row["wall_s"] = result.get("wall_s")
        err = _read_json(run.folder / ERROR).get("error")
        row["error"] = f"{err['type']}: {err['message']}"[:300] if err else None
        summary.append(row)
    return tidy, summary


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return {}


def _stats(values: Iterable[float | None], prefix: str) -> dict:
    xs = [float(v) for v in values if v is not None and v == v]
    n = len(xs)
    mean = sum(xs) / n if n else None
    sd = math.sqrt(sum((x - mean) ** 2 for x in xs) / (n - 1)) if n > 1 else None
    return {f"{prefix}_mean": mean, f"{prefix}_sd": sd,
            f"{prefix}_min": min(xs) if xs else None, f"{prefix}_max": max(xs) if xs else None}


def group_rows(summary: Sequence[Mapping], by: Sequence[str]) -> list[dict]:
    """Summary rows grouped by the columns ``by`` (module docstring), in first-seen order."""
    groups: dict[tuple, list] = {}
    for row in summary:
        groups.setdefault(tuple(row.get(k) for k in by), []).append(row)
    out = []
    for key, rows in groups.items():
        done = [r for r in rows if r.get("state") == "done"]
        reached = [r["steps_to_criterion"] for r in done if r.get("steps_to_criterion") is not None]
        g = {**dict(zip(by, key, strict=True)), "n": len(rows), "n_done": len(done),
             "reached": len(reached)}
        g.update(_stats(reached, "steps_to_criterion"))
        for col in sorted({c for r in done for c in r if c.startswith(("final_", "best_"))
                           or "_at_" in c}):
            g.update(_stats((r.get(col) for r in done), col))
        out.append(g)
    return out


def task_family(task: str) -> str:
    """``<family>`` (go, dm, match) plus ``-int`` / ``-seq`` for Mod-Cog's modified tasks."""
    from modcog_env import family

    mod = "-int" if "int" in task[-4:] else "-seq" if "seq" in task[-4:] else ""
    return family(task) + mod


def family_rows(tidy: Sequence[Mapping], by: Sequence[str],
                metrics: Sequence[str] = ("decision_accuracy", "trial_correct")) -> list[dict]:
    """Per group x task family x metric: the family's mean over its tasks at each run's last
    evaluation, then mean / sd / min / max across the runs (seeds) of the group."""
    last: dict[str, int] = {}
    for r in tidy:
        last[r["run"]] = max(last.get(r["run"], -1), r["step"])
    per_run: dict[tuple, list[float]] = {}
    keys: dict[str, tuple] = {}
    for r in tidy:
        if r["task"] == "mean" or r["metric"] not in metrics or r["step"] != last[r["run"]]:
            continue
        keys[r["run"]] = tuple(r.get(k) for k in by)
        per_run.setdefault((r["run"], task_family(r["task"]), r["metric"]), []).append(r["value"])
    groups: dict[tuple, list[float]] = {}
    for (run, fam, metric), values in per_run.items():
        groups.setdefault((keys[run], fam, metric), []).append(sum(values) / len(values))
    out = []
    for (key, fam, metric), values in sorted(groups.items(), key=lambda kv: str(kv[0])):
        out.append({**dict(zip(by, key, strict=True)), "family": fam, "metric": metric,
                    "n": len(values), **_stats(values, "value")})
    return out


def markdown_table(rows: Sequence[Mapping], columns: Sequence[str], digits: int = 3) -> str:
    """A GitHub markdown table of ``columns``; floats rounded, None as an empty cell."""
    def cell(v):
        if v is None:
            return ""
        return f"{v:.{digits}f}" if isinstance(v, float) else str(v)

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(r.get(c)) for c in columns) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def _spread(row: Mapping, prefix: str, digits: int) -> str:
    m, sd = row.get(f"{prefix}_mean"), row.get(f"{prefix}_sd")
    lo, hi = row.get(f"{prefix}_min"), row.get(f"{prefix}_max")
    if m is None:
        return ""
    text = f"{m:.{digits}f}"
    if sd is not None:
        text += f" ± {sd:.{digits}f} ({lo:.{digits}f}-{hi:.{digits}f})"
    return text


def groups_markdown(groups: Sequence[Mapping], by: Sequence[str]) -> str:
    """groups.csv rows as a markdown table: mean ± sd (min-max) across seeds."""
    at = sorted({c[:-5] for g in groups for c in g if "_at_" in c and c.endswith("_mean")})
    head = [*by, "done/n", "reached", "steps to criterion", "final decision acc",
            "final trial correct", *at]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for g in groups:
        cells = [str(_cell(g.get(k))) for k in by]
        cells += [f"{g['n_done']}/{g['n']}", str(g["reached"]),
                  _spread(g, "steps_to_criterion", 0), _spread(g, "final_decision_accuracy", 3),
                  _spread(g, "final_trial_correct", 3), *(_spread(g, c, 3) for c in at)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def families_markdown(rows: Sequence[Mapping], by: Sequence[str],
                      metric: str = "decision_accuracy") -> str:
    """family_rows as a markdown pivot: one line per group, one column per task family, cells
    mean ± sd across seeds (n in the last column)."""
    rows = [r for r in rows if r["metric"] == metric]
    fams = sorted({r["family"] for r in rows})
    table: dict[tuple, dict] = {}
    for r in rows:
        table.setdefault(tuple(r.get(k) for k in by), {})[r["family"]] = r
    head = [*by, *fams, "n"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for key, cells in table.items():
        vals = [f"{cells[f]['value_mean']:.2f}" + (f" ± {cells[f]['value_sd']:.2f}"
                                                   if cells[f]["value_sd"] is not None else "")
                if f in cells else "" for f in fams]
        n = max(c["n"] for c in cells.values())
        lines.append("| " + " | ".join([*(str(_cell(k)) for k in key), *vals, str(n)]) + " |")
    return "\n".join(lines) + "\n"


def write_csv(rows: Sequence[Mapping], path: str | os.PathLike) -> Path:
    """Write dict rows (columns: union of keys in first-seen order; None -> empty)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    columns: dict[str, None] = {}
    for row in rows:
        columns.update(dict.fromkeys(row))
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    with open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(columns))
        writer.writeheader()
        for row in rows:
            writer.writerow({k: ("" if v is None else v) for k, v in row.items()})
    os.replace(tmp, path)
    return path


def _parse(text: str) -> object:
    if text == "":
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return {"True": True, "False": False}.get(text, text)


def read_csv(path: str | os.PathLike):
    """A CSV as a pandas DataFrame when pandas is installed, else a list of parsed row dicts."""
    try:
        import pandas
    except ModuleNotFoundError:
        with open(path, newline="") as f:
            return [{k: _parse(v) for k, v in row.items()} for row in csv.DictReader(f)]
    return pandas.read_csv(path)


def report(sweep, out: str | os.PathLike | None = None, figures: bool = True) -> dict[str, Path]:
    """Write tidy.csv, summary.csv, groups.csv (and figures) to ``out`` (default
    ``<sweep>/results``); returns name -> path. ``sweep.report_options``: ``at_timesteps``
    (list of ints), ``criterion`` (threshold for steps to criterion instead of the runs' own),
    ``x`` (the axis of the criterion figure), ``group`` (figure grouping), ``panel`` (one set
    of curves and heat maps per value of this column)."""
    opts = sweep.report_options
    unknown = sorted(set(opts) - {"at_timesteps", "criterion", "x", "group", "panel"})
    if unknown:
        raise ValueError(f"report options {unknown} unknown; allowed: at_timesteps, criterion, "
                         "x, group, panel")
    out = Path(out) if out is not None else sweep.root / "results"
    tidy, summary = collect(sweep, opts.get("at_timesteps", ()), opts.get("criterion"))
    by = [k for k in sweep.grid_keys if k != "seed"]
    if "group" in opts:  # the spec's grouping (and panel) names the groups of the tables
        by = list(dict.fromkeys([*([opts["panel"]] if opts.get("panel") else []),
                                 *opts["group"]]))
    groups = group_rows(summary, by)
    paths = {"tidy": write_csv(tidy, out / "tidy.csv"),
             "summary": write_csv(summary, out / "summary.csv"),
             "groups": write_csv(groups, out / "groups.csv")}
    paths["tables"] = out / "tables.md"
    paths["tables"].write_text(groups_markdown(groups, by))
    if len({r["task"] for r in tidy} - {"mean"}) > 1:
        families = family_rows(tidy, by)
        paths["families"] = write_csv(families, out / "families.csv")
        paths["families_md"] = out / "families.md"
        paths["families_md"].write_text(
            "".join(f"{metric}:\n\n" + families_markdown(families, by, metric) + "\n"
                    for metric in ("decision_accuracy", "trial_correct")))
    if figures and tidy:
        from .sweep_figures import plot_all

        paths.update(plot_all(out / "tidy.csv", out / "summary.csv", out,
                              group=opts.get("group", by), x=opts.get("x"),
                              title=sweep.name, panel=opts.get("panel")))
    return paths
