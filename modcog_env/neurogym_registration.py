"""NeuroGym-side ids: ``ModCogNgym-<CamelName>-v0`` for every task, one per collection.

Importing :mod:`modcog_env.neurogym_bridge` registers them (with Gymnasium's registry, which is
the one ``ngym.make`` reads), so a NeuroGym user writes what they write for a native env:

============================================  ===================================================
call                                          gives
============================================  ===================================================
``ngym.make("ModCogNgym-DelayGo-v0", dt=20)``  ``NeuroGymTaskEnv("dlygo", dt=20)`` under
                                              ``OrderEnforcing`` (``str``: ``<OrderEnforcing<
                                              NeuroGymTaskEnv>>``)
``ngym.Dataset("ModCogNgym-DMS-v0",            one such env per batch row, each made by
env_kwargs={"dt": 20}, ...)``                  ``ngym.make``
``ngym.make("ModCogNgym-20Cog-v0")``           ``schedule_envs("20-cog")``: NeuroGym's
                                              ``ScheduleEnvs`` over the 20 bridged tasks, with the
                                              task one-hot
============================================  ===================================================

The camel names are the suite's own (``ModCog-DelayGo-v0`` is the Gymnasium :class:`TaskEnv`,
``ModCogNgym-DelayGo-v0`` its NeuroGym ``TrialEnv``). Entry points are the bridge's callables
rather than ``"module:attr"`` strings: the suite's tests and tools read the ``modcog_env.`` string
entry points as "the ``ModCog-*`` Gymnasium envs", which these are not. Ids already registered
are skipped, so re-importing does not warn. Collections: ``ModCogNgym-20Cog-v0``,
``ModCogNgym-ModCog82-v0``, ``ModCogNgym-ModCog126-v0``.
"""

from __future__ import annotations

from collections.abc import Callable

import gymnasium as gym

from .tasks.catalog import ALL_TASKS, COLLECTION_IDS, ID_PREFIX, camel_name

NEUROGYM_ID_PREFIX = "ModCogNgym-"
ID_SUFFIX = "-v0"


def neurogym_id(name: str) -> str:
    """NeuroGym-side id ``ModCogNgym-<Camel>-v0`` of a task's short name or alias."""
    return f"{NEUROGYM_ID_PREFIX}{camel_name(name)}{ID_SUFFIX}"


def neurogym_collection_id(key: str) -> str:
    """NeuroGym-side id of a collection key, e.g. ``"20-cog"`` -> ``ModCogNgym-20Cog-v0``."""
    return NEUROGYM_ID_PREFIX + COLLECTION_IDS[key][len(ID_PREFIX) :]


def as_suite_name(task: object) -> object:
    """``ModCogNgym-<Camel>-v0`` -> ``ModCog-<Camel>-v0`` (anything else unchanged), so every
    builder of the suite accepts the NeuroGym-side ids too."""
    if isinstance(task, str) and task.startswith(NEUROGYM_ID_PREFIX):
        return ID_PREFIX + task[len(NEUROGYM_ID_PREFIX) :]
    return task


def register_neurogym_envs(
    task_env: Callable[..., gym.Env], schedule: Callable[..., object]
) -> None:
    """Register every task id with ``task_env`` (``kwargs={"task": name}``) and every collection
    id with ``schedule`` (``kwargs={"tasks": key}``); ids already present are skipped."""
    for name in ALL_TASKS:
        env_id = neurogym_id(name)
        if env_id not in gym.registry:
            gym.register(id=env_id, entry_point=task_env, kwargs={"task": name})
    for key in COLLECTION_IDS:
        env_id = neurogym_collection_id(key)
        if env_id not in gym.registry:
            gym.register(id=env_id, entry_point=schedule, kwargs={"tasks": key})
