"""Speed of training the agents: data generation vs a training step, and masked vs dense recurrence.

Two measurements, in one process:

1. P4, data share of a training step: ``next(batches)`` of
   ``modcog_env.Batches("20-cog", batch_size=64, seq_len=350, with_mask=True, output="torch",
   loss_weights="all")`` (what ``agents.Trainer`` draws) timed separately from one training step of
   an LM-RNN (``agents.LMRNN``, N=256, the TrainConfig defaults: sheet, radius 3): forward, weighted
   cross-entropy, backward, gradient clipping at 1.0 and an Adam step. Share = data / (data + step);
   target <= 5%. Run once per ``--threads`` value (torch.set_num_threads; default 1 and 2); numpy
   (the data side) is single-threaded throughout;
2. P5, forward + backward (weighted cross-entropy, ``backward()``; no optimizer) of an LM-RNN at 5%
   density against a dense RNN at N = 256, 512, 1024 (target: LM time <= 1.1x dense), and of the
   autapse pool against dense at N = 1024 (target: autapse >= 5x faster). B=64, L=``--p5-seq-len``
   (default 350), one fixed 20-Cog batch as input. The LM mask is a 2-D sheet where N is a perfect
   square and a 1-D ring otherwise (N=512), at the density nearest 5%.

Timing as ``bench_tasks.py``: ``time.perf_counter`` and ``time.process_time``, a warm-up per
contender, ``--repeats`` interleaved rounds, best round kept; PASS needs both clocks to meet the
target. P4 rounds cover whole refill cycles of the batch stream (``--cycles``), so the cost of the
refills is amortized exactly; the share is computed from the best round of each side and, as a
cross-check, from the totals over all rounds. With 2 torch threads the CPU time of the training
step counts both threads.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Sequence

from bench_tasks import (
    load_average,
    machine_info,
    progress,
    race,
    text_table,
    verdict,
    write_markdown,
)

try:
    import torch
except ImportError:  # pragma: no cover - depends on the venv
    sys.exit("bench_agents.py needs torch (use .venv-ngym or .venv-gym1)")

import modcog_env
from agents import LMRNN, AutapsePool, DenseRNN, masks, weighted_cross_entropy

P4_TARGET = 0.05
P5_LM_TARGET = 1.1
P5_AUTAPSE_TARGET = 5.0
LM_DENSITY = 0.05


# ------------------------------------------------------------------------------------- P4
def p4_run(args: argparse.Namespace, threads: int) -> dict[str, float]:
    """Interleaved data / training-step timing; returns best and total per-batch times (s)."""
    torch.set_num_threads(threads)
    torch.manual_seed(args.seed)
    batches = modcog_env.Batches(
        "20-cog",
        batch_size=args.batch_size,
        seq_len=args.seq_len,
        seed=args.seed,
        loss_weights="all",
        with_mask=True,
        output="torch",
    )
    model = LMRNN(
        input_size=batches.ob_size, output_size=batches.n_actions, hidden_size=args.hidden_size
    )
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    cutter = getattr(batches, "cutter", None)  # internal; only used to align rounds to refills

    def iteration(acc: dict[str, float]) -> None:
        c0, t0 = time.process_time(), time.perf_counter()
        x, y, w = next(batches)
        c1, t1 = time.process_time(), time.perf_counter()
        loss = weighted_cross_entropy(model(x), y, w)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        loss.item()
        c2, t2 = time.process_time(), time.perf_counter()
        acc["data"] += t1 - t0
        acc["data_cpu"] += c1 - c0
        acc["train"] += t2 - t1
        acc["train_cpu"] += c2 - c1
        acc["n"] += 1

    def cycles(n: int, acc: dict[str, float]) -> None:
        if cutter is None:  # pragma: no cover - fallback if the internals change
            for _ in range(8 * n):
                iteration(acc)
            return
        done, block = 0, cutter.block
        while done < n:
            iteration(acc)
            if cutter.block is not block:
                done, block = done + 1, cutter.block

    keys = ("data", "data_cpu", "train", "train_cpu")
    cycles(1, dict.fromkeys((*keys, "n"), 0.0))  # warm-up: first fill, allocator, autograd
    best = dict.fromkeys(keys, math.inf)
    total = dict.fromkeys((*keys, "n"), 0.0)
    for rep in range(args.repeats):
        progress(f"P4 threads={threads} round {rep + 1}/{args.repeats}")
        acc = dict.fromkeys((*keys, "n"), 0.0)
        cycles(args.cycles, acc)
        for k in keys:
            best[k] = min(best[k], acc[k] / acc["n"])
            total[k] += acc[k]
        total["n"] += acc["n"]
    out = {f"best_{k}": v for k, v in best.items()}
    out.update({f"mean_{k}": total[k] / total["n"] for k in keys})
    out["batches"] = total["n"]
    out["density"] = masks.density(model.mask.numpy()) if model.mask is not None else 1.0
    return out


def share(data: float, train: float) -> float:
    return data / (data + train)


def p4_section(args: argparse.Namespace) -> tuple[str, list[str], list[list[str]]]:
    rows = []
    density = None
    for threads in args.threads:
        r = p4_run(args, threads)
        density = r["density"]
        s = share(r["best_data"], r["best_train"])
        s_cpu = share(r["best_data_cpu"], r["best_train_cpu"])
        s_mean = share(r["mean_data"], r["mean_train"])
        rows.append(
            [
                str(threads),
                f"{1e3 * r['best_data']:.1f}",
                f"{1e3 * r['best_data_cpu']:.1f}",
                f"{1e3 * r['best_train']:.0f}",
                f"{1e3 * r['best_train_cpu']:.0f}",
                f"{100 * s:.2f}%",
                f"{100 * s_cpu:.2f}%",
                f"{100 * s_mean:.2f}%",
                f"<= {100 * P4_TARGET:g}%",
                verdict(max(s, s_cpu), P4_TARGET, higher_is_better=False),
                str(int(r["batches"])),
            ]
        )
    title = (
        f"P4: data generation as a share of one training step; 20-Cog stream batches "
        f"{args.batch_size} x {args.seq_len} (prefetch=8) vs LM-RNN N={args.hidden_size} (sheet, "
        f"radius 3, density {density:.3f}) forward + weighted CE + backward + clip + Adam; best "
        "round of each side (ms per batch / per step)"
    )
    header = [
        "torch threads",
        "data ms",
        "data ms (CPU)",
        "train step ms",
        "train step ms (CPU)",
        "data share",
        "data share (CPU)",
        "data share (all rounds)",
        "target",
        "status",
        "batches timed",
    ]
    return title, header, rows


# ------------------------------------------------------------------------------------- P5
def lm_model(n: int, input_size: int, output_size: int):
    side = math.isqrt(n)
    geometry = "sheet" if side * side == n else "ring"
    model = LMRNN(
        input_size=input_size,
        output_size=output_size,
        hidden_size=n,
        geometry=geometry,
        radius=None,
        density=LM_DENSITY,
    )
    return model, geometry, masks.density(model.mask.numpy())


def fwd_bwd(model, x, y, w):
    """Contender: one forward + backward of ``model`` on the fixed batch."""

    def run(rep: int) -> int:
        model.zero_grad(set_to_none=True)
        loss = weighted_cross_entropy(model(x), y, w)
        loss.backward()
        return 1

    return (lambda: run(0), run)


def p5_section(args: argparse.Namespace) -> tuple[str, list[str], list[list[str]]]:
    torch.set_num_threads(args.p5_threads)
    torch.manual_seed(args.seed)
    batches = modcog_env.Batches(
        "20-cog",
        batch_size=args.batch_size,
        seq_len=args.p5_seq_len,
        seed=args.seed,
        loss_weights="all",
        with_mask=True,
        output="torch",
    )
    x, y, w = next(batches)
    d, a = batches.ob_size, batches.n_actions
    rows = []
    for n in args.sizes:
        progress(f"P5 N={n}")
        lm, geometry, dens = lm_model(n, d, a)
        models = {"lm": lm, "dense": DenseRNN(input_size=d, output_size=a, hidden_size=n)}
        if n in args.autapse_sizes:
            models["autapse"] = AutapsePool(input_size=d, output_size=a, hidden_size=n)
        for m in models.values():
            m.train()
        wall, cpu = race({k: fwd_bwd(m, x, y, w) for k, m in models.items()}, args.repeats)
        # rates are 1 / seconds; time ratio model / dense = dense rate / model rate
        t_lm, t_lm_cpu = wall["dense"] / wall["lm"], cpu["dense"] / cpu["lm"]
        rows.append(
            [
                str(n),
                f"LM-RNN ({geometry}, density {dens:.3f}) vs dense",
                f"{1e3 / wall['lm']:.0f}",
                f"{1e3 / wall['dense']:.0f}",
                f"{t_lm:.2f}x",
                f"{t_lm_cpu:.2f}x",
                f"<= {P5_LM_TARGET:g}x",
                verdict(max(t_lm, t_lm_cpu), P5_LM_TARGET, higher_is_better=False),
            ]
        )
        if "autapse" in models:
            sp, sp_cpu = wall["autapse"] / wall["dense"], cpu["autapse"] / cpu["dense"]
            rows.append(
                [
                    str(n),
                    "autapse pool vs dense (speed-up)",
                    f"{1e3 / wall['autapse']:.0f}",
                    f"{1e3 / wall['dense']:.0f}",
                    f"{sp:.2f}x faster",
                    f"{sp_cpu:.2f}x faster",
                    f">= {P5_AUTAPSE_TARGET:g}x faster",
                    verdict(min(sp, sp_cpu), P5_AUTAPSE_TARGET),
                ]
            )
    title = (
        f"P5: forward + backward ms, B={args.batch_size}, L={args.p5_seq_len}, torch threads "
        f"{args.p5_threads}; time ratio = model / dense (LM-RNN), speed-up = dense / model "
        "(autapse)"
    )
    header = ["N", "comparison", "model ms", "dense ms", "ratio", "ratio (CPU)", "target", "status"]
    return title, header, rows


# ------------------------------------------------------------------------------------- profile
def profile_text(args: argparse.Namespace) -> str:
    """torch.profiler of one LM-RNN forward + backward at N=hidden_size (op self-time table)."""
    from torch.profiler import ProfilerActivity, profile

    torch.set_num_threads(args.p5_threads)
    batches = modcog_env.Batches(
        "20-cog", batch_size=args.batch_size, seq_len=args.p5_seq_len, seed=args.seed,
        loss_weights="all", with_mask=True, output="torch",
    )
    x, y, w = next(batches)
    model, _, _ = lm_model(args.hidden_size, batches.ob_size, batches.n_actions)
    warm, run = fwd_bwd(model, x, y, w)
    warm()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        run(0)
    table = prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=args.top)
    return "\n".join(line.rstrip() for line in table.strip().splitlines())


# ------------------------------------------------------------------------------------- main
def int_list(text: str) -> list[int]:
    return [int(t) for t in text.split(",") if t.strip()]


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--batch-size", type=int, default=64, help="batch size B (default 64)")
    p.add_argument("--seq-len", type=int, default=350, help="P4 window length L (default 350)")
    p.add_argument("--hidden-size", type=int, default=256, help="P4 LM-RNN units (default 256)")
    p.add_argument(
        "--threads", default="1,2", help="P4 torch thread counts, comma-separated (default 1,2)"
    )
    p.add_argument(
        "--cycles", type=int, default=1, help="P4 refill cycles (8 batches each) per round (1)"
    )
    p.add_argument("--sizes", default="256,512,1024", help="P5 hidden sizes (default 256,512,1024)")
    p.add_argument("--autapse-sizes", default="1024", help="P5 sizes with the autapse pool (1024)")
    p.add_argument("--p5-seq-len", type=int, default=350, help="P5 sequence length (default 350)")
    p.add_argument("--p5-threads", type=int, default=1, help="P5 torch threads (default 1)")
    p.add_argument("--repeats", type=int, default=3, help="timed rounds, best kept (default 3)")
    p.add_argument("--sections", default="p4,p5", help="comma-separated subset of p4,p5")
    p.add_argument("--seed", type=int, default=0, help="seed of streams and weights")
    p.add_argument(
        "--profile", action="store_true", help="also print a torch.profiler table of P5 LM-RNN"
    )
    p.add_argument("--top", type=int, default=12, help="profile rows (default 12)")
    p.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: B=16, L=50, N=64 (P4) and 64,256 (P5), 1 round, threads 1",
    )
    p.add_argument("--markdown", metavar="PATH", help="also write the tables as markdown to PATH")
    args = p.parse_args(argv)
    try:
        args.threads = int_list(args.threads)
        args.sizes = int_list(args.sizes)
        args.autapse_sizes = int_list(args.autapse_sizes)
    except ValueError as exc:
        p.error(str(exc))
    if args.quick:
        args.batch_size, args.seq_len, args.p5_seq_len, args.repeats = 16, 50, 50, 1
        args.hidden_size, args.sizes, args.autapse_sizes, args.threads = 64, [64, 256], [256], [1]
    for name in ("batch_size", "seq_len", "hidden_size", "cycles", "p5_seq_len", "p5_threads",
                 "repeats", "top"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be >= 1")
    if not args.threads or min(args.threads) < 1 or not args.sizes or min(args.sizes) < 1:
        p.error("--threads and --sizes need positive integers")
    args.sections = [s.strip() for s in args.sections.split(",") if s.strip()]
    if not args.sections or any(s not in ("p4", "p5") for s in args.sections):
        p.error("--sections: choose from p4, p5")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    machine = machine_info().replace(" (set_num_threads(1))", " (threads set per table)")
    settings = (
        f"B={args.batch_size}; P4 L={args.seq_len}, N={args.hidden_size}, torch threads "
        f"{args.threads}, {args.cycles} refill cycle(s) per round; P5 L={args.p5_seq_len}, "
        f"N={args.sizes}, autapse at {args.autapse_sizes}, torch threads {args.p5_threads}; "
        f"best of {args.repeats} rounds, seed {args.seed}"
    )
    print(f"machine: {machine}")
    print(f"settings: {settings}")
    load_start = load_average()
    print(f"at start: {load_start}")
    sections = []
    if "p4" in args.sections:
        sections.append(p4_section(args))
    if "p5" in args.sections:
        sections.append(p5_section(args))
    prof = profile_text(args) if args.profile else ""
    load_end = load_average()
    prof_title = (
        f"torch.profiler of one LM-RNN forward + backward, N={args.hidden_size}, "
        f"B={args.batch_size}, L={args.p5_seq_len} (ops by self CPU time)"
    )
    for title, header, rows in sections:
        print(f"\n{title}\n")
        print(text_table(header, rows))
    if prof:
        print(f"\n{prof_title}\n\n{prof}")
    print(f"\nat end: {load_end}")
    if args.markdown:
        write_markdown(args.markdown, "bench_agents.py", argv or sys.argv[1:], machine, settings,
                       (load_start, load_end), sections,
                       profiles=[(prof_title, prof)] if prof else ())
    return 0


if __name__ == "__main__":
    sys.exit(main())
