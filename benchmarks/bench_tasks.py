"""Speed of the task sampler and of ``env.step``, modcog_env side by side with NeuroGym.

Three measurements, all in one process:

1. sampler: ours ``task.sample(seed, range(n))`` (one vectorized call) against NeuroGym's
   top-level ``new_trial()`` called ``n`` times, in trials/s (target: ours >= 20x). Ours one trial
   per call (what an env reset costs) is an extra column;
2. step: ``gym.make`` envs stepped with seeded random actions, in steps/s. Ours plays one trial
   per episode and is reset on termination; NeuroGym chains trials and never terminates. Ours with
   ``continuous=True`` (trials chained inside the env) is an extra column (target: ours >= 2x);
3. modifiers: our sampler on one base per family and its ``int``/``seq``/``int seq`` variants,
   in trials/s, and the cost ratio variant time / base time (target < 2x).

Timing: ``time.perf_counter``, a warm-up per contender, then ``--repeats`` rounds in which the
contenders of one row (e.g. ours and NeuroGym on dms) run one after the other; each keeps its best
round. Interleaving makes a ratio robust to load that changes during the run. The ratio by CPU time
(``time.process_time``) is printed next to it; PASS needs both clocks to meet the target.

Run with the NeuroGym venv (``.venv-ngym/bin/python benchmarks/bench_tasks.py``). Without
NeuroGym the script measures our side only and says the comparison was skipped.
``--profile`` adds a cProfile of our episodic step loop.
"""

from __future__ import annotations

import os

# single-threaded numeric libraries, set before numpy/torch are imported
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from collections.abc import Callable, Sequence  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import gymnasium as gym  # noqa: E402

import modcog_env  # noqa: E402
from modcog_env import make_task  # noqa: E402

try:  # NeuroGym imports torch; keep it on one thread like numpy
    import torch

    torch.set_num_threads(1)
except ImportError:  # pragma: no cover - depends on the venv
    torch = None

try:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import neurogym as ngym
    NGYM_ERROR = ""
except Exception as exc:  # pragma: no cover - depends on the venv
    ngym = None
    NGYM_ERROR = f"{type(exc).__name__}: {exc}"

SAMPLER_TARGET = 20.0
STEP_TARGET = 2.0
MODIFIER_TARGET = 2.0
DEFAULT_TASKS = ("dlygo", "dm1", "dms")
DEFAULT_MOD_BASES = ("dlygo", "dlydm1", "dms")
MODIFIERS = ("intr", "seqr", "intrseql")
NGYM_PREFIX = "yang19."

# A contender: (warm-up, timed run). The run gets the round number and returns the items done.
Contender = tuple[Callable[[], object], Callable[[int], int]]


# ------------------------------------------------------------------------------------- helpers
def race(
    contenders: dict[str, Contender], repeats: int
) -> tuple[dict[str, float], dict[str, float]]:
    """Best items/s of each contender: warm-ups first, then ``repeats`` interleaved rounds.

    Returns (wall, cpu): best rates by ``time.perf_counter`` (the reported numbers) and by
    ``time.process_time`` (a cross-check that ignores time the process spent descheduled, which
    on a busy machine favours short rounds in wall-clock best-of timing).
    """
    for warmup, _ in contenders.values():
        warmup()
    wall = dict.fromkeys(contenders, 0.0)
    cpu = dict.fromkeys(contenders, 0.0)
    for rep in range(repeats):
        for name, (_, run) in contenders.items():
            c0, t0 = time.process_time(), time.perf_counter()
            items = run(rep)
            t1, c1 = time.perf_counter(), time.process_time()
            wall[name] = max(wall[name], items / (t1 - t0))
            cpu[name] = max(cpu[name], items / max(c1 - c0, 1e-9))
    return wall, cpu


def ngym_id(task: str) -> str | None:
    """The registered NeuroGym id of a short task name, if NeuroGym has it."""
    if ngym is None:
        return None
    env_id = f"{NGYM_PREFIX}{task}-v0"
    return env_id if env_id in gym.registry else None


def quiet_make(env_id: str, **kwargs: object) -> gym.Env:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return gym.make(env_id, **kwargs)


def verdict(ratio: float | None, target: float, higher_is_better: bool = True) -> str:
    if ratio is None:
        return "skipped"
    ok = ratio >= target if higher_is_better else ratio < target
    return "PASS" if ok else "MISS"


def fmt_rate(x: float | None) -> str:
    return "n/a" if x is None else f"{x:,.0f}"


def fmt_ratio(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.1f}x" if x >= 10 else f"{x:.2f}x"


def fmt_len(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.1f}"


def ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a and b else None


