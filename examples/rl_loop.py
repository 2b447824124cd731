"""A plain Gymnasium loop over the native vector env, with three fixed policies.

    python examples/rl_loop.py --task dms --num-envs 16 --steps 500 --seed 0

Policies: the oracle (each row's current label, read with ``vec.current_labels()``), always
fixate (action 0) and uniform random. Prints, per policy, the mean reward per step, the mean
return per completed trial and the mean ``performance`` (TASKS.md §7.2; docs/rl.md).

The vector env (``modcog_env.ModCogVectorEnv``) plays ``num_envs`` trial streams as arrays; row
i after ``reset(seed=s)`` plays stream ``s + i``. On gymnasium 1.x ``gym.make_vec(id, num_envs)``
returns it; ``modcog_env.make_vec`` also works on gymnasium 0.29. Autoreset is "next step": the
call after a row's trial ends returns that row's next first observation, with reward 0 and both
flags False, and ignores the row's action.
"""

from __future__ import annotations

import argparse
from typing import Any

import gymnasium as gym
import numpy as np

import modcog_env

TASK = "dms"
NUM_ENVS = 16
STEPS = 500
SEED = 0
POLICIES = ("oracle", "fixate", "random")


def make_vec(env_id: str, num_envs: int):
    """``gym.make_vec`` on gymnasium 1.x (through the registered ``vector_entry_point``)."""
    if int(gym.__version__.split(".")[0]) >= 1:
        return gym.make_vec(env_id, num_envs=num_envs)
    return modcog_env.make_vec(env_id, num_envs=num_envs)


def choose(policy: str, vec, rng: np.random.Generator) -> np.ndarray:
    """Actions int [num_envs] of ``policy``."""
    if policy == "oracle":
        return vec.current_labels()  # the label each row's next action is judged against
    if policy == "fixate":
        return np.zeros(vec.num_envs, dtype=np.int64)
    return rng.integers(vec.single_action_space.n, size=vec.num_envs)


def run(vec, policy: str, steps: int, seed: int) -> dict[str, float]:
    """``steps`` vector steps of ``policy`` from ``reset(seed=seed)``; statistics of the trials
    that ended (each row's unfinished last trial is left out)."""
    rng = np.random.default_rng(seed)
    vec.reset(seed=seed)
    running = np.zeros(vec.num_envs)  # return of each row's current trial
    rewards, returns, performance = [], [], []
    for _ in range(steps):
        _, reward, terminated, truncated, info = vec.step(choose(policy, vec, rng))
        rewards.append(reward)
        running += reward
        ended = info["_performance"]  # the rows whose trial ended on this step
        returns.extend(running[ended])
        performance.extend(info["performance"][ended])
        running[ended] = 0.0
    return {
        "reward_per_step": float(np.mean(rewards)),
        "reward_per_trial": float(np.mean(returns)),
        "performance": float(np.mean(performance)),
        "trials": len(returns),
    }


def main(
    task: str = TASK,
    num_envs: int = NUM_ENVS,
    steps: int = STEPS,
    seed: int = SEED,
    verbose: bool = True,
) -> dict[str, Any]:
    env_id = modcog_env.gym_id(modcog_env.canonical_name(task))
    vec = make_vec(env_id, num_envs)
    out: dict[str, Any] = {"task": env_id}
    if verbose:
        print(f"{env_id}: {num_envs} envs x {steps} steps, seed {seed}")
        print(f"{'policy':<8} {'reward/step':>12} {'reward/trial':>13} {'performance':>12} trials")
    for policy in POLICIES:
        out[policy] = stats = run(vec, policy, steps, seed)
        if verbose:
            print(
                f"{policy:<8} {stats['reward_per_step']:>+12.4f} "
                f"{stats['reward_per_trial']:>+13.3f} {stats['performance']:>12.3f} "
                f"{stats['trials']}"
            )
    vec.close()
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--task", default=TASK, help="short name or gym id")
    parser.add_argument("--num-envs", type=int, default=NUM_ENVS)
    parser.add_argument("--steps", type=int, default=STEPS)
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args()
    main(args.task, args.num_envs, args.steps, args.seed)
