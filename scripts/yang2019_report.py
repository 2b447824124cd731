"""Per-task Yang performance and the learning curve of a ``--preset yang2019`` run folder.

Usage: ``python scripts/yang2019_report.py RUN_FOLDER PNG`` prints a markdown table (Yang's
performance per task at the first, a middle and the last grid evaluation, and the best) and
writes the learning curve (training loss; held-out Yang performance per task, mean in black)
to PNG. Reads ``metrics.jsonl``; the chance column comes from the run's held-out trials.

Chance per task: an output that ignores the stimuli either always fixates, scoring the fraction
``p`` of trials whose final target is fixation, or responds in a direction unrelated to the
target, scoring 0.2 (a hit is within 0.2 pi) on the other trials: ``max(p, 0.2 (1 - p))``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from agents.cli import plot_learning_curve
from agents.evaluation import held_out_set
from agents.training import TrainConfig, read_log

METRIC = "yang_perf"


def chance(cfg: TrainConfig) -> dict[str, float]:
    """Per task ``max(p, 0.2 (1 - p))``, p the fraction of held-out trials ending in fixation."""
    held = held_out_set(cfg.tasks, cfg.eval_trials, cfg.eval_seed, convention=cfg.convention,
                        dt=cfg.dt, dim_ring=cfg.dim_ring, sigma=cfg.sigma)
    out = {}
    for name, tb in zip(held.names, held.batches, strict=True):
        p = float(np.mean(tb.y_loc[np.arange(tb.batch_size), tb.length - 1] < 0))
        out[name] = max(p, 0.2 * (1 - p))
    return out


def _value(record: dict, name: str) -> float:
    return record["mean"][METRIC] if name == "mean" else record["tasks"][name][METRIC]


def table(log: list[dict], chances: dict[str, float]) -> str:
    """Markdown table of Yang's performance per task at a few evaluated steps."""
    evals = [r for r in log if r.get("kind") == "eval" and not r.get("final")]
    if not evals:
        raise ValueError("the log has no grid evaluation yet")
    picks = sorted({0, len(evals) // 2, len(evals) - 1})
    cols = [evals[i] for i in picks]
    names = list(evals[-1]["tasks"])
    head = ("| task | chance | " + " | ".join(f"step {c['step']}" for c in cols)
            + " | best |")
    lines = [head, "|" + "---|" * (len(cols) + 3)]
    chances = {**chances, "mean": float(np.mean([chances[n] for n in names]))}
    for name in names + ["mean"]:
        best = max(_value(r, name) for r in evals)
        cells = " | ".join(f"{_value(c, name):.3f}" for c in cols)
        label = f"**{name}**" if name == "mean" else name
        lines.append(f"| {label} | {chances[name]:.3f} | {cells} | {best:.3f} |")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    run, png = Path(argv[0]), Path(argv[1])
    log = read_log(run / "metrics.jsonl")
    cfg = TrainConfig.from_dict(json.loads((run / "run.json").read_text())["config"])
    print(table(log, chance(cfg)))
    last = [r for r in log if r.get("kind") == "eval"][-1]["step"]
    plot_learning_curve(log, png, metric=METRIC,
                        title=f"--preset yang2019, 20 tasks, step {last} (Yang's performance)")
    print(f"\nlearning curve: {png}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
