"""How long a training step waits for its batch: synchronous data vs background data.

The consumer stands in for a training step that takes ``--consumer-ms`` (default 5 ms) per step:
``torch`` (default) runs float32 matrix products on one torch thread, calibrated before the race
to take that long (torch releases the GIL, as a real forward/backward does); ``sleep`` sleeps;
``train`` is a real training step on the batch (``--model``, default the LM-RNN, ``--hidden-size``
256: forward, loss, backward, Adam), however long that takes.
Each step takes its batch from :class:`agents.prefetch.BatchSource` over the trainer's stream,
``Batches("20-cog", batch_size=64, seq_len=350)`` (the trainer's default data), as
``Trainer._next_batch`` does on the CPU: ``convert=tensors_of`` (``torch.from_numpy`` of the four
arrays, on the producer thread when there is one). A contender is written
``N[p][i][aK][tM]``: ``N`` batches made ahead (``0``: the synchronous path; ``8`` is one refill
cycle of ``Batches``' default ``prefetch=8``, so a background thread can work through a whole
refill), ``p`` a worker process instead of a thread (batches handed over in shared memory),
``i`` an *instant* producer that hands out one batch made before the round, again and again
(the floor of this measurement: what the hand-off alone costs on this machine),
``aK`` K refills painted ahead on helper threads (``Batches(paint_ahead=K)``; without it,
``Batches``' default), ``tM`` M paint threads (``Batches(paint_threads=M)``). The first
contender is the anchor (default ``0a0``: the synchronous path with each refill painted when it
is needed, as before painting ahead).

Per contender: ms per step (wall), ms per step spent in ``next()`` and the wait share =
wait / step time (target for background data: <= 2%), for the best (lowest-wait) round and as
medians over the rounds. Rounds are interleaved, ``--repeats`` of them, each of ``--steps``
steps after ``--warmup`` steps.
numpy and torch run on one thread.

    .venv-ngym/bin/python benchmarks/bench_prefetch.py [--consumer torch|sleep] [--steps 100]
"""

from __future__ import annotations

import argparse
import inspect
import re
import statistics
import sys
import time
from collections.abc import Callable, Sequence

# first: sets the numeric libraries to one thread before numpy/torch load, puts the repo on the path
from bench_tasks import load_average, machine_info, text_table

# isort: split
import torch

from agents.prefetch import BatchSource, batch_arrays, tensors_of
from modcog_env import Batches

torch.set_num_threads(1)
WAIT_TARGET = 0.02  # issue 13: the trainer waits for data <= 2% of the step time


def torch_consumer(ms: float) -> Callable[[], None]:
    """A function that takes about ``ms`` milliseconds of one-thread torch compute."""
    a = torch.randn(256, 256)
    b = torch.randn(256, 256)

    def work(n: int) -> None:
        c = a
        for _ in range(n):
            c = torch.tanh(c @ b) * 0.5

    work(20)
    t0 = time.perf_counter()
    work(200)
    per = (time.perf_counter() - t0) / 200
    n = max(1, round(ms / 1000 / per))
    return lambda: work(n)


def sleep_consumer(ms: float) -> Callable[[], None]:
    return lambda: time.sleep(ms / 1000)


def train_consumer(args: argparse.Namespace) -> Callable[[tuple], None]:
    """A real training step on the batch: the trainer's model (``--model``, ``--hidden-size``),
    forward, its loss, backward and an Adam step, on one torch thread (``--consumer-ms`` is
    not used: the step takes what it takes)."""
    from agents.losses import loss_fn
    from agents.models import build_model
    from agents.train_config import TrainConfig

    cfg = TrainConfig(model=args.model, hidden_size=args.hidden_size, tasks=args.tasks,
                      batch_size=args.batch_size, seq_len=args.seq_len)
    data = Batches(args.tasks, batch_size=args.batch_size, seq_len=args.seq_len)
    torch.manual_seed(0)
    model = build_model(cfg.model_config(data.ob_size, data.n_actions))
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr)

    def step(batch: tuple) -> None:
        x, y, w, dec = batch
        loss = loss_fn(cfg.loss, model(x), y, w, dec, cfg.label_smoothing)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return step


DEFAULT_PAINT_AHEAD = inspect.signature(Batches).parameters["paint_ahead"].default
SPEC = re.compile(r"(\d+)(p?)(i?)(?:a(\d+))?(?:t(\d+))?")


def parse_producer(spec: str) -> tuple[int, bool, int, int, bool]:
    """(ahead, worker process?, paint threads, refills painted ahead, instant?) of a contender:
    ``"8"`` -> (8, thread, 1, Batches' default, False), ``"8p"`` -> (8, worker process, 1,
    default, False), ``"8a0"`` -> (8, thread, 1, 0: ``Batches(paint_ahead=0)``, False),
    ``"0a2t2"`` -> (0, -, 2, 2, False), ``"8i"`` -> (8, thread, 1, default, True)."""
    match = SPEC.fullmatch(spec)
    if match is None:
        raise ValueError(f"--ahead entry {spec!r} is not of the form N[p][i][aK][tM] (e.g. 8, "
                         "8p, 8i, 8a0, 8a2t2)")
    ahead, process, instant, painted_ahead, threads = match.groups()
    painted = DEFAULT_PAINT_AHEAD if painted_ahead is None else int(painted_ahead)
    return int(ahead), bool(process), int(threads or 1), painted, bool(instant)


