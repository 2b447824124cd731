"""Train a small dense RNN on dlygo for a few hundred steps, then analyse its delay dynamics.

Runs in a few minutes on a laptop CPU::

    python examples/analyze_model.py [--steps 400] [--out runs/analyze_example]

Prints the fixed points under the delay input, their stability, and the ring diagnostics
(decoded-angle drift), and writes the figures next to the checkpoint.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from agents import TrainConfig, train
from agents.analysis import analyze_checkpoint, format_summary, write_figures


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=400)
    p.add_argument("--out", default="runs/analyze_example")
    args = p.parse_args()
    torch.set_num_threads(1)
    train(TrainConfig(tasks=["dlygo"], model="dense", hidden_size=64, steps=args.steps,
                      batch_size=32, seq_len=100, lr=3e-3, eval_interval=0, eval_trials=100,
                      out_dir=args.out, progress=False))
    ckpt = Path(args.out) / "ckpt.pt"
    analysis = analyze_checkpoint(ckpt, "dlygo", n_trials=128, n_init=256)
    print(format_summary(analysis.summary))
    for path in write_figures(analysis, Path(args.out) / "analysis"):
        print("wrote", path)


if __name__ == "__main__":
    main()
