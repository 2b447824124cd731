"""Helpers shared by the test files: the registry walk, the oracle policy, rollouts, and the
comparison of saved stream states.

Modelled on Gymnasium's ``tests/envs/utils.py`` and MiniGrid's ``tests/utils.py``: the specs under
test are read from the Gymnasium registry (entry point prefix ``modcog_env.``), not from the
package's own catalogue, so a task that is catalogued but not registered is noticed.
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np

import modcog_env  # noqa: F401  (registers the ModCog-* ids)

ENTRY_POINT_PREFIX = "modcog_env."

# Modifier kind of a short name: the part after the base (TASKS.md §5 grammar).
_KIND_RE = re.compile(r"(int[rl])?(seq[rl])?$")
FAMILY_BASES = {  # TASKS.md §3
    "go": ("go", "rtgo", "dlygo", "anti", "rtanti", "dlyanti"),
    "dm": (
        "dm1", "dm2", "ctxdm1", "ctxdm2", "multidm",
        "dlydm1", "dlydm2", "ctxdlydm1", "ctxdlydm2", "multidlydm",
    ),
    "match": ("dms", "dnms", "dmc", "dnmc"),
}
BASE_NAMES = tuple(b for bases in FAMILY_BASES.values() for b in bases)


def all_specs() -> list[gym.envs.registration.EnvSpec]:
    """Registered specs whose (string) entry point lies in ``modcog_env``, sorted by id."""
    specs = [
        spec
        for spec in gym.registry.values()
        if isinstance(spec.entry_point, str) and spec.entry_point.startswith(ENTRY_POINT_PREFIX)
    ]
    return sorted(specs, key=lambda spec: spec.id)


def task_specs() -> list[gym.envs.registration.EnvSpec]:
    """The single-task specs (kwargs ``{"task": short name}``), sorted by id: 126 of them."""
    return [spec for spec in all_specs() if "task" in spec.kwargs]


def all_ids() -> list[str]:
    """Every ``modcog_env`` id: the 126 single tasks and the multitask collections."""
    return [spec.id for spec in all_specs()]


def task_ids() -> list[str]:
    return [spec.id for spec in task_specs()]


def id_of(task_name: str) -> str:
    """The registered id whose kwargs carry the short name ``task_name``."""
    return next(spec.id for spec in task_specs() if spec.kwargs["task"] == task_name)


def short_name(spec_id: str) -> str:
    """The short task name a registered id carries in its kwargs."""
    return gym.spec(spec_id).kwargs["task"]


def split_name(name: str) -> tuple[str, str]:
    """(base, modifier kind) of a short name: ``dmsintrseql`` -> (``dms``, ``intrseql``)."""
    for base in sorted(BASE_NAMES, key=len, reverse=True):
        if name.startswith(base) and _KIND_RE.fullmatch(name[len(base):]):
            return base, name[len(base):] or "plain"
    raise ValueError(f"{name!r} is not a task name")


def family_of(name: str) -> str:
    base = split_name(name)[0]
    return next(f for f, bases in FAMILY_BASES.items() if base in bases)


def representative_ids() -> list[str]:
    """The default subset for slow checks: every base, plus the first registered task of each
    (family, modifier kind) pair, e.g. (go, seqr), (dm, intlseql), (match, intr). Deterministic."""
    chosen: dict[tuple[str, str], str] = {}
    bases = []
    for spec in task_specs():
        name = spec.kwargs["task"]
        base, kind = split_name(name)
        if kind == "plain":
            bases.append(spec.id)
        chosen.setdefault((family_of(name), kind), spec.id)
    return sorted(set(bases) | set(chosen.values()))


# ------------------------------------------------------------------------------ policies
Policy = Callable[[gym.Env], int]


def oracle_action(env: gym.Env) -> int:
    """The label of the coming step: the oracle policy of TASKS.md §7."""
    inner = env.unwrapped
    return int(inner.trial.label[inner.t])


def fixate_action(env: gym.Env) -> int:
    return 0


def is_go_trial(trial: Any) -> bool:
    """TASKS.md §1: a go trial has a non-zero label in its decision period."""
    return bool(np.any(trial.label != 0))


def play_trial(env: gym.Env, policy: Policy) -> tuple[list[float], dict[str, Any], int]:
    """Step the current trial of a reset env to its end (``terminated`` or ``new_trial``).

    Returns the rewards of each step, the info of the last step and the number of steps taken.
    """
    rewards: list[float] = []
    limit = env.unwrapped.trial.length
    for n in range(1, limit + 1):
        _, reward, terminated, truncated, info = env.step(policy(env))
        rewards.append(reward)
        assert not truncated
        if terminated or info["new_trial"]:
            return rewards, info, n
    raise AssertionError(f"trial did not end within its {limit} steps")


def rollout(
    env: gym.Env, seed: int, n_steps: int, action_seed: int = 0
) -> list[tuple[np.ndarray, float, bool, bool, dict[str, Any], int]]:
    """``n_steps`` random actions (seeded action space) from ``reset(seed=seed)``; after a
    terminated step the env is reset without a seed. Records (obs, reward, terminated,
    truncated, info, action) per step, plus the reset observation as the first record."""
    obs, info = env.reset(seed=seed)
    env.action_space.seed(action_seed)
    records = [(obs, 0.0, False, False, info, -1)]
    for _ in range(n_steps):
        action = int(env.action_space.sample())
        obs, reward, terminated, truncated, info = env.step(action)
        records.append((obs, reward, terminated, truncated, info, action))
        if terminated or truncated:
            obs, info = env.reset()
            records.append((obs, 0.0, False, False, info, -1))
    return records


# check_env warnings that are expected, as exact message text (ANSI colour and "WARN: " removed).
CHECK_ENV_ALLOWED_WARNINGS = {
    # Observations carry Gaussian noise (TASKS.md §1 "noise"), so the Box is (-inf, inf).
    "A Box observation space minimum value is -infinity. This is probably too low.",
    # Same reason, upper bound.
    "A Box observation space maximum value is infinity. This is probably too high.",
    # Same warning as gymnasium 0.29 words it (its message has a stray minus sign).
    "A Box observation space maximum value is -infinity. This is probably too high.",
}
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def warning_text(w: warnings.WarningMessage) -> str:
    """A caught warning's message without ANSI colour codes and gymnasium's "WARN: " prefix."""
    text = _ANSI.sub("", str(w.message)).strip()
    return text[len("WARN: ") :] if text.startswith("WARN: ") else text


def unexpected_warnings(caught: list[warnings.WarningMessage]) -> list[str]:
    """Messages of caught warnings that are not in CHECK_ENV_ALLOWED_WARNINGS."""
    return [warning_text(w) for w in caught if warning_text(w) not in CHECK_ENV_ALLOWED_WARNINGS]


def assert_rate(hits: int, n: int, p: float, k: float = 5.0) -> None:
    """The observed rate hits/n is within k binomial standard errors of p."""
    se = math.sqrt(p * (1 - p) / n)
    assert abs(hits / n - p) <= k * se + 1e-12, f"{hits}/{n} = {hits / n:.4f}, expected {p:.4f}"


def assert_modality_use(m, convention: str) -> None:
    """TASKS.md §8.2 on consecutive trials' modalities m (int array of 1/2): P(m=1) = 1/2;
    P(same as the previous trial) 1/2 under modcog, 0 under reference (strict alternation, h1)."""
    n = len(m)
    assert set(np.unique(m)) <= {1, 2}
    assert_rate(int(np.sum(m == 1)), n, 0.5)
    same = int(np.sum(m[1:] == m[:-1]))
    if convention == "modcog":
        assert_rate(same, n - 1, 0.5)
    else:
        assert same == 0


def same_state(a: dict, b: dict) -> bool:
    """Two ``Batches.state_dict``s (ints and int arrays) hold the same keys and values."""
    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)