def producer_name(spec: str) -> str:
    ahead, process, threads, painted, instant = parse_producer(spec)
    if instant:
        painters = ", instant producer"
    else:
        painters = f", {threads} paint threads" if threads > 1 else ""
        painters += f", paint_ahead={painted}"
    if not ahead:
        return f"synchronous (ahead=0{painters})"
    return f"{'worker process' if process else 'thread'} (ahead={ahead}{painters})"


class InstantBatches:
    """Stands in for ``Batches`` in stream mode: every window is the one ``window`` given (made
    before the round), so its producer does no work; ``mark()`` is None."""

    mode, targets = "stream", "classification"

    def __init__(self, window: object) -> None:
        self.window = window

    def next_window(self) -> object:
        return self.window

    def mark(self) -> None:
        return None


def one_round(spec: str, consume: Callable[[tuple], None], steps: int, warmup: int, seed: int,
              args: argparse.Namespace) -> tuple[float, float]:
    """(ms per step, ms waited per step) over ``steps`` steps after ``warmup`` steps."""
    ahead, process, threads, paint_ahead, instant = parse_producer(spec)
    batches = Batches(args.tasks, batch_size=args.batch_size, seq_len=args.seq_len, seed=seed,
                      paint_threads=threads, paint_ahead=paint_ahead)
    if instant:
        batches = InstantBatches(batches.next_window())
    source = BatchSource(batches, ahead, process=process, convert=tensors_of)
    try:
        for _ in range(warmup):
            consume(source.next())
        wait = 0.0
        t0 = time.perf_counter()
        for _ in range(steps):
            w0 = time.perf_counter()
            batch = source.next()
            wait += time.perf_counter() - w0
            consume(batch)
        total = time.perf_counter() - t0
    finally:
        source.close()
    return 1000 * total / steps, 1000 * wait / steps


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tasks", default="20-cog", help="collection or task (default 20-cog)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--seq-len", type=int, default=350)
    p.add_argument("--consumer", choices=("torch", "sleep", "train"), default="torch",
                   help="torch: calibrated matrix products; sleep; train: a real training step")
    p.add_argument("--consumer-ms", type=float, default=5.0,
                   help="ms per consumer step (torch, sleep)")
    p.add_argument("--model", default="lm-rnn", help="--consumer train: model (default lm-rnn)")
    p.add_argument("--hidden-size", type=int, default=256, help="--consumer train: N (256)")
    p.add_argument("--steps", type=int, default=100, help="timed steps per round")
    p.add_argument("--warmup", type=int, default=60,
                   help="untimed steps per round (enough for the pool of blocks to fill)")
    p.add_argument("--repeats", type=int, default=3, help="interleaved rounds (best kept)")
    p.add_argument("--ahead", default="0a0,0i,8i,8a1,8a2,24a2,24p",
                   help="contenders N[p][i][aK][tM]: N batches made ahead, p: in a worker "
                        "process, i: an instant producer (the floor), aK: Batches(paint_ahead=K), "
                        "tM: Batches(paint_threads=M); the first is the anchor (the trainer's "
                        "default: 24a2 for a model on the CPU, 8a2 on another device)")
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    aheads = args.ahead.split(",")
    if args.consumer == "train":
        consume = train_consumer(args)
        probe = tuple(torch.from_numpy(a) for a in batch_arrays(Batches(
            args.tasks, batch_size=args.batch_size, seq_len=args.seq_len, seed=args.seed)))
        calls = 5
    else:
        work = (torch_consumer if args.consumer == "torch" else sleep_consumer)(args.consumer_ms)
        consume, probe, calls = (lambda batch: work()), (), 20
    consume(probe)
    t0 = time.perf_counter()
    for _ in range(calls):
        consume(probe)
    consumer_ms = 1000 * (time.perf_counter() - t0) / calls
    print(f"machine: {machine_info()}")
    print(f"at start: {load_average()}")
    print(f"data: Batches({args.tasks!r}, batch_size={args.batch_size}, seq_len={args.seq_len}); "
          f"consumer: {args.consumer}, {consumer_ms:.2f} ms per step measured alone; "
          f"{args.steps} steps per round, best of {args.repeats} interleaved rounds")
    rounds: dict[str, list[tuple[float, float]]] = {a: [] for a in aheads}
    for rep in range(args.repeats):
        for a in aheads:
            rounds[a].append(one_round(a, consume, args.steps, args.warmup, args.seed + rep,
                                       args))
    best = {a: min(r, key=lambda x: x[1]) for a, r in rounds.items()}  # lowest wait
    anchor = best[aheads[0]][0]
    rows = []
    for a in aheads:
        step_ms, wait_ms = best[a]
        share = wait_ms / step_ms
        median_step = statistics.median(x[0] for x in rounds[a])
        median_share = statistics.median(x[1] / x[0] for x in rounds[a])
        status = ("anchor" if a == aheads[0] else "PASS" if share <= WAIT_TARGET else "MISS")
        rows.append([producer_name(a),
                     f"{step_ms:.2f}", f"{wait_ms:.2f}", f"{100 * share:.1f}%",
                     f"{anchor / step_ms:.2f}x", f"{median_step:.2f}",
                     f"{100 * median_share:.1f}%", f"<= {100 * WAIT_TARGET:g}%", status])
    print()
    print(text_table(["data path", "ms/step", "wait ms/step", "wait share", "speed-up vs sync",
                      "median ms/step", "median wait share", "target", "status"], rows))
    if any(parse_producer(a)[2] > 1 for a in aheads):
        import numba

        print(f"paint threads: numba threading layer {numba.threading_layer()!r}")
    print(f"\nat end: {load_average()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
