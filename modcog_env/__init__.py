"""modcog-env: the 20-Cog and Mod-Cog cognitive tasks as Gymnasium environments.

Importing the package registers ``ModCog-<CamelName>-v0`` for all 126 tasks and one id per
collection. It imports numpy and gymnasium only; the env, vector and batch modules load on first
use, and torch, matplotlib and neurogym only in the modules that need them.
"""

from .conventions import CONVENTIONS, Convention, get_convention
from .lazy import lazy_exports
from .tasks import (
    ALL_TASKS,
    BASES,
    COLLECTIONS,
    INT_BASES,
    ModifiedTask,
    Task,
    canonical_name,
    collection,
    family,
    gym_id,
    make_task,
    parse_name,
)
from .tasks.catalog import register_envs
from .trials import Trial, TrialBatch

__version__ = "0.1.0"

register_envs()

# Loaded on first use (PEP 562), so that the import stays cheap: envs, vector env and batches.
_LAZY = {
    "Batches": "batches",
    "Dataset": "batches",
    "loss_weights": "batches",
    "MultiTaskEnv": "env",
    "TaskEnv": "env",
    "SCHEDULES": "scheduler",
    "Schedule": "scheduler",
    "make_schedule": "scheduler",
    "TaskStreams": "streams",
    "stream_seed": "streams",
    "ModCogVectorEnv": "vector",
    "make_vec": "vector",
}


__getattr__, __dir__ = lazy_exports(__name__, _LAZY, globals())


def make(task: str, **kwargs: object):
    """``gymnasium.make`` that also accepts short names and aliases (``make("dlygo")``)."""
    import gymnasium

    return gymnasium.make(gym_id(canonical_name(task)), **kwargs)


__all__ = [
    "ALL_TASKS",
    "Batches",
    "Dataset",
    "ModCogVectorEnv",
    "MultiTaskEnv",
    "SCHEDULES",
    "Schedule",
    "TaskEnv",
    "TaskStreams",
    "loss_weights",
    "make_schedule",
    "make_vec",
    "stream_seed",
    "BASES",
    "COLLECTIONS",
    "CONVENTIONS",
    "INT_BASES",
    "Convention",
    "ModifiedTask",
    "Task",
    "Trial",
    "TrialBatch",
    "canonical_name",
    "collection",
    "family",
    "get_convention",
    "gym_id",
    "make",
    "make_task",
    "register_envs",
    "parse_name",
]
