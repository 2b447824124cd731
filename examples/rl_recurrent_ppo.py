"""Train sb3-contrib's RecurrentPPO (an LSTM policy) on one Mod-Cog task, on CPU.

Prints the mean performance (``info["performance"]`` at each trial end, TASKS.md §7.2) of the
policy before and after training, next to the random policy's. Needs the ``rl`` extra
(``pip install "modcog-env[rl]"``: stable-baselines3 and sb3-contrib).

    python examples/rl_recurrent_ppo.py --task rtgo --timesteps 150000 --seed 0

Each episode is one trial (the env's default), so the LSTM state starts afresh on every trial.
The default task, rtgo ("react go"), shows the target during the response period; the agent must
hold fixation (action 0) while the fixation input is on, then respond toward the stimulus.
Tasks with a memory period (go, dlygo, ...) need many more timesteps.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import gymnasium as gym
import numpy as np

import modcog_env

# --------------------------------------------------------------------------- settings
TASK = "rtgo"  # short name or gym id (modcog_env.canonical_name accepts both)
TIMESTEPS = 150_000  # environment steps of training (about 2-3 CPU minutes)
SEED = 0  # seeds the policy, the training envs and the evaluation stream
N_ENVS = 8  # parallel training envs (stable-baselines3 DummyVecEnv)
EVAL_TRIALS = 300  # trials played to measure performance, before and after training
PPO_KWARGS: dict[str, Any] = {  # RecurrentPPO hyperparameters, small and fast on a CPU
    "n_steps": 128,  # per env and update: 8 x 128 = 1024 steps, about 100 trials
    "batch_size": 256,
    "n_epochs": 4,
    "learning_rate": 1e-3,
    "gamma": 0.95,  # a trial lasts 10-35 steps; the reward comes at its end
    "ent_coef": 0.01,
    "policy_kwargs": {"lstm_hidden_size": 64, "net_arch": {"pi": [64], "vf": [64]}},
}


def evaluate(policy, env_id: str, n_trials: int, seed: int) -> dict[str, float]:
    """Mean performance and mean reward per trial of ``policy`` over ``n_trials`` trials.

    ``policy`` is ``"random"`` (uniform actions) or a RecurrentPPO model, played greedily with its
    LSTM state reset at the start of every trial (episode).
    """
    env = gym.make(env_id)
    rng = np.random.default_rng(seed)
    performance, returns = [], []
    for k in range(n_trials):
        ob, _ = env.reset(seed=seed) if k == 0 else env.reset()  # trial k of stream `seed`
        state, start, total, done = None, np.ones((1,), dtype=bool), 0.0, False
        while not done:
            if policy == "random":
                action = int(rng.integers(env.action_space.n))
            else:
                act, state = policy.predict(
                    ob[None], state=state, episode_start=start, deterministic=True
                )
                action, start = int(act[0]), np.zeros((1,), dtype=bool)
            ob, reward, done, truncated, info = env.step(action)
            total += reward
            done = done or truncated
        performance.append(info["performance"])
        returns.append(total)
    env.close()
    return {"performance": float(np.mean(performance)), "reward": float(np.mean(returns))}


def main(
    task: str = TASK,
    timesteps: int = TIMESTEPS,
    seed: int = SEED,
    eval_trials: int = EVAL_TRIALS,
    verbose: bool = True,
    n_envs: int = N_ENVS,
    **ppo_overrides: Any,
) -> dict[str, Any]:
    """Train, evaluate, print; return the numbers (``random``, ``before``, ``after`` dicts).

    ``ppo_overrides`` replace entries of ``PPO_KWARGS`` (e.g. ``n_steps=32`` for a smoke run).
    """
    import torch
    from sb3_contrib import RecurrentPPO
    from stable_baselines3.common.env_util import make_vec_env

    torch.set_num_threads(1)
    env_id = modcog_env.gym_id(modcog_env.canonical_name(task))
    say = print if verbose else (lambda *a, **k: None)
    say(f"task {env_id} | timesteps {timesteps} | seed {seed} | {n_envs} envs")

    venv = make_vec_env(env_id, n_envs=n_envs, seed=seed)
    kwargs = {**PPO_KWARGS, **ppo_overrides}
    model = RecurrentPPO("MlpLstmPolicy", venv, seed=seed, verbose=0, device="cpu", **kwargs)
    eval_seed = seed + 10_000  # a stream the training envs (seed .. seed + n_envs - 1) never see
    out: dict[str, Any] = {"task": env_id, "timesteps": timesteps, "seed": seed}
    out["random"] = evaluate("random", env_id, eval_trials, eval_seed)
    out["before"] = evaluate(model, env_id, eval_trials, eval_seed)
    say(f"random policy    : performance {out['random']['performance']:.3f}, "
        f"reward/trial {out['random']['reward']:+.3f}")
    say(f"before training  : performance {out['before']['performance']:.3f}, "
        f"reward/trial {out['before']['reward']:+.3f}")
    start = time.perf_counter()
    model.learn(total_timesteps=timesteps)
    out["train_seconds"] = time.perf_counter() - start
    out["after"] = evaluate(model, env_id, eval_trials, eval_seed)
    say(f"after training   : performance {out['after']['performance']:.3f}, "
        f"reward/trial {out['after']['reward']:+.3f} ({out['train_seconds']:.0f} s of training)")
    venv.close()
    return out


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--task", default=TASK, help=f"short name or gym id (default {TASK})")
    parser.add_argument("--timesteps", type=int, default=TIMESTEPS, help="training env steps")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--eval-trials", type=int, default=EVAL_TRIALS)
    return parser.parse_args(argv)


if __name__ == "__main__":
    args = parse_args()
    main(args.task, args.timesteps, args.seed, args.eval_trials)
