"""The ``modcog`` command: the task suite's commands plus ``train``, ``eval`` and ``demo``.

::

    modcog list | show | bench ...                             see modcog_env.cli
    modcog train [--agent A] [--tasks T..|--collection K] ...  train an RNN into a run folder
                                                               (one option per TrainConfig field,
                                                               --preset, --config FILE)
    modcog eval CHECKPOINT [--tasks T..] [--trials N]          per-task accuracy table
    modcog demo [--out DIR] [--quick]                          train a small LM-RNN: table, figures

``agents`` builds on ``modcog_env`` and never the other way round, so the full command lives here
and extends :func:`modcog_env.cli.build_parser`. torch is imported inside the handlers (the train
options are generated from :class:`agents.train_config.TrainConfig`, which imports no torch).
Subcommands are registered one function each (``add_train_parser``, ...). Exit codes as in
:mod:`modcog_env.cli` (2: bad input or an unusable run folder), plus 3 when training diverged,
130 / 143 when SIGINT / SIGTERM stopped it, 141 when stdout was closed (see :func:`main`).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from modcog_env import COLLECTIONS, collection, make_task
from modcog_env.cli import (
    CATALOGUE_HEADER,
    _nonnegative_int,
    _positive_float,
    _positive_int,
    _task_names,
    add_convention,
    add_seed,
    catalogue_row,
    format_table,
    run,
    subcommands,
)
from modcog_env.cli import (
    build_parser as suite_parser,
)

from .analysis.cli import add_analyze_parser
from .sweep_cli import add_sweep_parser

AGENTS = {"lmrnn": "lm-rnn", "dense": "dense", "random": "random-sparse", "autapse": "autapse"}
LOCAL = ("lm-rnn", "random-sparse")  # models that take a radius or a density
DEMO_TASKS = ("go", "rtgo", "dlygo", "anti", "dm1", "dms")
DEMO_FIGURES = {"go": "dlygo", "dm": "dlydm1", "match": "dms"}  # one trial figure per family
# demo run: 10 x 10 torus, radius 3 (density 0.29); measured in README.md. --quick: a smoke test
# of the pipeline (learns nothing).
DEMO_CONFIG = dict(
    model="lm-rnn",
    hidden_size=100,
    radius=3.0,
    batch_size=32,
    seq_len=100,
    steps=1000,
    lr=1e-2,
    eval_interval=50,
    eval_trials=200,
    log_interval=10,
    ckpt_interval=0,
)
DEMO_QUICK = dict(
    hidden_size=16,
    batch_size=4,
    seq_len=30,
    steps=20,
    eval_interval=10,
    eval_trials=20,
    log_interval=5,
)
CURVE = "learning_curve.png"
# `modcog train` options are generated from TrainConfig's fields (`--hidden-size` for
# hidden_size, ...); these older spellings stay as aliases: option -> field
TRAIN_FIELDS = {
    "agent": "model",
    "hidden": "hidden_size",
    "threads": "num_threads",
    "out": "out_dir",
}
# ---------------------------------------------------------------------------------- helpers
def plot_learning_curve(
    log: Sequence[dict],
    path: str | os.PathLike,
    *,
    chance: float | None = None,
    metric: str = "decision_accuracy",
    title: str | None = None,
) -> str:
    """PNG of a metrics log (``agents`` Trainer): training loss and held-out ``metric`` per task
    against the optimizer step; the mean over tasks in black. Headless (Agg); returns the path."""
    from modcog_env.plotting import _matplotlib

    mpl = _matplotlib()
    train = [r for r in log if r.get("kind") == "train"]
    evals = [r for r in log if r.get("kind") == "eval"]
    fig = mpl.figure.Figure(figsize=(10.0, 3.8), layout="constrained")
    ax_loss, ax_acc = fig.subplots(1, 2)
    ax_loss.plot([r["step"] for r in train], [r["loss"] for r in train], color="C0")
    ax_loss.set(xlabel="optimizer step", ylabel="training loss", yscale="log", title="loss")
    steps = [r["step"] for r in evals]
    names = list(evals[0]["tasks"]) if evals else []
    for name in names:
        values = [r["tasks"][name][metric] for r in evals]
        if len(names) <= 10:
            ax_acc.plot(steps, values, marker="o", ms=3, lw=1, label=name)
        else:
            ax_acc.plot(steps, values, color="0.7", lw=0.8)
    ax_acc.plot(steps, [r["mean"][metric] for r in evals], color="k", lw=2.2, label="mean")
    if chance is not None:
        ax_acc.axhline(chance, color="0.5", ls="--", lw=1, label=f"chance {chance:.3f}")
    ax_acc.set(
        xlabel="optimizer step",
        ylabel=metric.replace("_", " "),
        ylim=(0, 1.02),
        title="held-out accuracy",
    )
    ax_acc.legend(fontsize=7, loc="lower right")
    if title:
        fig.suptitle(title, fontsize=10)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    return str(path)


def _report_run(result, curve_title: str, curve_path: Path | None = None) -> None:
    """After training: the per-task table, the learning curve (default in the run folder) and
    the paths."""
    from agents import read_log

    cfg, n_actions = result.config, result.model.config.output_size
    print(
        f"\nheld-out accuracy at step {result.steps} ({cfg.eval_trials} trials per task, "
        f"seed {cfg.eval_seed}; chance 1/{n_actions} = {1 / n_actions:.3f}):"
    )
    print(result.final)
    paths = [("metrics log", result.log_path), ("checkpoint", result.checkpoint_path)]
    if (result.out_dir / "best.pt").exists():
        paths.append(("best checkpoint", result.out_dir / "best.pt"))
    try:
        yang = cfg.criterion_metric == "yang_perf"  # lsq runs: Yang's measure (no one chance)
        curve = plot_learning_curve(
            read_log(result.log_path),
            curve_path or result.out_dir / CURVE,
            chance=None if yang else 1 / n_actions,
            metric=cfg.criterion_metric if yang else "decision_accuracy",
            title=curve_title,
        )
        paths.append(("learning curve", curve))
    except ImportError as err:
        print(f"learning curve skipped: {err}", file=sys.stderr)
    for what, path in paths:
        print(f"  {what + ':':<17} {path}")


def _load_checkpoint(path: str | os.PathLike) -> dict:
    """agents.load_checkpoint with CheckpointError turned into ValueError (exit code 2)."""
    from agents import CheckpointError, load_checkpoint

    try:
        return load_checkpoint(path)
    except CheckpointError as err:
        raise ValueError(str(err)) from None


# ---------------------------------------------------------------------------------- commands
def train_settings(args: argparse.Namespace) -> dict:
    """TrainConfig fields from ``modcog train`` arguments, layered: TrainConfig defaults <
    ``--preset`` < ``--config`` file < flags given on the command line.

    With ``--resume`` the checkpoint's settings take the place of the defaults, so only what
    changes is given.
    """
    from agents.config_io import coerce, read_toml
    from agents.presets import preset
    from agents.train_config import TrainConfig

    names = [f.name for f in dataclasses.fields(TrainConfig)]
    given = {name: getattr(args, name) for name in names if hasattr(args, name)}
    if "tasks" in given and args.collection is not None:
        raise ValueError("give --tasks or --collection, not both")
    if "tasks" in given:
        given["tasks"] = _task_names(given["tasks"])
    elif args.collection is not None:
        collection(args.collection)  # ValueError with a suggestion if unknown
        given["tasks"] = args.collection
    if "model" in given:
        given["model"] = AGENTS.get(given["model"], given["model"])
    layers: dict = {}
    if args.preset is not None:
        layers.update(preset(args.preset))
    if args.config is not None:
        values = coerce(TrainConfig, read_toml(args.config), f"config file {args.config!r}")
        layers.update(values)
    layered = {**layers, **given}
    if "density" in given and given["density"] is not None and "radius" not in given:
        layered["radius"] = None  # one of the two describes the mask; the other is cleared
    elif "radius" in given and given["radius"] is not None and "density" not in given:
        layered["density"] = None
    if layered.get("radius") is not None and layered.get("density") is not None:
        raise ValueError("give --radius or --density, not both")
    out_dir = given.get("out_dir")
    if given.get("resume"):
        if out_dir is None:
            raise ValueError("--resume needs --out FOLDER (the run to continue)")
        saved = _load_checkpoint(Path(out_dir) / "ckpt.pt")["train_config"]
        settings = {**saved, **layered}
    else:
        settings = dict(layered)
    settings.update(out_dir=out_dir, progress=given.get("progress", True))
    model = settings.get("model", "lm-rnn")
    if model not in LOCAL and ({"radius", "density", "geometry"} & set(given)):
        raise ValueError(
            f"--radius, --density and --geometry apply to lmrnn and random, not to {model!r}"
        )
    return settings


def cmd_train(args: argparse.Namespace) -> int:
    settings = train_settings(args)  # bad task names fail here, before torch is imported
    from agents import TrainConfig, train
    from agents.training import TrainingDiverged, TrainingInterrupted

    config = TrainConfig(**settings)
    if not config.resume:  # bad task or model settings fail here, before the folder is made
        from agents import build_model
        from modcog_env import TaskStreams

        TaskStreams(
            config.tasks,
            convention=config.convention,
            dt=config.dt,
            dim_ring=config.dim_ring,
            sigma=config.sigma,
        )
        build_model(config.model_config(1, 1))
    try:
        result = train(config)
    except TrainingInterrupted as stop:
        print(f"\nmodcog train: {stop}", file=sys.stderr)
        if stop.checkpoint is not None:
            print(f"continue with: modcog train --out {stop.checkpoint.parent} --resume",
                  file=sys.stderr)
        return stop.exit_code
    except TrainingDiverged as err:
        print(f"\nmodcog train: error: {err}", file=sys.stderr)
        return 3
    tasks = config.tasks if isinstance(config.tasks, str) else ", ".join(config.tasks)
    _report_run(result, f"{config.model}, {config.hidden_size} units: {tasks}")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from agents import evaluate, held_out_set, load_model
    from agents.evaluation import HeldOutSet

    ckpt = _load_checkpoint(args.checkpoint)
    cfg = ckpt["train_config"]
    model = load_model(args.checkpoint)
    full = held_out_set(
        cfg["tasks"],
        args.trials,
        args.seed,
        convention=cfg["convention"],
        dt=cfg["dt"],
        dim_ring=cfg["dim_ring"],
        sigma=cfg["sigma"],
    )
    names = full.names if args.tasks is None else _task_names(args.tasks)
    unknown = [n for n in names if n not in full.names]
    if unknown:
        raise ValueError(
            f"tasks {unknown} were not trained by this checkpoint; its tasks: {list(full.names)}"
        )
    # keep the training task list (rule input i = task i); evaluate only the chosen rows
    chosen = HeldOutSet(
        full.names,
        tuple(b for n, b in zip(full.names, full.batches, strict=True) if n in names),
        args.trials,
        args.seed,
    )
    table = evaluate(model, chosen)
    n_actions = model.config.output_size
    print(
        f"checkpoint {args.checkpoint}: {ckpt['model_config']['model']}, "
        f"{model.config.hidden_size} units, step {ckpt['iter_num']}"
    )
    print(
        f"held-out trials {args.trials} per task, seed {args.seed}; "
        f"chance 1/{n_actions} = {1 / n_actions:.3f}"
    )
    print(table)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    out = Path(args.out)
    tasks = [make_task(n, convention=args.convention) for n in DEMO_TASKS]
    from agents import TrainConfig, train
    from modcog_env.plotting import plot_trial

    settings = {**DEMO_CONFIG, **(DEMO_QUICK if args.quick else {})}
    if args.steps is not None:
        settings["steps"] = args.steps
    config = TrainConfig(
        tasks=list(DEMO_TASKS),
        convention=args.convention,
        seed=args.seed,
        num_threads=args.threads,
        out_dir=str(out / "demo_run"),
        overwrite=True,  # the demo replaces its previous run
        **settings,
    )
    print(
        f"modcog demo: an LM-RNN ({config.hidden_size} units on a sheet, radius "
        f"{config.radius:g}) learns {len(tasks)} tasks at once; {config.steps} steps of "
        f"{config.batch_size} x {config.seq_len}-step windows (`modcog list --collection "
        "mod-cog-126` lists all 126 tasks)"
    )
    print(format_table(CATALOGUE_HEADER, [catalogue_row(t) for t in tasks]))
    print()
    result = train(config)
    _report_run(
        result, f"demo: LM-RNN {config.hidden_size} units on {', '.join(DEMO_TASKS)}", out / CURVE
    )
    print(f"trial figures ({out}):")
    for fam, name in DEMO_FIGURES.items():
        batch = make_task(name, convention=args.convention).sample(args.seed, range(16))
        go = np.flatnonzero(batch.params["go"])  # a go trial, so the figure shows a response
        path = out / f"trial_{fam}_{name}.png"
        plot_trial(batch.trial(int(go[0]) if go.size else 0), path=path)
        print(f"  {path}")
    print(
        f"demo done in {time.perf_counter() - started:.0f} s; evaluate again with: "
        f"modcog eval {result.checkpoint_path}"
    )
    return 0


# ---------------------------------------------------------------------------------- parser
def add_train_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """``modcog train``: one option per TrainConfig field (agents.config_io), plus --collection,
    --preset and --config. torch is not imported."""
    from agents.config_io import add_dataclass_arguments
    from agents.presets import PRESETS
    from agents.train_config import CHOICES, NONNEGATIVE_INTS, POSITIVE_INTS, TrainConfig

    p = sub.add_parser(
        "train",
        help="train an RNN (agents.TrainConfig); writes a run folder (run.json, config.toml, "
        "checkpoints, metrics.jsonl, learning_curve.png) to --out",
        description="Train an RNN. Every TrainConfig field is an option; values come from "
        "TrainConfig's defaults < --preset < --config < the options given. A folder that holds "
        "a run is refused unless --resume or --overwrite.",
    )
    aliases = {field: [f"--{opt}"] for opt, field in TRAIN_FIELDS.items()}
    add_dataclass_arguments(
        p,
        TrainConfig,
        aliases=aliases,
        choices={**CHOICES, "model": tuple(AGENTS.values())},  # checked after _model_name
        types={
            "model": _model_name,
            **dict.fromkeys(POSITIVE_INTS, _positive_int),
            **dict.fromkeys(NONNEGATIVE_INTS, _nonnegative_int),
            **dict.fromkeys(("lr", "radius", "density"), _positive_float),
        },
        exclusive=[("radius", "density")],
        extra_help={
            "model": f"short names {', '.join(AGENTS)} also work",
            "tasks": "space- or comma-separated",
            "out_dir": "a new folder, an empty one, or a run to --resume",
            "resume": "other options default to the checkpoint's",
        },
    )
    p.add_argument(
        "--collection",
        default=None,
        help=f"the tasks of a collection: one of {', '.join(COLLECTIONS)} (same as --tasks KEY)",
    )
    p.add_argument("--preset", choices=tuple(PRESETS), default=None,
                   help="named settings (agents.presets); options given override them")
    p.add_argument("--config", default=None, metavar="FILE",
                   help="a TOML file of TrainConfig fields, e.g. a run folder's config.toml")
    p.set_defaults(func=cmd_train)
    return p


def _model_name(text: str) -> str:
    return AGENTS.get(text, text)


def build_parser() -> argparse.ArgumentParser:
    """The full ``modcog`` parser: the suite's commands plus train, eval and demo."""
    parser = suite_parser()
    parser.description = (
        "20-Cog and Mod-Cog cognitive tasks: catalogue, trial figures, training and evaluation "
        "of RNNs, speed, demo."
    )
    sub = subcommands(parser)
    add_train_parser(sub)

    p = sub.add_parser("eval", help="per-task accuracy of a checkpoint on held-out trials")
    p.add_argument("checkpoint", help="a ckpt.pt or best.pt written by `modcog train`")
    p.add_argument(
        "--tasks",
        nargs="+",
        default=None,
        metavar="TASK",
        help="a subset of the checkpoint's tasks (default: all of them)",
    )
    p.add_argument(
        "--trials", type=_positive_int, default=200, help="held-out trials per task (default 200)"
    )
    add_seed(p, "seed of the held-out sets")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser(
        "demo",
        help=f"train a small LM-RNN on {', '.join(DEMO_TASKS)}: "
        "accuracy table, learning curve and trial figures",
    )
    p.add_argument(
        "--out", default="outputs", help="folder for figures and the run (default outputs/)"
    )
    p.add_argument(
        "--steps",
        type=_nonnegative_int,
        default=None,
        help=f"optimizer steps (default {DEMO_CONFIG['steps']})",
    )
    add_seed(p, "training seed")
    p.add_argument(
        "--threads",
        type=_nonnegative_int,
        default=1,
        help="torch threads (default 1: faster for this small model on a busy CPU)",
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="tiny run (16 units, 20 steps): checks the pipeline, learns nothing",
    )
    add_convention(p)
    p.set_defaults(func=cmd_demo)
    add_analyze_parser(sub)
    add_sweep_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``modcog`` command line; returns the exit code (README: 0 ok, 1 missing
    dependency, 2 bad input or unusable path, 3 diverged training, 130/143 SIGINT/SIGTERM,
    141 stdout closed early, e.g. ``modcog list | head``)."""
    try:
        return run(build_parser(), argv)
    except BrokenPipeError:
        # the reader of stdout went away: no traceback, and none at interpreter exit either
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    except OSError as err:  # read-only or full filesystem, a path that is a file, ...
        where = f" {err.filename!r}" if err.filename else ""
        print(f"modcog: error:{where} {err.strerror or err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
