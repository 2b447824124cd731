"""Quick start: one task as a Gymnasium env, a batch of trials, and a figure.

Run it where modcog-env is installed (e.g. .venv-ngym/bin/python examples/quickstart.py).
The figure goes to outputs/ and needs matplotlib (pip install "modcog-env[plot]").
"""

import gymnasium as gym

import modcog_env  # noqa: F401  (registers the ModCog-*-v0 ids)
from modcog_env import make_task
from modcog_env.plotting import plot_trial

# 1. Play one trial of DelayGo with the oracle policy (the label of the coming step).
env = gym.make("ModCog-DelayGo-v0")
ob, info = env.reset(seed=0)
print("observation", ob.shape, "actions", env.action_space)
terminated = truncated = False
while not (terminated or truncated):
    task_env = env.unwrapped
    action = task_env.trial.label[task_env.t]
    ob, reward, terminated, truncated, info = env.step(action)
    period = task_env.trial.period_at(task_env.t - 1)
    print(f"  step {task_env.t - 1:2d} {period:<9} action {action:2d}  reward {reward:+.1f}")
print("outcome:", info["outcome"], "| performance:", info["performance"])
env.close()

# 2. Trials 0..63 of stream seed 0 of delayed match-to-sample, as one padded TrialBatch.
batch = make_task("dms").sample(seed=0, indices=range(64))
print("ob", batch.ob.shape, "label", batch.label.shape, "length", batch.length.shape)
print("trial lengths", batch.length.min(), "..", batch.length.max(), "steps; periods:",
      " >> ".join(batch.period_names))

# 3. A figure of trial 0 of the batch: inputs, labels, decision mask, periods.
try:
    plot_trial(batch, index=0, path="outputs/quickstart_dms.png")
    print("figure: outputs/quickstart_dms.png")
except ImportError as err:  # matplotlib missing
    print(err)
