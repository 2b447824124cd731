"""``modcog sweep SPEC``: run, inspect and report a sweep (:mod:`agents.sweeps`).

::

    modcog sweep SPEC [--out DIR] [--backend local|slurm|ray] [--workers N] [--threads T]
    modcog sweep SPEC --status          done / running / failed / pending, one line per run
    modcog sweep SPEC --report          tidy.csv, summary.csv, groups.csv and figures

Also runnable as ``python -m agents.sweep_cli SPEC ...``.
Exit codes: 0 success, 1 when a run failed, 2 bad arguments.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def _positive(text: str) -> int:
    v = int(text)
    if v < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be an int >= 1")
    return v


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("spec", help="sweep spec (TOML; see agents/sweeps.py)")
    p.add_argument("--out", default=None, help="sweep folder (default: the spec's [sweep] out)")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--status", action="store_true", help="print run states and exit")
    mode.add_argument("--report", action="store_true", help="aggregate CSVs and figures")
    p.add_argument("--report-dir", default=None, help="where --report writes (default out/results)")
    p.add_argument("--no-figures", action="store_true", help="--report: CSVs only")
    p.add_argument("--backend", choices=("local", "slurm", "ray"), default="local")
    p.add_argument("--workers", type=_positive, default=1,
                   help="runs at once (local processes, ray CPUs / threads, "
                   "slurm array parallelism)")
    p.add_argument("--threads", type=_positive, default=1, help="torch threads per run")
    p.add_argument("--retry-failed", action="store_true", help="run failed runs again")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    g = p.add_argument_group("slurm (submitit)")
    g.add_argument("--partition", default=None)
    g.add_argument("--time", type=_positive, default=60, help="minutes per job")
    g.add_argument("--cpus", type=_positive, default=None, help="cpus per task (default --threads)")
    g.add_argument("--gpus", type=int, default=0, help="gpus per node")
    g.add_argument("--mem", type=float, default=None, help="GB per job")
    g.add_argument("--cluster", default=None, choices=("slurm", "local", "debug"),
                   help="submitit executor (default: slurm if sbatch exists, else local)")
    g = p.add_argument_group("ray")
    g.add_argument("--address", default=None, help="join this Ray cluster (default: local Ray)")


def add_sweep_parser(subparsers) -> argparse.ArgumentParser:
    """Add the ``sweep`` subcommand to an argparse subparsers object."""
    p = subparsers.add_parser("sweep", help="run a grid of training runs (resumable)",
                              description=__doc__.split("\n\n")[0])
    add_arguments(p)
    p.set_defaults(func=cmd_sweep)
    return p


def _print_status(sweep) -> None:
    from .sweep_results import eval_lines

    states = sweep.states()
    for run in sweep.runs:
        state = states[run.name]
        evals = eval_lines(run.folder / "metrics.jsonl") if state != "done" else []
        extra = f"  (evaluated up to step {evals[-1]['step']})" if evals else ""
        print(f"{state:8s} {run.name}{extra}")
    counts = {s: list(states.values()).count(s) for s in ("done", "running", "failed", "pending")}
    print(f"{sweep.name}: {len(states)} runs: " + ", ".join(f"{v} {k}" for k, v in counts.items()))


def cmd_sweep(args: argparse.Namespace) -> int:
    """Handler of ``modcog sweep``; returns the exit code."""
    from .sweeps import Sweep

    try:
        sweep = Sweep.from_spec(args.spec, out=args.out)
    except (ValueError, OSError) as exc:
        print(f"modcog sweep: {exc}", file=sys.stderr)
        return 2
    if args.status:
        _print_status(sweep)
        return 0
    if args.report:
        from .sweep_results import report

        paths = report(sweep, args.report_dir, figures=not args.no_figures)
        for name, path in paths.items():
            print(f"{name}: {path}")
        return 0
    options = {}
    if args.backend == "slurm":
        options = dict(partition=args.partition, time_min=args.time, cpus=args.cpus,
                       gpus=args.gpus, mem_gb=args.mem, cluster=args.cluster)
    elif args.backend == "ray":
        options = dict(address=args.address)
    records = sweep.run(args.backend, workers=args.workers, threads=args.threads,
                        retry_failed=args.retry_failed, progress=not args.no_progress, **options)
    failed = [r for r in records if r.get("status") == "failed"]
    for r in failed:
        err = r.get("error", {})
        print(f"failed: {r['name']}: {err.get('type')}: {err.get('message')}", file=sys.stderr)
    counts = sweep.counts()
    print(f"{sweep.name}: " + ", ".join(f"{v} {k}" for k, v in counts.items()))
    return 1 if failed else 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="modcog sweep", description=__doc__.split("\n\n")[0])
    add_arguments(parser)
    return cmd_sweep(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
