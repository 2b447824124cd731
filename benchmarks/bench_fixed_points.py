"""Speed of the batched fixed-point finder: 1024 initial states of an N=256 model.

One measurement: :func:`agents.analysis.find_fixed_points` (Adam in float32, then Newton polish
with ``torch.func`` Jacobians in float64, dedup, eigenvalues) on a dense ReLU RNN of N=256
(``agents.DenseRNN``, input layout of ``dlygo``) under ``dlygo``'s delay-period input, from 1024
initial states drawn from the model's own delay-period states (+10% noise). By default the model
is untrained (seed 0, ``--rec-gain`` 0.9); ``--checkpoint`` uses a trained one instead (its task
must be ``--task``). Target: under 30 s of wall time on CPU. ``--device cuda`` times it on a GPU.

Anchor, measured in the same run: one forward pass of the model over the 256 trials the initial
states come from (``model(x)``, no grad). Wall (``perf_counter``) and CPU (``process_time``)
clocks; ``--repeats`` runs, best kept. Run with ``OMP_NUM_THREADS=1`` semantics (one torch
thread unless ``--threads``).

    python benchmarks/bench_fixed_points.py [--threads 1] [--repeats 1] [--device cpu]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402

import torch  # noqa: E402


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def timed(fn):
    w, c = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - w, time.process_time() - c


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=256, help="hidden units (default 256)")
    p.add_argument("--k", type=int, default=1024, help="initial states (default 1024)")
    p.add_argument("--task", default="dlygo")
    p.add_argument("--rec-gain", type=float, default=0.9)
    p.add_argument("--checkpoint", default=None)
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--repeats", type=int, default=1)
    args = p.parse_args()
    torch.set_num_threads(args.threads)

    from agents import DenseRNN
    from agents.analysis import find_fixed_points, initial_states, rollout, task_trials
    from agents.checkpoints import load_checkpoint, load_model

    if args.checkpoint:
        model = load_model(args.checkpoint, device=args.device)
        from agents.analysis import checkpoint_trials

        batch = checkpoint_trials(load_checkpoint(args.checkpoint), args.task, n_trials=256)
    else:
        batch = task_trials(args.task, n_trials=256)
        torch.manual_seed(0)
        model = DenseRNN(input_size=batch.ob.shape[2], hidden_size=args.n,
                         rec_gain=args.rec_gain).to(args.device).eval()
    x = torch.from_numpy(batch.ob).to(args.device)
    with torch.no_grad():
        model(x, batch_first=True)  # warm-up
    anchor = min(timed(lambda: model(x, batch_first=True))[1:] for _ in range(3))
    ro = rollout(model, batch, task=args.task)
    states, _ = ro.period_states("delay")
    h0 = initial_states(states, args.k, noise=0.1, seed=0)
    xin = ro.period_input("delay")
    best = None
    for _ in range(args.repeats):
        fps, wall, cpu = timed(lambda: find_fixed_points(model, xin, h0, device=args.device))
        if best is None or wall < best[1]:
            best = (fps, wall, cpu)
    fps, wall, cpu = best
    dev = torch.cuda.get_device_name() if args.device.startswith("cuda") else cpu_name()
    print(f"device: {dev}; torch {torch.__version__}, {args.threads} thread(s)")
    what = (f"checkpoint {args.checkpoint}" if args.checkpoint
            else f"untrained dense, gain {args.rec_gain}")
    print(f"model: N={model.config.hidden_size} {what}")
    print(f"anchor (forward over 256 trials): wall {anchor[0] * 1e3:.1f} ms, "
          f"cpu {anchor[1] * 1e3:.1f} ms")
    n_polished = int((fps.q_final < fps.config.fixed_tol).sum())
    print(f"fixed points from {args.k} initial states: wall {wall:.2f} s, cpu {cpu:.2f} s "
          f"({wall / anchor[0]:.0f}x the anchor); {n_polished}/{args.k} states reached "
          f"q < {fps.config.fixed_tol:g}; {fps.n_fixed} unique {fps.counts()}, "
          f"{len(fps.slow_q)} slow; max q {fps.q.max() if fps.n_fixed else float('nan'):.2e}")
    if args.device == "cpu":
        # on a shared machine wall time counts other processes' load; the CPU clock does not
        print(f"target < 30 s on CPU: wall {'PASS' if wall < 30 else 'FAIL'}, "
              f"cpu {'PASS' if cpu < 30 else 'FAIL'} (load average "
              f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")


if __name__ == "__main__":
    main()
