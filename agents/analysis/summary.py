"""One analysis of a checkpoint on one task: rollouts, fixed points, autapse map, ring drift.

:func:`analyze_checkpoint` is what ``modcog analyze`` runs. It returns an :class:`Analysis` with
every result object and a JSON-ready ``summary`` dict; :func:`format_summary` turns that into the
printed text, :func:`write_figures` into PNGs.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .fixed_points import FixedPointConfig, FixedPoints, find_fixed_points, initial_states


@dataclass
class Analysis:
    """Results of :func:`analyze_checkpoint`; ``autapse``/``memory``/``ring`` may be None."""

    rollout: object
    period: str
    fixed_points: FixedPoints
    autapse: object = None
    memory: object = None
    ring: object = None
    summary: dict = field(default_factory=dict)


def _pick_period(batch: object, period: str | None) -> str:
    if period is not None:
        if period not in batch.start:
            raise ValueError(f"period={period!r} is not a period of the task; has "
                             f"{tuple(batch.start)}")
        return period
    for p in ("delay", "stimulus", "fixation"):
        if p in batch.start and (batch.stop[p] > batch.start[p]).any():
            return p
    return tuple(batch.start)[0]


def analyze_checkpoint(path: str | os.PathLike, task: str, *, n_trials: int = 256,
                       n_init: int = 512, seed: int = 0, period: str | None = None,
                       device: str = "cpu", config: FixedPointConfig | None = None
                       ) -> Analysis:
    """Analyse the model of checkpoint ``path`` on ``task`` (one of the tasks it trained on).

    Noise-free held-out trials (``n_trials``) are rolled out; ``n_init`` initial states are
    drawn from the states of ``period`` (default: the delay, else the stimulus) plus noise, and
    the fixed points under that period's mean input are found. Autapse models also get the
    per-unit closed form under every period's input and, for delay tasks, the memory units; go
    delay tasks get the ring diagnostics.
    """
    from ..checkpoints import load_checkpoint, load_model
    from .autapse import delay_memory, model_autapse_fixed_points, nearest_root_error
    from .rollouts import checkpoint_trials, rollout

    t0 = time.perf_counter()
    ckpt = load_checkpoint(path)
    model = load_model(path, device=device)
    batch = checkpoint_trials(ckpt, task, n_trials=n_trials, seed=seed, sigma=0.0)
    ro = rollout(model, batch, task=task)
    period = _pick_period(batch, period)
    x = ro.period_input(period)
    pstates, _ = ro.period_states(period)
    h0 = initial_states(pstates, n_init, noise=0.1, seed=seed)
    fps = find_fixed_points(model, x, h0, config, device=device)
    cfg = ckpt["train_config"]
    summary: dict = {
        "checkpoint": str(path), "task": task, "model": ckpt["model_config"].get("model"),
        "hidden_size": model.config.hidden_size, "activation": model.config.activation,
        "iter_num": int(ckpt["iter_num"]), "train_tasks": cfg["tasks"], "period": period,
        "n_trials": n_trials, "n_init": n_init, "seed": seed,
        "adam_steps": fps.config.adam_steps, "adam_lr": fps.config.adam_lr,
        "accuracy": _accuracy(ro),
        "fixed_points": {
            "n_fixed": fps.n_fixed, "labels": fps.counts(), "n_slow": int(len(fps.slow_q)),
            "q_max": float(fps.q.max()) if fps.n_fixed else None,
            "q_min_all_states": float(np.nanmin(fps.q_final)),
            "max_modulus": [float(np.abs(e).max()) for e in fps.eigenvalues[:10]],
            "slowest_tau_ms": [float(t.max()) for t in fps.time_constants()[:10]],
        },
    }
    out = Analysis(ro, period, fps, summary=summary)
    if model.autapse:
        periods = [p for p in batch.start if (batch.stop[p] > batch.start[p]).any()]
        inputs = np.stack([ro.period_input(p) for p in periods])
        afp = model_autapse_fixed_points(model, inputs, tuple(periods),
                                         marginal_tol=fps.config.marginal_tol)
        ci = periods.index(period)
        err = nearest_root_error(afp, fps.points, ci) if fps.n_fixed else np.zeros(0)
        summary["autapse"] = {
            "per_condition": afp.summary(),
            "generic_vs_closed_form_max_error": float(err.max()) if err.size else None,
            "w_range": [float(afp.w.min()), float(afp.w.max())],
            "n_w_near_1": int((np.abs(afp.w - 1.0) < 0.05).sum()),
        }
        out.autapse = afp
        if "delay" in batch.start and (batch.stop["delay"] > batch.start["delay"]).any():
            mem = delay_memory(afp, ro, periods.index("delay"))
            summary["autapse"]["delay_memory"] = {
                "n_memory_units": int(mem.memory.sum()),
                "memory_units": mem.memory_units.tolist(),
                "delay_steps": mem.delay_steps, "n_trials": mem.n_trials, "before": mem.before,
                "retention_of_memory_units": [round(float(v), 3)
                                              for v in mem.retention[mem.memory]],
                "predicted_of_memory_units": [round(float(v), 3)
                                              for v in mem.predicted[mem.memory]],
            }
            out.memory = mem
    if "stim_angle" in batch.params and "delay" in batch.start and \
            (batch.stop["delay"] - batch.start["delay"]).sum() >= 3:
        from .attractors import ring_report

        rep = ring_report(model, ro)
        summary["ring"] = {
            "decoder_r2": round(rep.decoder.r2, 4),
            "decode_error_rad": round(rep.decode_error, 4),
            "drift_expected_rad_s": rep.drift_expected,
            "drift_mean_rad_s": _nanround(np.nanmean(rep.drift)),
            "drift_abs_mean_rad_s": _nanround(np.nanmean(np.abs(rep.drift))),
            "free_drift_mean_rad_s": _nanround(np.nanmean(rep.free_drift)),
            "free_drift_abs_mean_rad_s": _nanround(np.nanmean(np.abs(rep.free_drift))),
            "speed_along_median": _nanround(np.nanmedian(rep.speed_along)),
            "speed_off_median": _nanround(np.nanmedian(rep.speed_off)),
        }
        out.ring = rep
    summary["seconds"] = round(time.perf_counter() - t0, 2)
    return out


def _nanround(v: float) -> float | None:
    return None if not np.isfinite(v) else round(float(v), 4)


def _accuracy(ro: object) -> float:
    """Fraction of decision steps whose argmax equals the label (noise-free trials)."""
    m = ro.batch.decision & ro.batch.valid
    if not m.any():
        return float("nan")
    return round(float((ro.logits.argmax(-1)[m] == ro.batch.label[m]).mean()), 4)


def format_summary(s: dict) -> str:
    """The printed text of a summary dict."""
    fp = s["fixed_points"]
    lines = [
        f"{s['model']} N={s['hidden_size']} ({s['activation']}), step {s['iter_num']}, "
        f"task {s['task']}: decision-step accuracy {s['accuracy']} (noise-free trials)",
        f"fixed points under the {s['period']} input: {fp['n_fixed']} "
        f"{fp['labels']} from {s['n_init']} initial states; {fp['n_slow']} slow points; "
        f"max q {fp['q_max']}; lowest q of any state {fp['q_min_all_states']:.3g}",
    ]
    if fp["max_modulus"]:
        lines.append("  largest |lambda| of the first points: "
                     + ", ".join(f"{v:.4f}" for v in fp["max_modulus"]))
    if "autapse" in s:
        a = s["autapse"]
        lines.append(f"autapse closed form: w in [{a['w_range'][0]:.3f}, {a['w_range'][1]:.3f}], "
                     f"{a['n_w_near_1']} units with |w - 1| < 0.05; generic vs closed form "
                     f"max error {a['generic_vs_closed_form_max_error']}")
        for name, c in a["per_condition"].items():
            lines.append(f"  {name:>10}: {c['marginal']} marginal, {c['multistable']} "
                         f"multistable, {c['monostable']} monostable, {c['no_stable']} without a "
                         f"stable point")
        if "delay_memory" in a:
            m = a["delay_memory"]
            lines.append(f"  delay memory ({m['delay_steps']} steps after {m['before']}, "
                         f"{m['n_trials']} trials): "
                         f"{m['n_memory_units']} units {m['memory_units'][:20]}")
    if "ring" in s:
        r = s["ring"]
        lines.append(f"ring: decoder R^2 {r['decoder_r2']}, error {r['decode_error_rad']} rad; "
                     f"drift {r['drift_mean_rad_s']} rad/s (|.| {r['drift_abs_mean_rad_s']}; "
                     f"task asks {r['drift_expected_rad_s']}); input held: "
                     f"{r['free_drift_mean_rad_s']} rad/s (|.| {r['free_drift_abs_mean_rad_s']}); "
                     f"speed along/off manifold {r['speed_along_median']}/"
                     f"{r['speed_off_median']} per s")
    lines.append(f"({s['seconds']} s)")
    return "\n".join(lines)


def write_figures(a: Analysis, out_dir: str | os.PathLike) -> list[Path]:
    """PNG figures of an Analysis into ``out_dir``; returns their paths."""
    from . import figures

    out = Path(out_dir)
    task = a.summary["task"]
    paths = [
        figures.plot_pca(a.rollout, a.fixed_points, out / f"{task}_pca.png",
                         color_by="stim_angle"),
        figures.plot_spectra(a.fixed_points, out / f"{task}_spectra.png"),
    ]
    if a.ring is not None:
        paths.append(figures.plot_drift(a.ring, out / f"{task}_drift.png",
                                        title=f"{task}: ring drift"))
    if a.autapse is not None:
        ci = a.autapse.conditions.index(a.period)
        paths.append(figures.plot_autapse_map(a.autapse, out / f"{task}_autapse.png", cond=ci))
    return paths


def write_summary(a: Analysis, out_dir: str | os.PathLike) -> Path:
    path = Path(out_dir) / f"{a.summary['task']}_summary.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(a.summary, indent=1, default=str))
    return path