def worst(a: float | None, b: float | None) -> float | None:
    """The smaller of two speed-up ratios (None if either is missing): a target is met only if
    both clocks meet it."""
    return None if a is None or b is None else min(a, b)


def progress(msg: str) -> None:
    print(f"  .. {msg}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------------- sampler
def ours_batch(task: str, n: int, seed: int) -> tuple[Contender, float]:
    """``task.sample(seed', range(n))``, a fresh seed each round; and the mean trial length."""
    tk = make_task(task)
    mean_len = float(tk.sample(seed, range(n)).length.mean())

    def run(rep: int) -> int:
        tk.sample(seed + 1 + rep, range(n))
        return n

    return (lambda: tk.sample(seed, range(n)), run), mean_len


def ours_single(task: str, n: int, seed: int) -> Contender:
    """``task.sample(seed, [k])``, one trial per call (what an env reset costs)."""
    tk = make_task(task)
    m = min(n, 200)

    def run(rep: int) -> int:
        sample = tk.sample
        for k in range(rep * m, (rep + 1) * m):
            sample(seed, [k])
        return m

    return (lambda: [tk.sample(seed, [k]) for k in range(10)], run)


def ngym_top(env: gym.Env) -> gym.Env:
    """The outermost layer of a NeuroGym env that defines ``new_trial``.

    For yang19 go- and match-family envs it is the ``ScheduleEnvs`` that picks the modality (what
    NeuroGym's own ``step`` calls when a trial ends); for the DM family it is the task itself.
    """
    layer = env
    while not hasattr(type(layer), "new_trial"):
        layer = layer.env
    return layer


def ngym_batch(env_id: str, n: int, seed: int) -> tuple[Contender, float]:
    """``n`` calls to NeuroGym's top-level ``new_trial()``; and the mean trial length."""
    env = quiet_make(env_id)
    env.reset(seed=seed)
    top = ngym_top(env)
    lengths = []
    for _ in range(min(n, 200)):
        top.new_trial()
        lengths.append(top.unwrapped.ob.shape[0])

    def run(rep: int) -> int:
        new_trial = top.new_trial
        for _ in range(n):
            new_trial()
        return n

    return (lambda: None, run), float(np.mean(lengths))


# ------------------------------------------------------------------------------------- step
def stepper(env: gym.Env, steps: int, seed: int) -> Contender:
    """Play ``steps`` seeded random actions, resetting whenever an episode ends."""
    actions = np.random.default_rng(seed).integers(0, env.action_space.n, size=steps).tolist()
    env.reset(seed=seed)

    def play(acts: Sequence[int]) -> int:
        step, reset = env.step, env.reset
        for a in acts:
            _, _, terminated, truncated, _ = step(a)
            if terminated or truncated:
                reset()
        return len(acts)

    return (lambda: play(actions[: max(steps // 10, 1)]), lambda rep: play(actions))


# ------------------------------------------------------------------------------------- profile
def profile_steps(task: str, steps: int, seed: int, top: int = 12) -> str:
    """cProfile of our episodic step loop: the ``top`` functions by total time, as text."""
    import cProfile
    import io
    import pstats

    env = quiet_make(modcog_env.gym_id(task))
    _, run = stepper(env, steps, seed)
    prof = cProfile.Profile()
    prof.enable()
    run(0)
    prof.disable()
    env.close()
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(top)
    text = out.getvalue().replace(str(ROOT) + os.sep, "").replace(sys.prefix + os.sep, "<venv>/")
    return "\n".join(line.rstrip() for line in text.strip().splitlines())


# ------------------------------------------------------------------------------------- tables
def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    right = ["---:" if i else "---" for i in range(len(header))]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(right) + " |"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def text_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows, strict=True)]
    fmt = "  ".join(f"{{:<{w}}}" if i == 0 else f"{{:>{w}}}" for i, w in enumerate(widths))
    sep = "  ".join("-" * w for w in widths)
    return "\n".join([fmt.format(*header), sep] + [fmt.format(*r) for r in rows])


def write_markdown(
    path: str,
    script: str,
    argv: Sequence[str],
    machine: str,
    settings: str,
    loads: tuple[str, str],
    sections: Sequence[tuple[str, Sequence[str], Sequence[Sequence[str]]]],
    notes: Sequence[str] = (),
    profiles: Sequence[tuple[str, str]] = (),
) -> None:
    """Write a benchmark run as markdown: command, machine, settings, tables, profiles."""
    cmd = " ".join(["python", f"benchmarks/{script}", *argv])
    parts = [
        f"Command: `{cmd}`",
        "",
        f"Machine: {machine}",
        "",
        f"Settings: {settings}. System {loads[0]} at start, {loads[1]} at end.",
        "",
    ]
    for note in notes:
        parts += [note, ""]
    for title, header, rows in sections:
        parts += [f"**{title}**", "", markdown_table(header, rows), ""]
    for title, text in profiles:
        parts += [f"**{title}**", "", "```text", text, "```", ""]
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(parts).rstrip() + "\n")
    print(f"markdown written to {out}")


def machine_info() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = [
        f"Python {platform.python_version()}",
        f"numpy {np.__version__}",
        f"gymnasium {gym.__version__}",
        f"modcog_env {modcog_env.__version__}",
    ]
    if ngym is not None:
        versions.append(f"neurogym {getattr(ngym, '__version__', '?')}")
    if torch is not None:
        versions.append(f"torch {torch.__version__} (set_num_threads(1))")
    return (
        f"{cpu}, {os.cpu_count()} logical CPUs, {platform.system()} {platform.release()}; "
        + ", ".join(versions)
        + f"; OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}"
    )


def load_average() -> str:
    try:
        return "load average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())
    except OSError:  # pragma: no cover - platform dependent
        return "load average n/a"


# ------------------------------------------------------------------------------------- main
def split_names(text: str) -> list[str]:
    """Canonical short names of a comma-separated list (``ValueError`` for unknown names)."""
    return [modcog_env.canonical_name(t.strip()) for t in text.split(",") if t.strip()]


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=1000, help="trials per sampler call (default 1000)")
    p.add_argument(
        "--steps", type=int, default=20000, help="env steps per timed run (default 20000)"
    )
    p.add_argument("--repeats", type=int, default=5, help="timed rounds, best kept (default 5)")
    p.add_argument(
        "--tasks",
        default=",".join(DEFAULT_TASKS),
        help="comma-separated tasks for the NeuroGym comparison "
        f"(default {','.join(DEFAULT_TASKS)})",
    )
    p.add_argument(
        "--mod-bases",
        default=",".join(DEFAULT_MOD_BASES),
        help="comma-separated bases for the modifier table; each must take int "
        f"(default {','.join(DEFAULT_MOD_BASES)})",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of trials and random actions")
    p.add_argument(
        "--profile",
        action="store_true",
        help="also print a cProfile of our episodic step loop per task",
    )
    p.add_argument("--quick", action="store_true", help="smoke run: n=100, steps=2000, repeats=2")
    p.add_argument("--markdown", metavar="PATH", help="also write the tables as markdown to PATH")
    args = p.parse_args(argv)
    if args.quick:
        args.n, args.steps, args.repeats = 100, 2000, 2
    for name in ("n", "steps", "repeats"):
        if getattr(args, name) < 1:
            p.error(f"--{name} must be >= 1")
    try:
        args.tasks = split_names(args.tasks)
        args.mod_bases = split_names(args.mod_bases)
    except ValueError as exc:
        p.error(str(exc))
    bad = [b for b in args.mod_bases if b not in modcog_env.INT_BASES]
    if bad:
        p.error(
            f"--mod-bases {bad} take no int modifier; allowed: {', '.join(modcog_env.INT_BASES)}"
        )
    return args


Section = tuple[str, list[str], list[list[str]]]


def sampler_section(args: argparse.Namespace) -> Section:
    n, rows = args.n, []
    for task in args.tasks:
        progress(f"sampler {task}")
        batch, ours_len = ours_batch(task, n, args.seed)
        contenders = {"ours": batch, "single": ours_single(task, n, args.seed)}
        env_id = ngym_id(task)
        ng_len = None
        if env_id:
            contenders["ngym"], ng_len = ngym_batch(env_id, n, args.seed)
        best, cpu = race(contenders, args.repeats)
        ng = best.get("ngym")
        r = ratio(best["ours"], ng)
        rows.append(
            [
                task,
                fmt_rate(best["ours"]),
                fmt_rate(ng),
                fmt_ratio(r),
                fmt_ratio(ratio(cpu["ours"], cpu.get("ngym"))),
                f">= {SAMPLER_TARGET:g}x",
                verdict(worst(r, ratio(cpu["ours"], cpu.get("ngym"))), SAMPLER_TARGET),
                fmt_rate(best["single"]),
                fmt_ratio(ratio(best["single"], ng)),
                fmt_len(ours_len),
                fmt_len(ng_len),
                env_id or "n/a",
            ]
        )
    title = (
        f"Sampler: trials/s (ours: task.sample(seed, range({n})); NeuroGym: {n} x new_trial(); "
        "ours 1 trial/call: task.sample(seed, [k]))"
    )
    header = [
        "task",
        "ours",
        "NeuroGym",
        "ratio",
        "ratio (CPU time)",
        "target",
        "status",
        "ours 1 trial/call",
        "ratio 1/call",
        "ours steps/trial",
        "NeuroGym steps/trial",
        "NeuroGym id",
    ]
    return title, header, rows


def step_section(args: argparse.Namespace) -> Section:
    steps, seed, rows = args.steps, args.seed, []
    for task in args.tasks:
        progress(f"step {task}")
        ours_id = modcog_env.gym_id(task)
        envs = {"ours": quiet_make(ours_id), "cont": quiet_make(ours_id, continuous=True)}
        env_id = ngym_id(task)
        if env_id:
            envs["ngym"] = quiet_make(env_id)
        best, cpu = race({k: stepper(e, steps, seed) for k, e in envs.items()}, args.repeats)
        for env in envs.values():
            env.close()
        ng = best.get("ngym")
        r = ratio(best["ours"], ng)
        rows.append(
            [
                task,
                fmt_rate(best["ours"]),
                fmt_rate(best["cont"]),
                fmt_rate(ng),
                fmt_ratio(r),
                fmt_ratio(ratio(cpu["ours"], cpu.get("ngym"))),
                fmt_ratio(ratio(best["cont"], ng)),
                f">= {STEP_TARGET:g}x",
                verdict(worst(r, ratio(cpu["ours"], cpu.get("ngym"))), STEP_TARGET),
            ]
        )
    return (
        f"env.step: steps/s through gym.make, seeded random actions, {steps} steps per round "
        "(ours: reset on termination; ours continuous=True: no resets; "
        "NeuroGym never terminates)",
        [
            "task",
            "ours",
            "ours continuous",
            "NeuroGym",
            "ratio",
            "ratio (CPU time)",
            "ratio continuous",
            "target",
            "status",
        ],
        rows,
    )


def modifier_section(args: argparse.Namespace) -> Section:
    n, rows = args.n, []
    for base in args.mod_bases:
        progress(f"modifiers {base}")
        names = [base] + [base + m for m in MODIFIERS]
        contenders, lengths = {}, {}
        for name in names:
            contenders[name], lengths[name] = ours_batch(name, n, args.seed)
        best, cpu = race(contenders, args.repeats)
        for name in names:
            # time per trial of the variant / time of the base, by wall clock and by CPU time
            cost, cost_cpu = best[base] / best[name], cpu[base] / cpu[name]
            is_base = name == base
            rows.append(
                [
                    name,
                    fmt_rate(best[name]),
                    fmt_len(lengths[name]),
                    fmt_ratio(cost),
                    fmt_ratio(cost_cpu),
                    "" if is_base else f"< {MODIFIER_TARGET:g}x",
                    ""
                    if is_base
                    else verdict(max(cost, cost_cpu), MODIFIER_TARGET, higher_is_better=False),
                ]
            )
    return (
        f"Mod-Cog modifiers: our sampler, trials/s at n={n}; cost = variant time / base time",
        ["task", "trials/s", "steps/trial", "cost", "cost (CPU time)", "target", "status"],
        rows,
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    have_ngym = ngym is not None
    settings = (
        f"n={args.n} trials per sampler call, {args.steps} steps per step round, "
        f"best of {args.repeats} interleaved rounds, seed {args.seed}"
    )
    print(f"machine: {machine_info()}")
    print(f"settings: {settings}")
    print(f"at start: {load_average()}")
    if not have_ngym:
        print(f"NeuroGym comparison skipped: neurogym is not importable ({NGYM_ERROR})")
    load_start = load_average()
    sections = [sampler_section(args), step_section(args), modifier_section(args)]
    profiles = []
    if args.profile:
        for task in args.tasks:
            progress(f"profile {task}")
            profiles.append((task, profile_steps(task, args.steps, args.seed)))
    load_end = load_average()

    for title, header, rows in sections:
        print(f"\n{title}\n")
        print(text_table(header, rows))
    for task, text in profiles:
        print(f"\ncProfile of our episodic step loop, {task}, {args.steps} steps (by tottime)\n")
        print(text)
    print(f"\nat end: {load_end}")
    if not have_ngym:
        print("NeuroGym comparison skipped (neurogym not importable); ratios are n/a.")

    if args.markdown:
        notes = [] if have_ngym else [f"NeuroGym comparison skipped: {NGYM_ERROR}"]
        titled = [
            (f"cProfile of our episodic step loop, {task}, {args.steps} steps (by tottime)", text)
            for task, text in profiles
        ]
        write_markdown(args.markdown, "bench_tasks.py", argv or sys.argv[1:], machine_info(),
                       settings, (load_start, load_end), sections, notes, titled)
    return 0


if __name__ == "__main__":
    sys.exit(main())
