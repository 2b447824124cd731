"""Speed of supervised batches and of the native vector env, modcog_env side by side with anchors.

Four measurements, all in one process:

1. P1, 20-Cog multitask stream batches (64 x 350, input noise on): ours
   ``modcog_env.Batches("20-cog", batch_size=64, seq_len=350, mode="stream")`` (default
   ``prefetch=8`` and ``prefetch=1``; and with the numpy painter in place of the compiled
   ``modcog_env.stream_kernel``, to show what the kernel buys; with ``paint_threads=2``,
   which paints on both cores of a 2-core machine; and with ``paint_ahead=0``, each refill painted
   on the calling thread, where the default paints the next one on a helper thread, which a loop
   that does nothing but make batches cannot use) against NeuroGym 2.3.1's
   ``neurogym.Dataset(ScheduleEnvs([gym.make("yang19.<task>-v0", dt=100) for the 20 tasks],
   schedule=RandomSchedule(20), env_input=True), batch_size=64, seq_len=350)``, in ms per batch
   (target: ours >= 50x faster);
2. P1b, Mod-Cog-82 stream batches of the same size: ms per batch, the ratio to our 20-Cog figure
   and to the write floor of its own size (target: within 5x; NeuroGym ships no Mod-Cog, so this
   collection has no NeuroGym anchor);
3. the memory-write floor: allocating and filling arrays of exactly the output size
   (x float32 [350, 64, D], y int64 [350, 64]) with ``np.zeros`` + one full write and with
   ``np.empty`` + ``fill``, so the distance of each batch generator to the floor is visible;
4. P3, vector env: ``modcog_env.make_vec(task, num_envs=64)`` against
   ``gymnasium.vector.SyncVectorEnv([lambda: gym.make(id) for _ in range(64)])`` for one task
   (``dms``) and one multitask id (``20-cog``), seeded random actions, env-steps/s (one vector step
   is 64 env steps; target ours >= 20x).

Steady state: our stream batches are generated ``prefetch`` windows at a time, so a timed round of
ours covers whole refill cycles (it starts right after a refill and ends with the batch that made
the ``--cycles``-th refill, then waits for the refills it started painting ahead), which amortizes
refills exactly. NeuroGym's ``Dataset`` regenerates its
cache (one ``seq_len`` window here) on every call, so any number of calls is steady state.

Timing as ``bench_tasks.py``: ``time.perf_counter`` and ``time.process_time``, one warm-up per
contender, then ``--repeats`` rounds in which all contenders of a table run one after the other
(interleaved); each keeps its best round. PASS needs both the wall-clock and the CPU-time ratio to
meet the target. numpy and torch run on one thread (``OMP_NUM_THREADS=1`` before imports,
``torch.set_num_threads(1)``).

Run with the NeuroGym venv (``.venv-ngym/bin/python benchmarks/bench_batches.py``); without NeuroGym
the P1 anchor is skipped. ``--sections vec`` runs P3 alone (e.g. on gymnasium 1.x).
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from collections.abc import Sequence

from bench_tasks import (  # first: one thread per numeric library, repo on sys.path
    NGYM_ERROR,
    ROOT,
    Contender,
    fmt_rate,
    fmt_ratio,
    load_average,
    machine_info,
    ngym,
    progress,
    quiet_make,
    race,
    ratio,
    text_table,
    verdict,
    worst,
    write_markdown,
)

# isort: split
import gymnasium as gym
import numpy as np

import modcog_env
from modcog_env.tasks.catalog import COLLECTION_IDS, collection

P1_TARGET = 50.0  # issue 13: 20-Cog stream batches >= 50x NeuroGym's Dataset
FLOOR_TARGET = 5.0  # issue 13: within 5x of the memory-write floor (np.zeros + full write)
P3_TARGET = 20.0
SECTIONS = ("batches", "vec")
NGYM_PREFIX = "yang19."


# ------------------------------------------------------------------------------------- P1
def ours_stream(
    key: str, batch_size: int, seq_len: int, seed: int, prefetch: int, cycles: int,
    compiled: bool = True, paint_threads: int = 1, paint_ahead: int | None = None,
) -> tuple[Contender, dict]:
    """Our stream batches; a round covers ``cycles`` whole refill cycles (see module docstring).
    ``compiled=False`` paints blocks with numpy passes instead of ``modcog_env.stream_kernel``;
    ``paint_threads``: threads of the compiled painter (its CPU time counts every thread);
    ``paint_ahead``: refills painted ahead on a helper thread (None: ``Batches``' default).

    Returns the contender and a dict that collects ``batches`` and ``refills`` over all rounds.
    """
    batches = modcog_env.Batches(
        key, batch_size=batch_size, seq_len=seq_len, mode="stream", seed=seed, prefetch=prefetch,
        paint_threads=paint_threads,
        **({} if paint_ahead is None else {"paint_ahead": paint_ahead}),
    )
    counts = {"batches": 0, "refills": 0, "ob_size": batches.ob_size}
    cutter = getattr(batches, "cutter", None)  # internal; only used to align rounds to refills
    if cutter is not None and not compiled:
        cutter.compiled, cutter.ahead = False, 0  # the numpy painter paints when needed

    def until_refills(n: int) -> int:
        if cutter is None:  # pragma: no cover - fallback if the internals change
            for _ in range(n * prefetch):
                next(batches)
            return n * prefetch
        made, stop = 0, cutter.refills + n
        while cutter.refills < stop:
            next(batches)
            made += 1
        # the refills painted ahead that this round started are its work: done inside its timing,
        # not during the next contender's
        cutter.wait_painted()
        return made

    def run(rep: int) -> int:
        made = until_refills(cycles)
        counts["batches"] += made
        counts["refills"] += cycles
        return made

    return (lambda: until_refills(2), run), counts


def ngym_dataset(batch_size: int, seq_len: int, seed: int, per_round: int) -> Contender | None:
    """NeuroGym's 20-task ScheduleEnvs + RandomSchedule + env inputs inside ``neurogym.Dataset``."""
    if ngym is None:
        return None
    from neurogym.utils.scheduler import RandomSchedule
    from neurogym.wrappers import ScheduleEnvs

    ids = [f"{NGYM_PREFIX}{name}-v0" for name in collection("20-cog")]
    missing = [i for i in ids if i not in gym.registry]
    if missing:  # pragma: no cover - depends on the NeuroGym version
        progress(f"NeuroGym lacks {missing}; P1 anchor skipped")
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        envs = [quiet_make(i, dt=100) for i in ids]
        env = ScheduleEnvs(envs, schedule=RandomSchedule(len(envs)), env_input=True)
        dataset = ngym.Dataset(env, batch_size=batch_size, seq_len=seq_len)
        dataset.seed(seed)

    def run(rep: int) -> int:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for _ in range(per_round):
                dataset()
        return per_round

    return (lambda: run(0), run)


def floor_contender(shape_x: tuple, shape_y: tuple, how: str, per_round: int) -> Contender:
    """Allocate and fill one batch-sized x float32 and y int64, ``per_round`` times."""

    def run(rep: int) -> int:
        for _ in range(per_round):
            if how == "zeros":
                x = np.zeros(shape_x, np.float32)
                x[...] = 1.0
                y = np.zeros(shape_y, np.int64)
                y[...] = 1
            else:
                x = np.empty(shape_x, np.float32)
                x.fill(1.0)
                y = np.empty(shape_y, np.int64)
                y.fill(1)
            del x, y
        return per_round

    return (lambda: run(0), run)


def ms(rate: float | None) -> str:
    return "n/a" if not rate else f"{1000.0 / rate:.2f}"


Section = tuple[str, list[str], list[list[str]]]


def batches_sections(args: argparse.Namespace) -> list[Section]:
    b, length, seed = args.batch_size, args.seq_len, args.seed
    progress("building contenders (NeuroGym's Dataset deep-copies the 20-task env per row)")
    ours8, c8 = ours_stream("20-cog", b, length, seed, 8, args.cycles)
    ours1, c1 = ours_stream("20-cog", b, length, seed, 1, args.cycles_p1)
    ours_np, c_np = ours_stream("20-cog", b, length, seed, 8, args.cycles, compiled=False)
    ours_t2, c_t2 = ours_stream("20-cog", b, length, seed, 8, args.cycles, paint_threads=2)
    ours_a0, c_a0 = ours_stream("20-cog", b, length, seed, 8, args.cycles, paint_ahead=0)
    ours82, c82 = ours_stream("mod-cog-82", b, length, seed, 8, args.cycles)
    contenders: dict[str, Contender] = {"ours": ours8, "ours_p1": ours1, "ours_np": ours_np,
                                        "ours_t2": ours_t2, "ours_a0": ours_a0,
                                        "ours82": ours82}
    ng = ngym_dataset(b, length, seed, args.ngym_batches)
    if ng is not None:
        contenders["ngym"] = ng
    d20, d82 = c8["ob_size"], c82["ob_size"]
    floors = {}
    for d in (d20, d82):
        for how in ("zeros", "empty"):
            name = f"floor_{how}_{d}"
            floors[(how, d)] = name
            contenders[name] = floor_contender((length, b, d), (length, b), how, args.floor_batches)
    progress("racing P1/P1b/floor")
    wall, cpu = race(contenders, args.repeats)
    ngw, ngc = wall.get("ngym"), cpu.get("ngym")

    rows = []
    for name, label, counts in (
        ("ours", "ours, prefetch=8 (default)", c8),
        ("ours_p1", "ours, prefetch=1", c1),
        ("ours_np", "ours, numpy painter, prefetch=8", c_np),
        ("ours_t2", "ours, 2 paint threads (2 cores), prefetch=8", c_t2),
        ("ours_a0", "ours, paint_ahead=0, prefetch=8", c_a0),
    ):
        r, rc = ratio(wall[name], ngw), ratio(cpu[name], ngc)
        fz = wall[floors[("zeros", d20)]]
        rows.append(
            [
                label,
                ms(wall[name]),
                ms(cpu[name]),
                ms(ngw),
                fmt_ratio(r),
                fmt_ratio(rc),
                f">= {P1_TARGET:g}x",
                verdict(worst(r, rc), P1_TARGET),
                fmt_ratio(ratio(fz, wall[name])),
                f"{counts['refills'] / max(counts['batches'], 1):.3f}",
            ]
        )
    p1 = (
        f"P1: 20-Cog stream batches, {b} x {length}, x float32 [{length}, {b}, {d20}] with input "
        "noise; ms per batch, best round (ours: Batches('20-cog', mode='stream'); NeuroGym: "
        "Dataset(ScheduleEnvs(20 yang19 envs, RandomSchedule(20), env_input=True)))",
        [
            "contender",
            "ours ms/batch",
            "ours ms/batch (CPU)",
            "NeuroGym ms/batch",
            "speed-up",
            "speed-up (CPU time)",
            "target",
            "status",
            "ours / floor (zeros)",
            "refills per batch",
        ],
        rows,
    )

    rows_b = []
    for name, label, key in (("ours", "20-cog", "20-cog"), ("ours82", "mod-cog-82", "mod-cog-82")):
        d = d20 if key == "20-cog" else d82
        rows_b.append(
            [
                label,
                str(d),
                ms(wall[name]),
                ms(cpu[name]),
                fmt_ratio(ratio(wall["ours"], wall[name])),
                fmt_ratio(ratio(cpu["ours"], cpu[name])),
                ms(wall[floors[("zeros", d)]]),
                fmt_ratio(ratio(wall[floors[("zeros", d)]], wall[name])),
                f"<= {FLOOR_TARGET:g}x",
                verdict(max(ratio(wall[floors[("zeros", d)]], wall[name]),
                            ratio(cpu[floors[("zeros", d)]], cpu[name])),
                        FLOOR_TARGET, higher_is_better=False),  # both clocks within the target
            ]
        )
    p1b = (
        f"P1b: Mod-Cog-82 vs 20-Cog stream batches, {b} x {length}, prefetch=8; ms per batch "
        "(time ratio = this collection / 20-Cog)",
        [
            "collection",
            "D",
            "ms/batch",
            "ms/batch (CPU)",
            "time ratio",
            "time ratio (CPU)",
            "floor ms (zeros)",
            "ours / floor",
            "target",
            "status",
        ],
        rows_b,
    )

    rows_f = []
    for d in (d20, d82):
        mib = (length * b * d * 4 + length * b * 8) / 2**20
        for how, text in (("zeros", "np.zeros + full write"), ("empty", "np.empty + fill")):
            name = floors[(how, d)]
            rows_f.append([str(d), f"{mib:.2f}", text, ms(wall[name]), ms(cpu[name])])
    floor = (
        f"Memory-write floor: allocate and fill x float32 [{length}, {b}, D] and y int64 "
        f"[{length}, {b}]; ms per batch-sized pair",
        ["D", "MiB", "method", "ms/batch", "ms/batch (CPU)"],
        rows_f,
    )
    return [p1, p1b, floor]


# ------------------------------------------------------------------------------------- P3
def vec_runner(env, actions: np.ndarray, seed: int) -> Contender:
    """Step a vector env through the rows of ``actions``; items are env steps."""
    env.reset(seed=seed)
    n = actions.shape[1]

    def play(acts: np.ndarray) -> int:
        step = env.step
        for a in acts:
            step(a)
        return len(acts) * n

    return (lambda: play(actions[: max(len(actions) // 10, 1)]), lambda rep: play(actions))


def vec_section(args: argparse.Namespace) -> Section:
    n, seed, rows = args.num_envs, args.seed, []
    for task in args.vec_tasks:
        progress(f"vector env {task}")
        env_id = COLLECTION_IDS.get(task) or modcog_env.gym_id(task)
        ours = modcog_env.make_vec(task, num_envs=n)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sync = gym.vector.SyncVectorEnv([lambda i=env_id: gym.make(i) for _ in range(n)])
        n_act = int(ours.single_action_space.n)
        rng = np.random.default_rng(seed)
        acts_ours = rng.integers(0, n_act, size=(args.vec_steps, n))
        acts_sync = acts_ours[: args.sync_steps]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            runners = {
                "ours": vec_runner(ours, acts_ours, seed),
                "sync": vec_runner(sync, acts_sync, seed),
            }
            wall, cpu = race(runners, args.repeats)
        ours.close()
        sync.close()
        r, rc = ratio(wall["ours"], wall["sync"]), ratio(cpu["ours"], cpu["sync"])
        rows.append(
            [
                task,
                env_id,
                fmt_rate(wall["ours"]),
                fmt_rate(cpu["ours"]),
                fmt_rate(wall["sync"]),
                fmt_rate(cpu["sync"]),
                fmt_ratio(r),
                fmt_ratio(rc),
                f">= {P3_TARGET:g}x",
                verdict(worst(r, rc), P3_TARGET),
                f"{1e6 * n / wall['ours']:.0f}",
                f"{1e6 * n / wall['sync']:.0f}",
            ]
        )
    return (
        f"P3: vector env, {n} envs, seeded random actions; env-steps/s (one vector step = {n} env "
        f"steps; ours: make_vec(task, num_envs={n}), {args.vec_steps} vector steps per round; "
        f"anchor: SyncVectorEnv of {n} x gym.make(id), {args.sync_steps} vector steps per round)",
        [
            "task",
            "gym id",
            "ours",
            "ours (CPU)",
            "SyncVectorEnv",
            "SyncVectorEnv (CPU)",
            "speed-up",
            "speed-up (CPU time)",
            "target",
            "status",
            "ours µs/vector step",
            "Sync µs/vector step",
        ],
        rows,
    )


# ------------------------------------------------------------------------------------- profile
def profile_text(fn, top: int) -> str:
    import cProfile
    import io
    import pstats

    prof = cProfile.Profile()
    prof.enable()
    fn()
    prof.disable()
    out = io.StringIO()
    stats = pstats.Stats(prof, stream=out)
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)
    text = out.getvalue().replace(str(ROOT) + os.sep, "").replace(sys.prefix + os.sep, "<venv>/")
    return "\n".join(line.rstrip() for line in text.strip().splitlines())


def profiles(args: argparse.Namespace) -> list[tuple[str, str]]:
    out = []
    if "batches" in args.sections:
        progress("profile of our 20-cog stream")
        (warm, run), _ = ours_stream(
            "20-cog", args.batch_size, args.seq_len, args.seed, 8, args.cycles
        )
        warm()
        out.append(
            (
                f"cProfile of our 20-Cog stream, {args.cycles} refill cycles "
                f"({args.batch_size} x {args.seq_len}, prefetch=8), by tottime and by "
                "cumulative time",
                profile_text(lambda: run(0), args.top),
            )
        )
    if "vec" in args.sections:
        for task in args.vec_tasks:
            progress(f"profile of our vector env {task}")
            env = modcog_env.make_vec(task, num_envs=args.num_envs)
            acts = np.random.default_rng(args.seed).integers(
                0, int(env.single_action_space.n), size=(args.vec_steps, args.num_envs)
            )
            warm, run = vec_runner(env, acts, args.seed)
            warm()
            out.append(
                (
                    f"cProfile of our vector env {task}, {args.num_envs} envs, "
                    f"{args.vec_steps} vector steps, by tottime and by cumulative time",
                    profile_text(lambda run=run: run(0), args.top),
                )
            )
    return out


# ------------------------------------------------------------------------------------- main
def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--batch-size", type=int, default=64, help="rows per batch (default 64)")
    p.add_argument("--seq-len", type=int, default=350, help="steps per window (default 350)")
    p.add_argument("--repeats", type=int, default=5, help="timed rounds, best kept (default 5)")
    p.add_argument(
        "--cycles", type=int, default=4, help="refill cycles per round of ours, prefetch=8 (4)"
    )
    p.add_argument(
        "--cycles-p1", type=int, default=16, help="refill cycles per round of ours, prefetch=1 (16)"
    )
    p.add_argument(
        "--ngym-batches", type=int, default=3, help="NeuroGym batches per round (default 3)"
    )
    p.add_argument(
        "--floor-batches", type=int, default=20, help="allocations per floor round (default 20)"
    )
    p.add_argument("--num-envs", type=int, default=64, help="vector env width (default 64)")
    p.add_argument(
        "--vec-steps", type=int, default=2000, help="our vector steps per round (default 2000)"
    )
    p.add_argument(
        "--sync-steps", type=int, default=200, help="SyncVectorEnv steps per round (default 200)"
    )
    p.add_argument(
        "--vec-tasks", default="dms,20-cog", help="tasks/collections for P3 (default dms,20-cog)"
    )
    p.add_argument(
        "--sections",
        default=",".join(SECTIONS),
        help=f"comma-separated subset of {','.join(SECTIONS)} (batches = P1, P1b, floor; vec = P3)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of streams and random actions")
    p.add_argument("--profile", action="store_true", help="also cProfile our side of each section")
    p.add_argument("--top", type=int, default=15, help="profile rows (default 15)")
    p.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: 16 x 100 batches, 1 cycle, 1 NeuroGym batch, 200/20 vector steps, 1 round",
    )
    p.add_argument("--markdown", metavar="PATH", help="also write the tables as markdown to PATH")
    args = p.parse_args(argv)
    if args.quick:
        args.batch_size, args.seq_len, args.repeats = 16, 100, 1
        args.cycles, args.cycles_p1, args.ngym_batches, args.floor_batches = 1, 2, 1, 2
        args.num_envs, args.vec_steps, args.sync_steps = 16, 200, 20
    for name in (
        "batch_size", "seq_len", "repeats", "cycles", "cycles_p1", "ngym_batches",
        "floor_batches", "num_envs", "vec_steps", "sync_steps", "top",
    ):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be >= 1")
    args.sections = [s.strip() for s in args.sections.split(",") if s.strip()]
    bad = [s for s in args.sections if s not in SECTIONS]
    if bad or not args.sections:
        p.error(f"--sections {bad}: choose from {', '.join(SECTIONS)}")
    args.vec_tasks = [t.strip() for t in args.vec_tasks.split(",") if t.strip()]
    for t in args.vec_tasks:
        if t not in COLLECTION_IDS:
            try:
                modcog_env.canonical_name(t)
            except ValueError as exc:
                p.error(str(exc))
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    settings = (
        f"batches {args.batch_size} x {args.seq_len}; ours {args.cycles} refill cycles per round "
        f"(prefetch=1: {args.cycles_p1}), NeuroGym {args.ngym_batches} batches per round, floor "
        f"{args.floor_batches} allocations per round; vector env {args.num_envs} envs, "
        f"{args.vec_steps} (ours) / {args.sync_steps} (SyncVectorEnv) vector steps per round; "
        f"best of {args.repeats} interleaved rounds, seed {args.seed}"
    )
    print(f"machine: {machine_info()}")
    print(f"settings: {settings}")
    load_start = load_average()
    print(f"at start: {load_start}")
    if ngym is None and "batches" in args.sections:
        print(f"NeuroGym anchor of P1 skipped: neurogym is not importable ({NGYM_ERROR})")
    sections: list[Section] = []
    if "batches" in args.sections:
        sections += batches_sections(args)
    if "vec" in args.sections:
        sections.append(vec_section(args))
    profs = profiles(args) if args.profile else []
    load_end = load_average()

    for title, header, rows in sections:
        print(f"\n{title}\n")
        print(text_table(header, rows))
    for title, text in profs:
        print(f"\n{title}\n")
        print(text)
    print(f"\nat end: {load_end}")

    if args.markdown:
        write_markdown(args.markdown, "bench_batches.py", argv or sys.argv[1:], machine_info(),
                       settings, (load_start, load_end), sections, profiles=profs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
