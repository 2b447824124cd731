"""NeuroGym's yang19 supervised recipe, unchanged, running on our 20-Cog tasks through the bridge.

NeuroGym's recipe: ``ScheduleEnvs`` over the 20 yang19 tasks with ``RandomSchedule`` and
``env_input=True`` (a one-hot of the task appended to the inputs), ``ngym.Dataset`` for batches,
a small recurrent network and cross-entropy on every step. Here the 20 envs are
``modcog_env.neurogym_bridge.NeuroGymTaskEnv`` instead of ``yang19.*-v0``; everything else is
NeuroGym's own code. Needs neurogym and torch (the ``.venv-ngym`` environment)::

    .venv-ngym/bin/python examples/neurogym_pipeline.py   # under 2 minutes on one CPU core
    .venv-ngym/bin/python examples/neurogym_pipeline.py --steps 2000

The loss printed at the end is lower than at the start. See docs/neurogym.md.
"""

from __future__ import annotations

import argparse
import time
import warnings

import neurogym as ngym
import numpy as np
import torch
from neurogym.utils.scheduler import RandomSchedule
from neurogym.wrappers.block import ScheduleEnvs
from torch import nn

from modcog_env import COLLECTIONS
from modcog_env.neurogym_bridge import NeuroGymTaskEnv


class RNNNet(nn.Module):
    """Inputs -> tanh RNN -> linear readout of the 1 + N action classes at every step."""

    def __init__(self, n_input: int, n_hidden: int, n_output: int) -> None:
        super().__init__()
        self.rnn = nn.RNN(n_input, n_hidden)
        self.readout = nn.Linear(n_hidden, n_output)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x [T, B, n_input]
        h, _ = self.rnn(x)
        return self.readout(h)  # [T, B, n_output]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200, help="training steps (default 200)")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--seq-len", type=int, default=100, help="steps per window")
    parser.add_argument("--hidden", type=int, default=64, help="RNN units")
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--seed", type=int, default=0, help="stream numbers / torch seed")
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(args.seed)
    # NeuroGym's wrappers read attributes through gymnasium wrappers, which warns on 0.29
    warnings.filterwarnings("ignore", message=".*get variables from other wrappers")

    # --- NeuroGym's yang19 recipe, with our tasks in place of ngym.make("yang19.<task>-v0")
    envs = [NeuroGymTaskEnv(name) for name in COLLECTIONS["20-cog"]]
    env = ScheduleEnvs(envs, schedule=RandomSchedule(len(envs)), env_input=True)
    # cache_len < seq_len: NeuroGym rounds it up to one window, so every batch is drawn after
    # dataset.seed() (its first cache is filled in the constructor, unseeded; docs/neurogym.md)
    dataset = ngym.Dataset(
        env, batch_size=args.batch_size, seq_len=args.seq_len, cache_len=args.seq_len - 1
    )
    # row i plays stream seed + i of every task; the task order is RandomSchedule's own draw,
    # whose first task after seeding NeuroGym picks before seed() (so runs may differ slightly)
    dataset.seed(args.seed)
    n_input = env.observation_space.shape[0]  # 33 task channels + 20 rule channels
    n_output = env.action_space.n
    print(f"inputs {n_input}, outputs {n_output}, batch {args.batch_size} x {args.seq_len} steps")

    net = RNNNet(n_input, args.hidden, n_output)
    optimizer = torch.optim.Adam(net.parameters(), lr=args.lr)
    criterion = nn.CrossEntropyLoss()

    start = time.time()
    losses = []
    for step in range(args.steps):
        inputs, labels = dataset()  # numpy [T, B, 53] float32 and [T, B] int64
        x = torch.from_numpy(np.array(inputs))
        y = torch.from_numpy(np.array(labels)).long()
        logits = net(x)
        loss = criterion(logits.reshape(-1, n_output), y.reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        if step == 0 or (step + 1) % 100 == 0:
            print(f"step {step + 1:5d}  loss {loss.item():.4f}  ({time.time() - start:.1f} s)")

    k = max(1, min(10, len(losses) // 2))
    first, last = float(np.mean(losses[:k])), float(np.mean(losses[-k:]))
    print(f"loss at start {first:.4f} (mean of first {k} steps)")
    print(f"loss at end   {last:.4f} (mean of last {k} steps)")
    print(f"{len(losses)} steps in {time.time() - start:.1f} s")


if __name__ == "__main__":
    main()
