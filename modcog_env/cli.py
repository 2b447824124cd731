"""The ``modcog`` command: task catalogue, trial figures and the demo.

::

    modcog list [--collection KEY] [--convention C] [--dt DT]  catalogue table (no sampling)
    modcog show TASK [--seed S] [--index K] [--out PATH]       PNG of one trial; prints its path
    modcog demo [--out DIR] [--trials N] [--seed S]            20 bases sampled: table, figures

Also ``python -m modcog_env`` or ``python -m modcog_env.cli``. ``main(argv)`` returns the exit
code: 0 on success, 2 for a bad argument (unknown task, convention, dt, collection: the message,
with suggestions, goes to stderr; no traceback), 1 when matplotlib is missing for a figure.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence

import numpy as np

from . import __version__
from .tasks.base import Task
from .tasks.catalog import BASES, COLLECTIONS, collection, family, gym_id, make_task

DEMO_TASKS = {"go": "dlygo", "dm": "dlydm1", "match": "dms"}  # one figure per family
DEMO_CHUNK = 500  # trials per sample() call in the demo


# ---------------------------------------------------------------------------------- helpers
def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be >= 1")
    return value


def _nonnegative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be >= 0")
    return value


def _span(bounds: tuple[int, int]) -> str:
    return f"{bounds[0]}..{bounds[1]}"


def format_table(header: Sequence[str], rows: Sequence[Sequence[str]], right: int = 3) -> str:
    """Plain-text table; columns from index ``right`` on are right-aligned."""
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows, strict=True)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            str(c).rjust(w) if i >= right else str(c).ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(header), rule, *(line(r) for r in rows)])


CATALOGUE_HEADER = ("name", "gym id", "family", "length", "decision")


def catalogue_row(task: Task) -> list[str]:
    """name, gym id, family, trial length min..max and decision steps min..max (no sampling)."""
    return [
        task.name,
        gym_id(task.name),
        family(task.name),
        _span(task.length_bounds()),
        _span(task.period_bounds()["decision"]),
    ]


# ---------------------------------------------------------------------------------- commands
def cmd_list(args: argparse.Namespace) -> int:
    names = collection(args.collection)
    tasks = [make_task(n, convention=args.convention, dt=args.dt) for n in names]
    print(
        f"collection {args.collection!r}: {len(tasks)} tasks, convention={args.convention!r}, "
        f"dt={tasks[0].dt:g} ms; length and decision in steps (min..max)"
    )
    print(format_table(CATALOGUE_HEADER, [catalogue_row(t) for t in tasks]))
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from .plotting import plot_trial

    task = make_task(args.task, convention=args.convention, dt=args.dt)
    out = args.out or os.path.join("outputs", f"{task.name}_seed{args.seed}_trial{args.index}.png")
    trial = task.sample(args.seed, [args.index]).trial(0)
    plot_trial(trial, path=out)
    print(out)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    n = args.trials
    tasks = [make_task(b, convention=args.convention) for b in BASES]
    stats, examples = [], {}
    started = time.perf_counter()
    with tqdm(total=n * len(tasks), unit="trial", desc="sampling", unit_scale=True) as bar:
        for task in tasks:
            bar.set_postfix_str(task.name)
            steps = decision = label0 = 0
            elapsed = 0.0
            for first in range(0, n, DEMO_CHUNK):
                t0 = time.perf_counter()
                batch = task.sample(args.seed, range(first, min(first + DEMO_CHUNK, n)))
                elapsed += time.perf_counter() - t0
                steps += int(batch.length.sum())
                decision += int(batch.decision.sum())
                label0 += int(((batch.label == 0) & batch.decision).sum())
                if task.name in DEMO_TASKS.values() and task.name not in examples:
                    # a go trial where there is one, so the figure shows a response
                    go = np.flatnonzero(batch.params["go"])
                    examples[task.name] = batch.trial(int(go[0]) if go.size else 0)
                bar.update(batch.batch_size)
            stats.append((task, steps / n, decision / steps, label0 / decision, n / elapsed))
    total = time.perf_counter() - started

    header = (*CATALOGUE_HEADER, "mean len", "dec frac", "label0|dec", "trials/s")
    rows = [
        [*catalogue_row(t), f"{mean:.2f}", f"{dfrac:.3f}", f"{l0:.3f}", f"{rate:,.0f}"]
        for t, mean, dfrac, l0, rate in stats
    ]
    print(
        f"\n20-Cog base tasks, convention={args.convention!r}, dt={tasks[0].dt:g} ms, "
        f"{n} trials each (seed {args.seed}, batches of {min(DEMO_CHUNK, n)})"
    )
    print("length, decision: steps (min..max) from the period specs; the rest is measured")
    print(format_table(header, rows))
    print(f"sampled {n * len(tasks)} trials in {total:.2f} s")

    from .plotting import plot_trial

    print(f"\nfigures ({args.out}):")
    for fam, name in DEMO_TASKS.items():
        path = os.path.join(args.out, f"trial_{fam}_{name}.png")
        plot_trial(examples[name], path=path)
        print(f"  {path}")
    return 0


# ---------------------------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="modcog",
        description="20-Cog and Mod-Cog cognitive tasks: catalogue, trial figures, demo.",
    )
    parser.add_argument("--version", action="version", version=f"modcog-env {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def add_convention(p: argparse.ArgumentParser) -> None:
        p.add_argument("--convention", default="modcog",
                       help="'modcog' (default) or 'reference' (see docs/conventions.md)")

    p = sub.add_parser("list", help="catalogue table: ids, families, trial lengths (no sampling)")
    p.add_argument("--collection", default="20-cog",
                   help=f"one of {', '.join(COLLECTIONS)} (default: 20-cog)")
    add_convention(p)
    p.add_argument("--dt", type=float, default=100.0, help="step in ms, divides 100 (default 100)")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("show", help="write a PNG of one trial and print its path")
    p.add_argument("task", help="short name (dlygo), alias or gym id (ModCog-DelayGo-v0)")
    p.add_argument("--seed", type=_nonnegative_int, default=0, help="stream seed (default 0)")
    p.add_argument("--index", type=_nonnegative_int, default=0,
                   help="trial index in the stream (default 0)")
    add_convention(p)
    p.add_argument("--dt", type=float, default=100.0, help="step in ms, divides 100 (default 100)")
    p.add_argument("--out", default=None,
                   help="PNG path (default outputs/<task>_seed<S>_trial<K>.png)")
    p.set_defaults(func=cmd_show)

    p = sub.add_parser("demo", help="sample the 20 base tasks: table with measured columns, "
                                    "and one figure per family")
    p.add_argument("--out", default="outputs", help="folder for the figures (default outputs/)")
    p.add_argument("--trials", type=_positive_int, default=2000,
                   help="trials per task (default 2000)")
    p.add_argument("--seed", type=_nonnegative_int, default=0, help="stream seed (default 0)")
    add_convention(p)
    p.set_defaults(func=cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``modcog`` command line; returns the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # argparse errors (2), --help and --version (0)
        return exit_.code if isinstance(exit_.code, int) else 1
    try:
        return args.func(args)
    except ImportError as err:  # matplotlib (plotting.MissingDependency) or tqdm missing
        print(f"modcog {args.command}: {err}", file=sys.stderr)
        return 1
    except (ValueError, NotImplementedError) as err:
        print(f"modcog {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
