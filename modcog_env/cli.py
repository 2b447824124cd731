"""The task-suite half of the ``modcog`` command: catalogue, trial figures, speed.

::

    modcog list [--collection KEY] [--convention C] [--dt DT]  catalogue table (no sampling)
    modcog show TASK [--seed S] [--index K] [--out PATH]       PNG of one trial; prints its path
    modcog bench [--quick]                                     sampler, batches, vector env speed

``python -m modcog_env`` runs these. The installed ``modcog`` command is ``agents.cli``, which adds
``train``, ``eval`` and ``demo`` to this parser (``modcog_env`` never imports ``agents``).
``run(parser, argv)`` returns the exit code: 0 on success, 2 for a bad argument (unknown task,
convention, dt, collection...: the message, with suggestions, goes to stderr; no traceback), 1 when
an optional dependency is missing (matplotlib for ``show``; torch for the agents' commands).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence

from . import __version__
from .tasks.base import Task
from .tasks.catalog import COLLECTIONS, canonical_name, collection, family, gym_id, make_task


# ---------------------------------------------------------------------------------- helpers
def _int_at_least(low: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"{text!r} must be >= {low}")
        return value

    return parse


_positive_int, _nonnegative_int = _int_at_least(1), _int_at_least(0)


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be > 0")
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


def _task_names(names: Sequence[str]) -> list[str]:
    """Canonical names of ``--tasks`` values (space- or comma-separated); ValueError if unknown."""
    return [canonical_name(n) for item in names for n in item.split(",") if n]


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


def _timed(make, run, repeats: int) -> tuple[float, tuple[int, int]]:
    """Best wall time of ``run(make())`` over ``repeats`` fresh objects, and its (trials, steps)."""
    best, counts = float("inf"), (0, 0)
    for _ in range(repeats):
        obj = make()
        t0 = time.perf_counter()
        counts = run(obj)
        best = min(best, time.perf_counter() - t0)
    return best, counts


def cmd_bench(args: argparse.Namespace) -> int:
    from .batches import Batches
    from .vector import ModCogVectorEnv

    # trials per sampler call, repeats, batches (a multiple of Batches' prefetch), env steps, rows
    n, repeats, n_batches, n_calls, rows = (
        (200, 2, 8, 50, 16) if args.quick else (2000, 5, 32, 500, 64)
    )
    seed = args.seed

    def windows(b: Batches) -> tuple[int, int]:
        made = [b.next_window() for _ in range(n_batches)]
        return sum(int(w.trial_start.sum()) for w in made), sum(w.label.size for w in made)

    def trials(b: Batches) -> tuple[int, int]:
        made = [b.next_trials()[0] for _ in range(n_batches)]
        return sum(t.batch_size for t in made), sum(int(t.length.sum()) for t in made)

    def vector() -> ModCogVectorEnv:
        env = ModCogVectorEnv(rows, tasks="20-cog", continuous=True)
        env.reset(seed=seed)
        return env

    def play(env: ModCogVectorEnv) -> tuple[int, int]:
        ended = 0
        for _ in range(n_calls):
            *_, info = env.step(env.current_labels())
            ended += int(info["new_trial"].sum())
        return ended, rows * n_calls

    def sample(task: Task) -> tuple[int, int]:
        return n, int(task.sample(seed, range(n)).length.sum())

    cases = [
        (
            f"sampler {name}",
            f"task.sample(seed, range({n}))",
            1,
            (lambda t: lambda: t)(make_task(name)),
            sample,
        )
        for name in ("dlygo", "dm1", "dms")
    ]
    cases += [
        (
            "Batches stream",
            f"20-cog, {rows} rows x 350 steps",
            n_batches,
            lambda: Batches("20-cog", batch_size=rows, seq_len=350, seed=seed),
            windows,
        ),
        (
            "Batches trial",
            f"20-cog, {rows} rows",
            n_batches,
            lambda: Batches("20-cog", batch_size=rows, mode="trial", seed=seed),
            trials,
        ),
        ("vector env", f"20-cog, {rows} envs, oracle actions", n_calls, vector, play),
    ]
    table = []
    for what, setting, calls, make, run in cases:
        t, (n_trials, n_steps) = _timed(make, run, repeats)
        table.append(
            [
                what,
                setting,
                f"{n_trials / t:,.0f}",
                f"{1000 * t / calls:.3f}",
                f"{n_steps / t:,.0f}",
            ]
        )
    print(
        f"modcog bench{' --quick' if args.quick else ''}: in-process, best of {repeats}, "
        f"seed {seed}; steps/s counts trial steps (vector env: env steps of all rows)"
    )
    print(format_table(("what", "setting", "trials/s", "ms/call", "steps/s"), table, right=2))
    print(
        "full comparison with NeuroGym: benchmarks/bench_tasks.py (results in docs/performance.md)"
    )
    return 0


# ---------------------------------------------------------------------------------- parser
DT_HELP = "step in ms, divides 100 (default: the convention's, 100; yang2019: 20)"


def add_convention(p: argparse.ArgumentParser, default: str | None = "modcog") -> None:
    p.add_argument(
        "--convention",
        default=default,
        help="'modcog', 'reference' or 'yang2019', see docs/conventions.md (default modcog)",
    )


def add_seed(p: argparse.ArgumentParser, what: str = "stream seed") -> None:
    p.add_argument("--seed", type=_nonnegative_int, default=0, help=f"{what} (default 0)")


def subcommands(parser: argparse.ArgumentParser) -> argparse._SubParsersAction:
    """The subcommand table of a parser from :func:`build_parser`, to add commands to."""
    return next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="modcog",
        description="20-Cog and Mod-Cog cognitive tasks: catalogue, trial figures, speed "
        "(the installed `modcog` adds training, evaluation and the demo).",
    )
    parser.add_argument("--version", action="version", version=f"modcog-env {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("list", help="catalogue table: ids, families, trial lengths (no sampling)")
    p.add_argument(
        "--collection", default="20-cog", help=f"one of {', '.join(COLLECTIONS)} (default: 20-cog)"
    )
    add_convention(p)
    p.add_argument("--dt", type=float, default=None, help=DT_HELP)
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("show", help="write a PNG of one trial and print its path")
    p.add_argument("task", help="short name (dlygo), alias or gym id (ModCog-DelayGo-v0)")
    add_seed(p)
    p.add_argument(
        "--index", type=_nonnegative_int, default=0, help="trial index in the stream (default 0)"
    )
    add_convention(p)
    p.add_argument("--dt", type=float, default=None, help=DT_HELP)
    p.add_argument(
        "--out", default=None, help="PNG path (default outputs/<task>_seed<S>_trial<K>.png)"
    )
    p.set_defaults(func=cmd_show)

    p = sub.add_parser(
        "bench",
        help="quick in-process timing of the sampler, Batches and the "
        "vector env (NeuroGym comparison: benchmarks/)",
    )
    p.add_argument("--quick", action="store_true", help="a few seconds, smaller sizes")
    add_seed(p)
    p.set_defaults(func=cmd_bench)

    return parser


def run(parser: argparse.ArgumentParser, argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` with ``parser`` and run the chosen command; returns the exit code."""
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # argparse errors (2), --help and --version (0)
        return exit_.code if isinstance(exit_.code, int) else 1
    try:
        return args.func(args)
    except ImportError as err:  # matplotlib (plotting.MissingDependency), torch or tqdm missing
        hint = " (train, eval and demo need torch)" if err.name == "torch" else ""
        print(f"modcog {args.command}: {err}{hint}", file=sys.stderr)
        return 1
    except (ValueError, NotImplementedError) as err:
        print(f"modcog {args.command}: error: {err}", file=sys.stderr)
        return 2


def main(argv: Sequence[str] | None = None) -> int:
    """``list``, ``show`` and ``bench`` (``agents.cli.main`` is the full ``modcog`` command)."""
    return run(build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
