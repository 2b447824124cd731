"""The ``analyze`` command: ``modcog analyze CHECKPOINT --task T [--out DIR]``.

:func:`add_analyze_parser` adds the sub-command to an argparse sub-parsers object;
:func:`cmd_analyze` runs it and returns the exit code (0, or 2 with one line on stderr for bad
input: a missing or unreadable checkpoint, a task the model did not train on). Also runnable as
``python -m agents.analysis CHECKPOINT --task T``.
"""

from __future__ import annotations

import argparse
import sys


def add_analyze_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "analyze", help="fixed points, spectra, autapse map and ring drift of a checkpoint",
        description="Dynamics analysis of a trained model on one of its tasks: writes figures "
                    "and a JSON summary to --out and prints a text summary.")
    _add_arguments(p)
    p.set_defaults(func=cmd_analyze)
    return p


def _add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("checkpoint", help="a ckpt.pt or best.pt written by `modcog train`")
    p.add_argument("--task", required=True, help="a task the model trained on (e.g. dlygo)")
    p.add_argument("--out", default=None, help="folder for figures and summary.json "
                                               "(default: none written)")
    p.add_argument("--trials", type=int, default=256, help="held-out trials (default 256)")
    p.add_argument("--init", type=int, default=512,
                   help="initial states of the fixed-point search (default 512)")
    p.add_argument("--period", default=None,
                   help="period whose input is held constant (default delay, else stimulus)")
    p.add_argument("--seed", type=int, default=0, help="trials and initial states (default 0)")
    p.add_argument("--adam-steps", type=int, default=300,
                   help="Adam iterations of the fixed-point search (default 300)")
    p.add_argument("--adam-lr", type=float, default=1e-2,
                   help="initial Adam learning rate (default 0.01)")
    p.add_argument("--device", default="cpu", help="torch device (default cpu)")


def cmd_analyze(args: argparse.Namespace) -> int:
    from ..checkpoints import CheckpointError
    from .fixed_points import FixedPointConfig
    from .summary import analyze_checkpoint, format_summary, write_figures, write_summary

    try:
        for name in ("trials", "init"):
            if getattr(args, name) < 1:
                raise ValueError(f"--{name}={getattr(args, name)} must be >= 1")
        config = FixedPointConfig(adam_steps=args.adam_steps, adam_lr=args.adam_lr)
        a = analyze_checkpoint(args.checkpoint, args.task, n_trials=args.trials,
                               n_init=args.init, seed=args.seed, period=args.period,
                               device=args.device, config=config)
    except (CheckpointError, ValueError) as exc:
        print(f"modcog analyze: error: {exc}", file=sys.stderr)
        return 2
    print(format_summary(a.summary))
    if args.out:
        paths = write_figures(a, args.out) + [write_summary(a, args.out)]
        print("wrote " + ", ".join(str(p) for p in paths))
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m agents.analysis",
                                description="Dynamics analysis of a trained checkpoint.")
    _add_arguments(p)
    return cmd_analyze(p.parse_args(argv))
